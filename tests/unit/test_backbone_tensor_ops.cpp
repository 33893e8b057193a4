// The tensor operators of format 3 (concat, slice, transpose, batch matmul, softmax, mean,
// layer norm, gelu, fully connected on token tensors) on XNNPACK against the reference
// (tests/support/reference_tensor_ops.cpp: kernels in double, per-element tolerances
// derived as its header states), at odd sizes with fixed seeds; a small transformer block
// end to end; the verifier's refusals; and, in a Debian 12 build, the refusal of every op
// XNNPACK 2022 lacks, naming the op and both generations.
#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "builder/model_builder.h"
#include "model/model.h"
#include "model/op_checks.h"
#include "support/reference_backbone.h"
#include "support/reference_kernels.h"
#include "support/sample_models.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

using Dims = std::vector<uint32_t>;

std::vector<float> uniform(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A backbone graph over tensors of any rank and ops with explicit output shapes. The image
// is gray [1, H, W * C, 1], reshaped to [1, H, W, C] (input()) so C can be any size.
// finish() flattens the last tensor into the [1, D] feature.
class TensorGraph {
 public:
  TensorGraph(uint32_t h, uint32_t w, uint32_t c, uint32_t seed) : rng_(seed), image_{1, h, w * c, 1} {
    b_.set_input(h, w * c, 1, {0.5f}, {0.25f});
    b_.set_provenance("edgeclr tests", "test_backbone_tensor_ops");
    image_tensor_ = b_.add_activation("image", image_);
    dims_[image_tensor_] = image_;
    input_ = reshape(image_tensor_, {1, h, w, c});
  }

  uint32_t input() const { return input_; }
  const Dims& dims(uint32_t t) const { return dims_.at(t); }

  template <typename T>
  uint32_t op(schema::OpOptions type, T options, std::vector<uint32_t> inputs, Dims out) {
    const uint32_t t = b_.add_activation("t" + std::to_string(next_++), out);
    dims_[t] = out;
    b_.add_operator("op" + std::to_string(next_), op_options(type, std::move(options)), std::move(inputs), {t});
    return t;
  }
  uint32_t reshape(uint32_t in, Dims shape) {
    schema::ReshapeOptionsT o;
    o.new_shape = shape;
    return op(schema::OpOptions_ReshapeOptions, o, {in}, shape);
  }
  uint32_t transpose(uint32_t in, Dims perm) {
    Dims out;
    for (uint32_t p : perm) out.push_back(dims(in)[p]);
    schema::TransposeOptionsT o;
    o.perm = perm;
    return op(schema::OpOptions_TransposeOptions, o, {in}, out);
  }
  uint32_t slice(uint32_t in, Dims begin, Dims size) {
    schema::SliceOptionsT o;
    o.begin = begin;
    return op(schema::OpOptions_SliceOptions, o, {in}, size);
  }
  uint32_t concat(std::vector<uint32_t> inputs, uint32_t axis) {
    Dims out = dims(inputs[0]);
    out[axis] = 0;
    for (uint32_t t : inputs) out[axis] += dims(t)[axis];
    schema::ConcatOptionsT o;
    o.axis = axis;
    return op(schema::OpOptions_ConcatOptions, o, inputs, out);
  }
  uint32_t batch_matmul(uint32_t a, uint32_t b, bool transpose_b) {
    Dims out = dims(a);
    const Dims& bd = dims(b);
    out.back() = transpose_b ? bd[bd.size() - 2] : bd.back();
    schema::BatchMatMulOptionsT o;
    o.transpose_b = transpose_b;
    return op(schema::OpOptions_BatchMatMulOptions, o, {a, b}, out);
  }
  uint32_t softmax(uint32_t in) { return op(schema::OpOptions_SoftmaxOptions, schema::SoftmaxOptionsT{}, {in}, dims(in)); }
  uint32_t mean(uint32_t in, Dims axes, bool keep_dims) {
    Dims out;
    for (uint32_t d = 0; d < dims(in).size(); ++d) {
      const bool reduced = std::find(axes.begin(), axes.end(), d) != axes.end();
      if (!reduced) out.push_back(dims(in)[d]);
      else if (keep_dims) out.push_back(1);
    }
    schema::MeanOptionsT o;
    o.axes = axes;
    o.keep_dims = keep_dims;
    return op(schema::OpOptions_MeanOptions, o, {in}, out);
  }
  uint32_t layer_norm(uint32_t in, bool affine, float epsilon = 1e-5f) {
    const uint32_t c = dims(in).back();
    std::vector<uint32_t> inputs = {in};
    if (affine) {
      inputs.push_back(b_.add_constant_fp32("gamma" + std::to_string(next_), {c}, uniform(rng_, c, 0.5f, 1.5f)));
      inputs.push_back(b_.add_constant_fp32("beta" + std::to_string(next_), {c}, uniform(rng_, c, -0.5f, 0.5f)));
    }
    schema::LayerNormOptionsT o;
    o.epsilon = epsilon;
    return op(schema::OpOptions_LayerNormOptions, o, inputs, dims(in));
  }
  uint32_t gelu(uint32_t in, bool approximate) {
    schema::GeluOptionsT o;
    o.approximate = approximate;
    return op(schema::OpOptions_GeluOptions, o, {in}, dims(in));
  }
  // x [..., I] -> [..., O], random weights of about unit gain.
  uint32_t fully_connected(uint32_t in, uint32_t out_f) {
    const uint32_t in_f = dims(in).back();
    const float limit = 1.5f / std::sqrt(float(in_f));
    const uint32_t w = b_.add_constant_fp32("w" + std::to_string(next_), {out_f, in_f},
                                            uniform(rng_, size_t{out_f} * in_f, -limit, limit));
    const uint32_t bias = b_.add_constant_fp32("b" + std::to_string(next_), {out_f}, uniform(rng_, out_f, -0.1f, 0.1f));
    Dims out = dims(in);
    out.back() = out_f;
    return op(schema::OpOptions_FullyConnectedOptions, schema::FullyConnectedOptionsT{}, {in, w, bias}, out);
  }
  // As fully_connected, in int8: symmetric per-channel weights, the fp32 input quantized
  // per row at run time (format 4), fp32 bias. `weight_axis`, `bias_dtype`: for refusals.
  uint32_t fully_connected_dynamic(uint32_t in, uint32_t out_f, int32_t weight_axis = 0,
                                   schema::DType bias_dtype = schema::DType_FLOAT32) {
    const uint32_t in_f = dims(in).back();
    const float limit = 1.5f / std::sqrt(float(in_f));
    const std::vector<float> w = uniform(rng_, size_t{out_f} * in_f, -limit, limit);
    QuantParams q;
    q.axis = weight_axis;
    std::vector<int8_t> w8(w.size());
    for (uint32_t o = 0; o < out_f; ++o) {
      float max_abs = 0;
      for (uint32_t k = 0; k < in_f; ++k) max_abs = std::max(max_abs, std::fabs(w[size_t{o} * in_f + k]));
      const float scale = max_abs / 127.0f;
      for (uint32_t k = 0; k < in_f; ++k) {
        w8[size_t{o} * in_f + k] = static_cast<int8_t>(std::lround(w[size_t{o} * in_f + k] / scale));
      }
      if (weight_axis == 0 || o == 0) {
        q.scale.push_back(scale);
        q.zero_point.push_back(0);
      }
    }
    const uint32_t wt = b_.add_constant("w" + std::to_string(next_), {out_f, in_f}, schema::DType_INT8, w8.data(),
                                        w8.size(), q);
    const std::vector<float> bias = uniform(rng_, out_f, -0.1f, 0.1f);
    const uint32_t bt = bias_dtype == schema::DType_FLOAT32
                            ? b_.add_constant_fp32("b" + std::to_string(next_), {out_f}, bias)
                            : b_.add_constant("b" + std::to_string(next_), {out_f}, schema::DType_INT32,
                                              std::vector<int32_t>(out_f, 0).data(), size_t{out_f} * 4,
                                              QuantParams{std::vector<float>(out_f, 1e-4f),
                                                          std::vector<int32_t>(out_f, 0), 0});
    Dims out = dims(in);
    out.back() = out_f;
    schema::FullyConnectedOptionsT o;
    o.input_quantization = schema::InputQuantization_DYNAMIC_PER_ROW;
    return op(schema::OpOptions_FullyConnectedOptions, o, {in, wt, bt}, out);
  }
  // A learned fp32 constant, e.g. a class token [1, 1, C].
  uint32_t constant(Dims d) {
    const uint32_t t = b_.add_constant_fp32("c" + std::to_string(next_++), d,
                                            uniform(rng_, reference::element_count(d), -1.0f, 1.0f));
    dims_[t] = d;
    return t;
  }
  uint32_t add(uint32_t a, uint32_t b) {
    return op(schema::OpOptions_AddOptions, schema::AddOptionsT{}, {a, b}, dims(a));
  }

  std::vector<uint8_t> finish(uint32_t last) {
    uint32_t feature = last;
    const Dims& d = dims(last);
    if (d.size() != 2 || d[0] != 1) feature = reshape(last, {1, static_cast<uint32_t>(reference::element_count(d))});
    b_.set_graph(image_tensor_, feature);
    b_.set_embedding(static_cast<uint32_t>(reference::element_count(dims(feature))), false);
    return b_.finish();
  }
  ModelBuilder& builder() { return b_; }

 private:
  std::mt19937 rng_;
  Dims image_;
  ModelBuilder b_;
  uint32_t image_tensor_ = 0;
  uint32_t input_ = 0;
  uint32_t next_ = 0;
  std::map<uint32_t, Dims> dims_;
};

struct Opened {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
};

Opened open(std::vector<uint8_t> bytes) {
  Opened m{std::move(bytes), nullptr};
  auto model = Model::open_buffer(m.bytes.data(), m.bytes.size(), "tensor-ops.eclr");
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  m.model = std::move(model.value());
  return m;
}

Status open_status(std::vector<uint8_t> bytes) {
  return Model::open_buffer(bytes.data(), bytes.size(), "bad.eclr").status();
}

bool runs_tensor_ops() { return xnnpack_info().api >= 2024; }

// Creates the backbone. On an XNNPACK without one of the model's ops, checks that the
// first such op is refused by name with both generations, and returns null.
std::unique_ptr<Backbone> create_or_check_refusal(const Model& model, uint32_t batch = 1) {
  BackboneOptions options;
  options.batch = batch;
  auto backbone = Backbone::create(model, options);
  const schema::Operator* missing = nullptr;
  for (const schema::Operator* op : *model.backbone().operators()) {
    if (fp32_since_xnnpack(*op) > xnnpack_info().api) {
      missing = op;
      break;
    }
  }
  if (missing != nullptr) {
    REQUIRE_FALSE_MESSAGE(backbone.ok(), "ran on XNNPACK " << xnnpack_info().label);
    CHECK(backbone.status().code() == StatusCode::kUnsupported);
    const std::string& message = backbone.status().message();
    const std::string op_type = op_type_name(*missing, model.tensors());
    CHECK_MESSAGE(message.find("(" + op_type + "): needs XNNPACK 2024 or later, this edgeclr links XNNPACK 2022") !=
                      std::string::npos,
                  message);
    return nullptr;
  }
  REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
  return std::move(backbone.value());
}

std::vector<float> image_input(const Model& model, uint32_t batch, uint32_t seed) {
  std::mt19937 rng(seed);
  return uniform(rng, model.tensors()[model.backbone().input()].elements * batch, -2.0f, 2.0f);
}

// Runs `input` (default: random in [-2, 2]) and compares every element with the reference
// within its derived tolerance. Returns the backbone's feature (empty where refused).
std::vector<float> expect_matches_reference(const Opened& m, const std::string& what, uint32_t seed = 7,
                                            std::vector<float> input = {}) {
  std::unique_ptr<Backbone> backbone = create_or_check_refusal(*m.model);
  if (!backbone) return {};
  if (input.empty()) input = image_input(*m.model, 1, seed);
  std::vector<float> got(m.model->feature_dim(), std::numeric_limits<float>::quiet_NaN());
  const Status run = backbone->run(input.data(), got.data());
  REQUIRE_MESSAGE(run.ok(), run.message());
  const ReferenceFeature want = reference_feature_with_tolerance(*m.model, input.data(), 1);
  REQUIRE(want.feature.size() == got.size());
  size_t failures = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(double{got[i]} - want.feature[i]);
    if (!(diff <= want.tolerance[i]) && ++failures <= 5) {
      FAIL_CHECK(what << ": element " << i << ": XNNPACK " << got[i] << ", reference " << want.feature[i] << ", |diff| "
                      << diff << " > tolerance " << want.tolerance[i]);
    }
  }
  CHECK_MESSAGE(failures == 0, what << ": " << failures << " of " << got.size() << " elements out of tolerance");
  return got;
}

}  // namespace

