#include "support/sample_models.h"

#include <random>

namespace edgeclr::testing {
namespace {

constexpr uint32_t C = kSampleChannels;
constexpr uint32_t kHalf = kSampleSide / 2;

std::vector<float> random_floats(std::mt19937& rng, size_t n, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<int8_t> random_int8(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = static_cast<int8_t>(dist(rng));
  return v;
}

std::vector<int32_t> random_int32(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int32_t> dist(-1000, 1000);
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = dist(rng);
  return v;
}

schema::OpOptionsUnion conv_options(uint32_t kernel, uint32_t stride, uint32_t pad, uint32_t groups,
                                    schema::Activation act) {
  schema::Conv2DOptionsT o;
  o.kernel_h = o.kernel_w = kernel;
  o.stride_h = o.stride_w = stride;
  o.pad_top = o.pad_bottom = o.pad_left = o.pad_right = pad;
  o.groups = groups;
  o.activation = act;
  return op_options(schema::OpOptions_Conv2DOptions, std::move(o));
}

schema::OpOptionsUnion reshape_to(std::vector<uint32_t> shape) {
  schema::ReshapeOptionsT o;
  o.new_shape = std::move(shape);
  return op_options(schema::OpOptions_ReshapeOptions, std::move(o));
}

void add_head(ModelBuilder& b, std::mt19937& rng) {
  b.add_head_layer(C, kSampleHidden, random_floats(rng, C * kSampleHidden, 0.5f),
                   random_floats(rng, kSampleHidden, 0.1f), schema::Activation_RELU);
  b.add_head_layer(kSampleHidden, kSampleEmbedding, random_floats(rng, kSampleHidden * kSampleEmbedding, 0.5f),
                   random_floats(rng, kSampleEmbedding, 0.1f));
  b.set_embedding(kSampleEmbedding, true);
}

QuantParams per_tensor(float scale, int32_t zero_point) { return QuantParams{{scale}, {zero_point}, -1}; }

QuantParams per_channel(std::mt19937& rng, uint32_t channels, float base) {
  QuantParams q;
  std::uniform_real_distribution<float> dist(0.5f, 1.5f);
  for (uint32_t c = 0; c < channels; ++c) {
    q.scale.push_back(base * dist(rng));
    q.zero_point.push_back(0);
  }
  q.axis = 0;
  return q;
}

// Adds an int8 conv whose bias scale is input scale x weight scale, as int8 kernels need.
void add_int8_conv(ModelBuilder& b, std::mt19937& rng, const std::string& name, uint32_t in, uint32_t out,
                   float in_scale, std::vector<uint32_t> weight_shape, schema::OpOptionsUnion options) {
  const uint32_t out_c = weight_shape[0];
  size_t count = 1;
  for (uint32_t d : weight_shape) count *= d;
  const QuantParams wq = per_channel(rng, out_c, 0.02f);
  const auto weights = random_int8(rng, count);
  const uint32_t w = b.add_constant(name + ".weight", weight_shape, schema::DType_INT8, weights.data(), count, wq);
  QuantParams bq;
  for (float s : wq.scale) {
    bq.scale.push_back(in_scale * s);
    bq.zero_point.push_back(0);
  }
  bq.axis = 0;
  const auto bias = random_int32(rng, out_c);
  const uint32_t bias_t =
      b.add_constant(name + ".bias", {out_c}, schema::DType_INT32, bias.data(), out_c * sizeof(int32_t), bq);
  b.add_operator(name, std::move(options), {in, w, bias_t}, {out});
}

}  // namespace

ModelBuilder sample_fp32_builder(uint32_t seed) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  b.set_input(kSampleSide, kSampleSide, 3, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f});
  b.set_provenance("edgeclr tests", "sample_fp32");
  b.add_metadata("purpose", "unit tests");
  const uint32_t input = b.add_activation("input", {1, kSampleSide, kSampleSide, 3});
  const uint32_t stem_w = b.add_constant_fp32("stem.weight", {C, 3, 3, 3}, random_floats(rng, C * 27, 0.3f));
  const uint32_t stem_b = b.add_constant_fp32("stem.bias", {C}, random_floats(rng, C, 0.1f));
  const uint32_t stem = b.add_activation("stem", {1, kHalf, kHalf, C});
  b.add_operator("stem", conv_options(3, 2, 1, 1, schema::Activation_RELU6), {input, stem_w, stem_b}, {stem});
  const uint32_t dw_w = b.add_constant_fp32("dw.weight", {C, 3, 3, 1}, random_floats(rng, C * 9, 0.3f));
  const uint32_t dw_b = b.add_constant_fp32("dw.bias", {C}, random_floats(rng, C, 0.1f));
  const uint32_t dw = b.add_activation("dw", {1, kHalf, kHalf, C});
  b.add_operator("dw", conv_options(3, 1, 1, C, schema::Activation_NONE), {stem, dw_w, dw_b}, {dw});
  const uint32_t hs = b.add_activation("hardswish", {1, kHalf, kHalf, C});
  b.add_operator("hardswish", op_options(schema::OpOptions_HardSwishOptions, schema::HardSwishOptionsT{}), {dw}, {hs});
  const uint32_t pw_w = b.add_constant_fp32("pw.weight", {C, 1, 1, C}, random_floats(rng, C * C, 0.3f));
  const uint32_t pw_b = b.add_constant_fp32("pw.bias", {C}, random_floats(rng, C, 0.1f));
  const uint32_t pw = b.add_activation("pw", {1, kHalf, kHalf, C});
  b.add_operator("pw", conv_options(1, 1, 0, 1, schema::Activation_NONE), {hs, pw_w, pw_b}, {pw});
  const uint32_t sum = b.add_activation("residual", {1, kHalf, kHalf, C});
  b.add_operator("residual", op_options(schema::OpOptions_AddOptions, schema::AddOptionsT{}), {stem, pw}, {sum});
  const uint32_t pooled = b.add_activation("pool", {1, 1, 1, C});
  b.add_operator("pool", op_options(schema::OpOptions_GlobalAveragePoolOptions, schema::GlobalAveragePoolOptionsT{}), {sum}, {pooled});
  const uint32_t feature = b.add_activation("feature", {1, C});
  b.add_operator("flatten", reshape_to({1, C}), {pooled}, {feature});
  b.set_graph(input, feature);
  add_head(b, rng);
  return b;
}