TEST_CASE("backbone transpose, slice and concat move every element to its place") {
  SUBCASE("transpose of rank 4, 5 and 3") {
    TensorGraph g(5, 7, 3, 1);
    expect_matches_reference(open(g.finish(g.transpose(g.input(), {0, 3, 1, 2}))), "rank 4 to NCHW");
    TensorGraph g5(6, 5, 3, 2);
    const uint32_t r5 = g5.reshape(g5.input(), {1, 2, 3, 5, 3});
    expect_matches_reference(open(g5.finish(g5.transpose(r5, {0, 3, 1, 4, 2}))), "rank 5");
    TensorGraph g3(3, 7, 5, 3);
    const uint32_t tokens = g3.reshape(g3.input(), {1, 21, 5});
    expect_matches_reference(open(g3.finish(g3.transpose(tokens, {0, 2, 1}))), "tokens [1,21,5]");
  }
  SUBCASE("slice of an inner box, and of the class token") {
    TensorGraph g(7, 5, 3, 4);
    expect_matches_reference(open(g.finish(g.slice(g.input(), {0, 2, 1, 1}, {1, 3, 3, 2}))), "inner box");
    TensorGraph t(5, 3, 7, 5);
    const uint32_t tokens = t.reshape(t.input(), {1, 15, 7});
    expect_matches_reference(open(t.finish(t.slice(tokens, {0, 0, 0}, {1, 1, 7}))), "first token");
  }
  SUBCASE("concat of 2, 3, 7 and 12 inputs on inner and last axes") {
    for (uint32_t count : {2u, 3u, 7u, 12u}) {
      for (uint32_t axis : {1u, 3u}) {
        TensorGraph g(5, 3, 3, 10 + count);
        std::vector<uint32_t> parts;
        for (uint32_t i = 0; i < count; ++i) parts.push_back(g.slice(g.input(), {0, i % 3, 0, 0}, {1, 2, 3, 3}));
        expect_matches_reference(open(g.finish(g.concat(parts, axis))),
                                 "concat of " + std::to_string(count) + " on axis " + std::to_string(axis));
      }
    }
  }
}

TEST_CASE("backbone batch matmul of two computed tensors, b plain and transposed") {
  TensorGraph g(3, 7, 5, 21);  // tokens [1, 21, 5] -> [3, 7, 5]
  const uint32_t a = g.reshape(g.input(), {3, 7, 5});
  const uint32_t bt = g.fully_connected(a, 5);    // [3, 7, 5]: b transposed ([.., N, K])
  const uint32_t flagged = g.batch_matmul(a, bt, true);  // first, so a 2022 build names it
  const uint32_t b = g.transpose(bt, {0, 2, 1});  // [3, 5, 7]
  const uint32_t plain = g.batch_matmul(a, b, false);
  expect_matches_reference(open(g.finish(g.concat({plain, flagged}, 2))), "a x b and a x b^T");
}

TEST_CASE("backbone softmax on the last axis and mean over axes") {
  TensorGraph s(3, 5, 9, 31);
  const uint32_t scaled = s.fully_connected(s.reshape(s.input(), {1, 15, 9}), 13);  // logits of a few units
  expect_matches_reference(open(s.finish(s.softmax(scaled))), "softmax over 13");
  for (bool keep : {true, false}) {
    TensorGraph m(7, 3, 5, 32);
    expect_matches_reference(open(m.finish(m.mean(m.input(), {1, 2}, keep))), "mean over H, W");
    TensorGraph t(7, 3, 5, 33);
    expect_matches_reference(open(t.finish(t.mean(t.reshape(t.input(), {1, 21, 5}), {1}, keep))),
                             "mean over tokens");
  }
}