ModelBuilder sample_int8_builder(uint32_t seed) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  b.set_input(kSampleSide, kSampleSide, 3, {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f});
  b.set_provenance("edgeclr tests", "sample_int8");
  const float in_scale = 0.03f;
  const float act_scale = 0.05f;
  const uint32_t input = b.add_activation("input", {1, kSampleSide, kSampleSide, 3});
  const uint32_t q_in = b.add_activation("input_q", {1, kSampleSide, kSampleSide, 3}, schema::DType_INT8,
                                         per_tensor(in_scale, 3));
  b.add_operator("quantize", op_options(schema::OpOptions_QuantizeOptions, schema::QuantizeOptionsT{}), {input}, {q_in});
  const uint32_t stem = b.add_activation("stem", {1, kHalf, kHalf, C}, schema::DType_INT8, per_tensor(act_scale, -128));
  add_int8_conv(b, rng, "stem", q_in, stem, in_scale, {C, 3, 3, 3}, conv_options(3, 2, 1, 1, schema::Activation_RELU6));
  const uint32_t dw = b.add_activation("dw", {1, kHalf, kHalf, C}, schema::DType_INT8, per_tensor(act_scale, 0));
  add_int8_conv(b, rng, "dw", stem, dw, act_scale, {C, 3, 3, 1}, conv_options(3, 1, 1, C, schema::Activation_NONE));
  const uint32_t pw = b.add_activation("pw", {1, kHalf, kHalf, C}, schema::DType_INT8, per_tensor(act_scale, 0));
  add_int8_conv(b, rng, "pw", dw, pw, act_scale, {C, 1, 1, C}, conv_options(1, 1, 0, 1, schema::Activation_NONE));
  const uint32_t sum = b.add_activation("residual", {1, kHalf, kHalf, C}, schema::DType_INT8, per_tensor(0.08f, -10));
  b.add_operator("residual", op_options(schema::OpOptions_AddOptions, schema::AddOptionsT{}), {stem, pw}, {sum});
  const uint32_t pooled = b.add_activation("pool", {1, 1, 1, C}, schema::DType_INT8, per_tensor(0.08f, -10));
  b.add_operator("pool", op_options(schema::OpOptions_GlobalAveragePoolOptions, schema::GlobalAveragePoolOptionsT{}), {sum}, {pooled});
  const uint32_t pooled_f = b.add_activation("pool_f", {1, 1, 1, C});
  b.add_operator("dequantize", op_options(schema::OpOptions_DequantizeOptions, schema::DequantizeOptionsT{}), {pooled}, {pooled_f});
  const uint32_t feature = b.add_activation("feature", {1, C});
  b.add_operator("flatten", reshape_to({1, C}), {pooled_f}, {feature});
  b.set_graph(input, feature);
  add_head(b, rng);
  return b;
}