TEST_CASE("backbone layer norm over the last axis, with and without gamma and beta; gelu, erf and tanh forms") {
  for (bool affine : {false, true}) {
    TensorGraph g(3, 5, 7, 41);
    const uint32_t tokens = g.reshape(g.input(), {1, 15, 7});
    expect_matches_reference(open(g.finish(g.layer_norm(tokens, affine, 1e-6f))),
                             affine ? "layer norm with gamma, beta" : "layer norm alone");
  }
  for (bool approximate : {false, true}) {
    TensorGraph g(5, 3, 7, 42);
    expect_matches_reference(open(g.finish(g.gelu(g.input(), approximate))),
                             approximate ? "gelu tanh form" : "gelu erf form");
  }
}

TEST_CASE("backbone fully connected on a token tensor keeps every leading axis") {
  TensorGraph g(3, 7, 5, 51);
  const uint32_t tokens = g.reshape(g.input(), {1, 21, 5});
  const Opened m = open(g.finish(g.fully_connected(tokens, 9)));
  // XNNPACK 2022 runs this op too: check it there as well.
  BackboneOptions options;
  auto backbone = Backbone::create(*m.model, options);
  REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
  const std::vector<float> input = image_input(*m.model, 1, 3);
  std::vector<float> got(m.model->feature_dim());
  REQUIRE(backbone.value()->run(input.data(), got.data()).ok());
  const ReferenceFeature want = reference_feature_with_tolerance(*m.model, input.data(), 1);
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK_MESSAGE(std::fabs(double{got[i]} - want.feature[i]) <= want.tolerance[i], "element " << i);
  }
}

namespace {

// A pre-norm transformer block on tokens [1, T, C] with H heads of D = C / H, as ViTs
// write it: a constant class token joined in front of the patch tokens, x +
// proj(attention(LN(x))), then + FC(GELU(FC(LN(.)))); the feature is the class token.
// `dynamic_int8`: every fully connected layer in int8 with its input quantized per token.
std::vector<uint8_t> transformer_block(uint32_t tokens_h, uint32_t tokens_w, uint32_t heads, uint32_t head_dim,
                                       uint32_t seed, bool dynamic_int8 = false) {
  const uint32_t c = heads * head_dim, patches = tokens_h * tokens_w, t = patches + 1;
  TensorGraph g(tokens_h, tokens_w, 3, seed);
  const auto fc = [&](uint32_t in, uint32_t out_f) {
    return dynamic_int8 ? g.fully_connected_dynamic(in, out_f) : g.fully_connected(in, out_f);
  };
  const uint32_t x = g.concat({g.constant({1, 1, c}), fc(g.reshape(g.input(), {1, patches, 3}), c)}, 1);
  const uint32_t n1 = g.layer_norm(x, true);
  const auto heads_of = [&](uint32_t in) {  // [1,T,C] -> [1,H,T,D]
    return g.transpose(g.reshape(fc(in, c), {1, t, heads, head_dim}), {0, 2, 1, 3});
  };
  const uint32_t q = heads_of(n1), k = heads_of(n1), v = heads_of(n1);
  const uint32_t scores = g.softmax(g.batch_matmul(q, k, true));    // [1,H,T,T]
  const uint32_t context = g.batch_matmul(scores, v, false);        // [1,H,T,D]
  const uint32_t merged = g.reshape(g.transpose(context, {0, 2, 1, 3}), {1, t, c});
  const uint32_t x1 = g.add(x, fc(merged, c));
  const uint32_t mlp = fc(g.gelu(fc(g.layer_norm(x1, true), 2 * c), false), c);
  return g.finish(g.slice(g.add(x1, mlp), {0, 0, 0}, {1, 1, c}));
}

}  // namespace