ModelBuilder sample_transformer_builder(uint32_t seed) {
  std::mt19937 rng(seed + 300);
  ModelBuilder b;
  b.set_input(kSampleSide, kSampleSide, 3, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f});
  b.set_provenance("edgeclr tests", "sample transformer");
  constexpr uint32_t T = 16, H = 2, D = C / H;
  using Dims = std::vector<uint32_t>;
  const auto act = [&](const char* name, Dims shape) { return b.add_activation(name, std::move(shape)); };
  const auto fc = [&](const char* name, uint32_t in, uint32_t in_f, uint32_t out_f, Dims out_shape) {
    const uint32_t w = b.add_constant_fp32(std::string(name) + ".w", {out_f, in_f}, random_floats(rng, out_f * in_f, 0.5f));
    const uint32_t bias = b.add_constant_fp32(std::string(name) + ".b", {out_f}, random_floats(rng, out_f, 0.1f));
    const uint32_t out = act(name, std::move(out_shape));
    b.add_operator(name, op_options(schema::OpOptions_FullyConnectedOptions, schema::FullyConnectedOptionsT{}),
                   {in, w, bias}, {out});
    return out;
  };
  const auto slice = [&](const char* name, uint32_t in, Dims begin, Dims size) {
    schema::SliceOptionsT o;
    o.begin = std::move(begin);
    const uint32_t out = act(name, size);
    b.add_operator(name, op_options(schema::OpOptions_SliceOptions, std::move(o)), {in}, {out});
    return out;
  };
  const auto transpose = [&](const char* name, uint32_t in, Dims perm, Dims out_shape) {
    schema::TransposeOptionsT o;
    o.perm = std::move(perm);
    const uint32_t out = act(name, std::move(out_shape));
    b.add_operator(name, op_options(schema::OpOptions_TransposeOptions, std::move(o)), {in}, {out});
    return out;
  };
  const auto reshape = [&](const char* name, uint32_t in, Dims shape) {
    const uint32_t out = act(name, shape);
    b.add_operator(name, reshape_to(shape), {in}, {out});
    return out;
  };
  const uint32_t input = act("input", {1, kSampleSide, kSampleSide, 3});
  const uint32_t pw = b.add_constant_fp32("patch.w", {C, 4, 4, 3}, random_floats(rng, C * 48, 0.3f));
  const uint32_t patches = act("patches", {1, 4, 4, C});
  b.add_operator("patch", conv_options(4, 4, 0, 1, schema::Activation_NONE), {input, pw}, {patches});
  const uint32_t tokens = reshape("tokens", patches, {1, T, C});
  const uint32_t gamma = b.add_constant_fp32("ln.gamma", {C}, random_floats(rng, C, 0.5f));
  const uint32_t beta = b.add_constant_fp32("ln.beta", {C}, random_floats(rng, C, 0.2f));
  const uint32_t normed = act("ln", {1, T, C});
  b.add_operator("ln", op_options(schema::OpOptions_LayerNormOptions, schema::LayerNormOptionsT{}), {tokens, gamma, beta},
                 {normed});
  const uint32_t qkv = fc("qkv", normed, C, 3 * C, {1, T, 3 * C});
  const auto head_split = [&](const char* name, uint32_t part) {  // [1,T,3C] -> [1,H,T,D]
    const uint32_t s = slice(name, qkv, {0, 0, part * C}, {1, T, C});
    return transpose((std::string(name) + ".t").c_str(), reshape((std::string(name) + ".r").c_str(), s, {1, T, H, D}),
                     {0, 2, 1, 3}, {1, H, T, D});
  };
  const uint32_t q = head_split("q", 0), k = head_split("k", 1), v = head_split("v", 2);
  schema::BatchMatMulOptionsT qk;
  qk.transpose_b = true;
  const uint32_t scores = act("scores", {1, H, T, T});
  b.add_operator("scores", op_options(schema::OpOptions_BatchMatMulOptions, std::move(qk)), {q, k}, {scores});
  const uint32_t weights = act("softmax", {1, H, T, T});
  b.add_operator("softmax", op_options(schema::OpOptions_SoftmaxOptions, schema::SoftmaxOptionsT{}), {scores}, {weights});
  const uint32_t context = act("context", {1, H, T, D});
  b.add_operator("context", op_options(schema::OpOptions_BatchMatMulOptions, schema::BatchMatMulOptionsT{}), {weights, v},
                 {context});
  const uint32_t merged = reshape("merged", transpose("context.t", context, {0, 2, 1, 3}, {1, T, H, D}), {1, T, C});
  const uint32_t projected = fc("proj", merged, C, C, {1, T, C});
  const uint32_t residual = act("residual", {1, T, C});
  b.add_operator("residual", op_options(schema::OpOptions_AddOptions, schema::AddOptionsT{}), {tokens, projected},
                 {residual});
  const uint32_t activated = act("gelu", {1, T, C});
  b.add_operator("gelu", op_options(schema::OpOptions_GeluOptions, schema::GeluOptionsT{}), {residual}, {activated});
  const uint32_t back = slice("back", activated, {0, 8, 0}, {1, 8, C});
  const uint32_t front = slice("front", activated, {0, 0, 0}, {1, 8, C});
  schema::ConcatOptionsT cat;
  cat.axis = 1;
  const uint32_t rolled = act("rolled", {1, T, C});
  b.add_operator("roll", op_options(schema::OpOptions_ConcatOptions, std::move(cat)), {back, front}, {rolled});
  schema::MeanOptionsT mean;
  mean.axes = {1};
  mean.keep_dims = false;
  const uint32_t feature = act("feature", {1, C});
  b.add_operator("mean", op_options(schema::OpOptions_MeanOptions, std::move(mean)), {rolled}, {feature});
  b.set_graph(input, feature);
  add_head(b, rng);
  return b;
}

}  // namespace edgeclr::testing