namespace {

// Runs `m` at batch 3 and checks each image against the reference of a single run.
void expect_batch_of_three_matches_reference(const Opened& m) {
  BackboneOptions options;
  options.batch = 3;
  auto batched = Backbone::create(*m.model, options);
  REQUIRE_MESSAGE(batched.ok(), batched.status().message());
  const std::vector<float> input = image_input(*m.model, 3, 9);
  const size_t dim = m.model->feature_dim(), image = input.size() / 3;
  std::vector<float> got(3 * dim);
  REQUIRE(batched.value()->run(input.data(), got.data()).ok());
  for (uint32_t i = 0; i < 3; ++i) {
    const ReferenceFeature want = reference_feature_with_tolerance(*m.model, input.data() + i * image, 1);
    for (size_t j = 0; j < dim; ++j) {
      CHECK_MESSAGE(std::fabs(double{got[i * dim + j]} - want.feature[j]) <= want.tolerance[j],
                    "image " << i << " element " << j);
    }
  }
}

}  // namespace

TEST_CASE("backbone a transformer block matches the reference, and batch 3 matches three single runs") {
  const Opened m = open(transformer_block(3, 5, 3, 5, 61));
  expect_matches_reference(m, "transformer block");
  if (!runs_tensor_ops()) return;  // the refusal was checked above
  expect_batch_of_three_matches_reference(m);
}

TEST_CASE("backbone fully connected with its input quantized per token at run time (format 4)") {
  // Tokens of magnitudes 1e-3 to 10: one scale for the whole tensor (not per row) would
  // leave the small ones a few levels and miss the reference's per-row bound.
  TensorGraph g(3, 7, 40, 53);
  const Opened m = open(g.finish(g.fully_connected_dynamic(g.reshape(g.input(), {1, 21, 40}), 24)));
  CHECK(m.model->root().format_version() == 4);
  std::vector<float> input = image_input(*m.model, 1, 7);
  for (size_t i = 0; i < input.size(); ++i) input[i] *= std::pow(10.0f, -3.0f + 4.0f * float(i / 40) / 20.0f);
  const std::vector<float> got = expect_matches_reference(m, "dynamically quantized fully connected", 0, input);
  if (got.empty()) return;  // refused by XNNPACK 2022, checked above
  // And it ran in int8: an fp32 product with the same weights agrees with the reference
  // to fp32 rounding (~1e-7 relative); quantizing the input moves some element by far more.
  const ReferenceFeature want = reference_feature_with_tolerance(*m.model, input.data(), 1);
  double largest = 0, moved = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    largest = std::max(largest, std::fabs(double{want.feature[i]}));
    moved = std::max(moved, std::fabs(double{got[i]} - want.feature[i]));
  }
  CHECK_MESSAGE(moved > 1e-5 * largest, "largest change " << moved << " of " << largest << ": not quantized?");
}

TEST_CASE("backbone a transformer block with every fully connected layer in dynamic int8 matches the reference, "
          "at batch 1 and 3") {
  const Opened m = open(transformer_block(3, 5, 3, 8, 63, /*dynamic_int8=*/true));
  expect_matches_reference(m, "int8 transformer block");
  if (!runs_tensor_ops()) return;  // the refusal was checked above
  expect_batch_of_three_matches_reference(m);
}

TEST_CASE("model verifier refuses a dynamically quantized fully connected layer of the wrong precisions") {
  const auto refused = [](std::vector<uint8_t> bytes, const char* why) {
    const Status s = open_status(std::move(bytes));
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == StatusCode::kInvalidModel);
    CHECK_MESSAGE(s.message().find(why) != std::string::npos, s.message());
  };
  {  // weights per tensor
    TensorGraph g(2, 3, 8, 1);
    refused(g.finish(g.fully_connected_dynamic(g.reshape(g.input(), {1, 6, 8}), 4, -1)), "must be per channel");
  }
  {  // an int32 bias, as static int8 has
    TensorGraph g(2, 3, 8, 2);
    refused(g.finish(g.fully_connected_dynamic(g.reshape(g.input(), {1, 6, 8}), 4, 0, schema::DType_INT32)),
            "bias");
  }
  {  // fp32 weights
    TensorGraph g(2, 3, 8, 3);
    const uint32_t w = g.builder().add_constant_fp32("w", {4, 8}, std::vector<float>(32, 0.5f));
    schema::FullyConnectedOptionsT o;
    o.input_quantization = schema::InputQuantization_DYNAMIC_PER_ROW;
    refused(g.finish(g.op(schema::OpOptions_FullyConnectedOptions, o, {g.reshape(g.input(), {1, 6, 8}), w}, {1, 6, 4})),
            "weight");
  }
}

TEST_CASE("backbone refuses batch > 1 for a transpose that moves axis 0") {
  TensorGraph g(3, 5, 7, 71);
  const Opened m = open(g.finish(g.transpose(g.reshape(g.input(), {15, 1, 7}), {1, 0, 2})));
  BackboneOptions options;
  options.batch = 2;
  auto backbone = Backbone::create(*m.model, options);
  REQUIRE_FALSE(backbone.ok());
  CHECK(backbone.status().code() == StatusCode::kUnsupported);
}

TEST_CASE("model verifier refuses tensor operators whose shapes, axes or counts do not fit") {
  const auto refused = [](std::vector<uint8_t> bytes, const char* why) {
    const Status s = open_status(std::move(bytes));
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == StatusCode::kInvalidModel);
    CHECK_MESSAGE(s.message().find(why) != std::string::npos, s.message());
  };
  {  // concat: inputs disagree off the axis
    TensorGraph g(4, 4, 3, 1);
    const uint32_t a = g.slice(g.input(), {0, 0, 0, 0}, {1, 2, 4, 3});
    const uint32_t b = g.slice(g.input(), {0, 0, 0, 0}, {1, 2, 3, 3});
    schema::ConcatOptionsT o;
    o.axis = 1;
    refused(g.finish(g.op(schema::OpOptions_ConcatOptions, o, {a, b}, {1, 4, 4, 3})), "does not fit input 0");
  }
  {  // slice past the end
    TensorGraph g(4, 4, 3, 2);
    refused(g.finish(g.slice(g.input(), {0, 3, 0, 0}, {1, 2, 4, 3})), "slice of 2 from 3 on axis 1");
  }
  {  // transpose perm repeats an axis
    TensorGraph g(4, 4, 3, 3);
    schema::TransposeOptionsT o;
    o.perm = {0, 1, 1, 3};
    refused(g.finish(g.op(schema::OpOptions_TransposeOptions, o, {g.input()}, {1, 4, 4, 3})), "not a permutation");
  }
  {  // batch matmul: K differs
    TensorGraph g(4, 4, 3, 4);
    const uint32_t a = g.reshape(g.input(), {1, 16, 3});
    refused(g.finish(g.op(schema::OpOptions_BatchMatMulOptions, schema::BatchMatMulOptionsT{}, {a, a}, {1, 16, 3})),
            "do not multiply");
  }
  {  // mean: axes out of order
    TensorGraph g(4, 4, 3, 5);
    schema::MeanOptionsT o;
    o.axes = {2, 1};
    refused(g.finish(g.op(schema::OpOptions_MeanOptions, o, {g.input()}, {1, 1, 1, 3})), "ascending");
  }
  {  // layer norm: gamma of the wrong size
    TensorGraph g(4, 4, 3, 6);
    const uint32_t gamma = g.builder().add_constant_fp32("gamma", {4}, {1, 1, 1, 1});
    refused(g.finish(g.op(schema::OpOptions_LayerNormOptions, schema::LayerNormOptionsT{}, {g.input(), gamma},
                          {1, 4, 4, 3})),
            "gamma has shape [4], expected [3]");
  }
}

TEST_CASE("format version: 3 only for models that use a tensor operator") {
  TensorGraph g(4, 4, 3, 1);
  const Opened m = open(g.finish(g.transpose(g.input(), {0, 3, 1, 2})));
  CHECK(m.model->root().format_version() == 3);
  TensorGraph cnn(4, 4, 3, 1);
  schema::ClampOptionsT relu;
  relu.min = 0;
  const Opened plain = open(cnn.finish(cnn.op(schema::OpOptions_ClampOptions, relu, {cnn.input()}, {1, 4, 4, 3})));
  CHECK(plain.model->root().format_version() == 2);
}

TEST_CASE("the sample transformer (a fuzzing seed) matches the reference, or is refused on XNNPACK 2022") {
  expect_matches_reference(open(sample_transformer_model()), "sample transformer");
}
