#include "convert/lower.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

#include "head/projection_head.h"

namespace edgeclr::convert {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
using Dims = std::vector<uint32_t>;

const char* kSupported =
    "Conv, BatchNormalization, Relu, Clip, LeakyRelu, PRelu, Elu, Sigmoid, HardSigmoid, HardSwish, Add, Sub, Mul, "
    "Div, Max, Min (two inputs), GlobalAveragePool, ReduceMean (H and W), MaxPool, AveragePool, Flatten, Reshape "
    "(constant shape), Gemm, MatMul (constant weight), Pad (constant), Identity, Dropout, Constant, and constant "
    "Shape/Slice/Gather/Unsqueeze/Squeeze/Concat/Cast/Range chains";

Status unsupported(const Node& n, const std::string& why) {
  return error(StatusCode::kUnsupported, format("node '%s' (%s): %s", n.name.c_str(), n.op.c_str(), why.c_str()));
}

// ONNX NCHW dims to edgeclr NHWC (rank 4 only); an unknown batch is 1.
Result<Dims> edgeclr_dims(const Value& v, const std::string& name) {
  if (!v.shape_known) return error(StatusCode::kUnsupported, "shape of '" + name + "' is unknown after shape inference");
  Dims d;
  for (size_t i = 0; i < v.shape.size(); ++i) {
    const int64_t x = v.shape[i] < 0 && i == 0 ? 1 : v.shape[i];
    if (x <= 0 || x > (int64_t{1} << 20)) {
      return error(StatusCode::kUnsupported, format("dimension %zu of '%s' is %lld", i, name.c_str(), (long long)v.shape[i]));
    }
    d.push_back(static_cast<uint32_t>(x));
  }
  if (d.size() == 4) d = {d[0], d[2], d[3], d[1]};
  return d;
}

// Constant in NCHW order -> NHWC order (rank 4); other ranks unchanged.
std::vector<float> to_nhwc(const Constant& c) {
  if (c.dims.size() != 4) return c.floats;
  const int64_t n = c.dims[0], ch = c.dims[1], h = c.dims[2], w = c.dims[3];
  std::vector<float> out(c.floats.size());
  for (int64_t a = 0; a < n; ++a)
    for (int64_t k = 0; k < ch; ++k)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) out[((a * h + y) * w + x) * ch + k] = c.floats[((a * ch + k) * h + y) * w + x];
  return out;
}

// "0.485,0.456,0.406" -> floats; false on anything else (metadata is untrusted).
bool parse_floats(const std::string& text, std::vector<float>* out) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !std::isfinite(v)) return false;
    out->push_back(v);
  }
  return !out->empty();
}

class Lowering {
 public:
  Lowering(const Graph& graph, const LowerOptions& options) : g_(graph), options_(options) {}
  Result<ModelBuilder> run();

 private:
  Status set_input();
  Status split_head();
  Status lower_node(size_t index);
  Status lower_conv(const Node& n);
  Status lower_gemm(const Node& n, bool matmul);
  Status lower_binary(const Node& n);
  Status lower_prelu(const Node& n);
  Status lower_pool(const Node& n);
  Status lower_global_pool(const Node& n);
  Status lower_unary(const Node& n);
  Status lower_reshape(const Node& n);
  Status lower_pad(const Node& n);
  Status lower_batch_norm(const Node& n);
  Status lower_hard_sigmoid(const Node& n);
  Status build_head();

  // edgeclr tensor of an ONNX value (lowered activation or converted constant).
  Result<uint32_t> tensor(const std::string& value);
  Result<uint32_t> constant_operand(const std::string& value, size_t other_rank);
  Result<uint32_t> new_activation(const std::string& value);
  // Activation fused from the single consumer of `out`, marking it done.
  schema::Activation fuse_activation(const std::string& out, std::string* final_out);
  void add_op(const Node& n, schema::OpOptionsUnion options, std::vector<uint32_t> inputs, uint32_t output);

  const Graph& g_;
  const LowerOptions& options_;
  ModelBuilder b_;
  std::map<std::string, uint32_t> tensors_;
  std::set<size_t> skip_;              // nodes fused into another, or in the head
  std::vector<size_t> head_nodes_;     // Gemm/MatMul/Add/Relu of the head, in order
  std::string feature_;
  uint32_t input_tensor_ = 0;
};

void Lowering::add_op(const Node& n, schema::OpOptionsUnion options, std::vector<uint32_t> inputs, uint32_t output) {
  b_.add_operator(n.name, std::move(options), std::move(inputs), {output});
}

Result<uint32_t> Lowering::new_activation(const std::string& value) {
  auto dims = edgeclr_dims(g_.values.at(value), value);
  if (!dims.ok()) return dims.status();
  const uint32_t t = b_.add_activation(value, dims.value());
  tensors_[value] = t;
  return t;
}

Result<uint32_t> Lowering::tensor(const std::string& value) {
  const auto it = tensors_.find(value);
  if (it != tensors_.end()) return it->second;
  const Constant* c = g_.constant(value);
  if (c == nullptr || !c->is_float) {
    return error(StatusCode::kUnsupported, "value '" + value + "' is neither computed by a supported node nor a float constant");
  }
  Dims dims;
  for (int64_t d : c->dims) dims.push_back(static_cast<uint32_t>(d));
  if (dims.empty()) dims = {1};
  if (dims.size() == 4) dims = {dims[0], dims[2], dims[3], dims[1]};
  const uint32_t t = b_.add_constant_fp32(value, dims, to_nhwc(*c));
  tensors_[value] = t;
  return t;
}

// A constant broadcast against an activation of ONNX rank `other_rank`: left-padded to
// that rank with ones first, so that NCHW -> NHWC moves its channel axis too.
Result<uint32_t> Lowering::constant_operand(const std::string& value, size_t other_rank) {
  const Constant* c = g_.constant(value);
  if (c == nullptr || !c->is_float || c->dims.size() > other_rank) return tensor(value);
  // Cached per rank: the same constant as a conv bias ([O]) and as a broadcast operand
  // of a 4-D tensor ([1,1,1,O] after padding) are two different edgeclr tensors.
  const std::string key = value + "@rank" + std::to_string(other_rank);
  const auto it = tensors_.find(key);
  if (it != tensors_.end()) return it->second;
  Constant padded = *c;
  padded.dims.insert(padded.dims.begin(), other_rank - c->dims.size(), 1);
  Dims dims;
  for (int64_t d : padded.dims) dims.push_back(static_cast<uint32_t>(d));
  if (dims.size() == 4) dims = {dims[0], dims[2], dims[3], dims[1]};
  if (dims.empty()) dims = {1};
  const uint32_t t = b_.add_constant_fp32(value, dims, to_nhwc(padded));
  tensors_[key] = t;
  return t;
}

schema::Activation Lowering::fuse_activation(const std::string& out, std::string* final_out) {
  *final_out = out;
  const auto readers = g_.consumers(out);
  if (readers.size() != 1 || readers[0] >= g_.nodes.size() || out == feature_) return schema::Activation_NONE;
  const Node& next = g_.nodes[readers[0]];
  if (skip_.count(readers[0])) return schema::Activation_NONE;
  schema::Activation act = schema::Activation_NONE;
  if (next.op == "Relu") act = schema::Activation_RELU;
  if (next.op == "Clip") {
    const Constant* lo = next.inputs.size() > 1 && !next.inputs[1].empty() ? g_.constant(next.inputs[1]) : nullptr;
    const Constant* hi = next.inputs.size() > 2 && !next.inputs[2].empty() ? g_.constant(next.inputs[2]) : nullptr;
    const float min = lo ? lo->floats.at(0) : next.float_attr("min", -kInf);
    const float max = hi ? hi->floats.at(0) : next.float_attr("max", kInf);
    if (min == 0.0f && max == 6.0f) act = schema::Activation_RELU6;
    if (min == 0.0f && std::isinf(max)) act = schema::Activation_RELU;
  }
  if (act != schema::Activation_NONE) {
    skip_.insert(readers[0]);
    *final_out = next.outputs[0];
  }
  return act;
}

Status Lowering::set_input() {
  const Value& in = g_.values.at(g_.input);
  if (!in.shape_known || in.shape.size() != 4) {
    return error(StatusCode::kUnsupported, "the graph input '" + g_.input + "' must be an image [N,C,H,W]");
  }
  const InputOptions& o = options_.input;
  const auto meta = [&](const char* key) {
    const auto it = g_.metadata.find(key);
    return it == g_.metadata.end() ? std::string() : it->second;
  };
  if (in.shape[0] > 1) {
    return error(StatusCode::kUnsupported,
                 format("the graph input '%s' has batch %lld; export with batch 1 (the encoder sets the batch)",
                        g_.input.c_str(), static_cast<long long>(in.shape[0])));
  }
  const uint32_t c = static_cast<uint32_t>(in.shape[1]), h = static_cast<uint32_t>(in.shape[2]),
                 w = static_cast<uint32_t>(in.shape[3]);
  if ((o.height && o.height != h) || (o.width && o.width != w) || (o.channels && o.channels != c)) {
    std::string given = o.height || o.width ? format("--input-size %ux%u", o.height, o.width) : "";
    if (o.channels) given += (given.empty() ? "" : " and ") + format("--channels %u", o.channels);
    return error(StatusCode::kInvalidArgument,
                 format("%s disagree%s with the ONNX input [%lld,%lld,%lld,%lld]", given.c_str(),
                        o.channels && (o.height || o.width) ? "" : "s", static_cast<long long>(in.shape[0]),
                        static_cast<long long>(in.shape[1]), static_cast<long long>(in.shape[2]),
                        static_cast<long long>(in.shape[3])));
  }
  if (c != 1 && c != 3) return error(StatusCode::kUnsupported, format("the input has %u channels; supported: 1 (gray) or 3 (RGB)", c));
  std::vector<float> mean = o.mean, std = o.std;
  for (const auto& [key, values] : {std::pair<const char*, std::vector<float>*>{"edgeclr.mean", &mean},
                                    std::pair<const char*, std::vector<float>*>{"edgeclr.std", &std}}) {
    if (!values->empty() || meta(key).empty()) continue;
    if (!parse_floats(meta(key), values)) {
      return error(StatusCode::kInvalidModel, format("metadata_props %s is '%s', expected comma-separated numbers",
                                                     key, meta(key).c_str()));
    }
  }
  if (mean.empty()) mean.assign(c, 0.0f);
  if (std.empty()) std.assign(c, 1.0f);
  if (mean.size() == 1) mean.assign(c, mean[0]);
  if (std.size() == 1) std.assign(c, std[0]);
  if (mean.size() != c || std.size() != c) {
    return error(StatusCode::kInvalidArgument, format("mean and std need %u values (one per channel)", c));
  }
  const std::string resize = o.resize.empty() ? (meta("edgeclr.resize").empty() ? "stretch" : meta("edgeclr.resize")) : o.resize;
  if (resize != "stretch" && resize != "crop") {
    return error(StatusCode::kInvalidArgument, "resize must be 'stretch' or 'crop', got '" + resize + "'");
  }
  b_.set_input(h, w, c, mean, std,
               resize == "crop" ? schema::ResizePolicy_SHORTER_SIDE_CROP : schema::ResizePolicy_STRETCH);
  input_tensor_ = b_.add_activation(g_.input, {1, h, w, c});
  tensors_[g_.input] = input_tensor_;
  return Status::Ok();
}

// Walks back from the graph output over Gemm/MatMul(+Add) and Relu/Clip: that chain is
// the head, and its input the feature (unless --feature-output names it).
Status Lowering::split_head() {
  std::vector<size_t> chain;
  std::string value = g_.output;
  while (value != options_.feature_output) {
    const auto producer = std::find_if(g_.nodes.begin(), g_.nodes.end(),
                                       [&](const Node& n) { return n.outputs[0] == value; });
    if (producer == g_.nodes.end()) break;
    const Node& n = *producer;
    const bool dense = n.op == "Gemm" || (n.op == "MatMul" && g_.constant(n.inputs[1]));
    const bool bias = n.op == "Add" && g_.constant(n.inputs[1]);
    if (!dense && !bias && n.op != "Relu") break;
    if (g_.consumers(n.outputs[0]).size() != 1) break;
    chain.push_back(static_cast<size_t>(producer - g_.nodes.begin()));
    value = n.inputs[0];
  }
  if (!options_.feature_output.empty() && value != options_.feature_output) {
    return error(StatusCode::kUnsupported,
                 "--feature-output '" + options_.feature_output + "': the nodes after it are not all Gemm/MatMul/Add/Relu");
  }
  // A head starts with a dense layer: drop leading activations/adds back into the backbone.
  while (!chain.empty() && g_.nodes[chain.back()].op != "Gemm" && g_.nodes[chain.back()].op != "MatMul") {
    value = g_.nodes[chain.back()].outputs[0];
    chain.pop_back();
  }
  feature_ = chain.empty() ? g_.output : value;
  head_nodes_.assign(chain.rbegin(), chain.rend());
  skip_.insert(chain.begin(), chain.end());
  return Status::Ok();
}

Status Lowering::lower_conv(const Node& n) {
  const Constant* w = g_.constant(n.inputs[1]);
  if (w == nullptr || !w->is_float || w->dims.size() != 4) {
    return unsupported(n, "the weight must be a float constant [O, I/group, KH, KW]");
  }
  const std::string auto_pad = n.string_attr("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return unsupported(n, "auto_pad " + auto_pad + "; export with explicit pads");
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  const auto strides = n.ints_attr("strides"), dilations = n.ints_attr("dilations"), pads = n.ints_attr("pads");
  schema::Conv2DOptionsT o;
  o.kernel_h = static_cast<uint32_t>(w->dims[2]);
  o.kernel_w = static_cast<uint32_t>(w->dims[3]);
  o.stride_h = strides.size() == 2 ? static_cast<uint32_t>(strides[0]) : 1;
  o.stride_w = strides.size() == 2 ? static_cast<uint32_t>(strides[1]) : 1;
  o.dilation_h = dilations.size() == 2 ? static_cast<uint32_t>(dilations[0]) : 1;
  o.dilation_w = dilations.size() == 2 ? static_cast<uint32_t>(dilations[1]) : 1;
  if (pads.size() == 4) {
    o.pad_top = static_cast<uint32_t>(pads[0]);
    o.pad_left = static_cast<uint32_t>(pads[1]);
    o.pad_bottom = static_cast<uint32_t>(pads[2]);
    o.pad_right = static_cast<uint32_t>(pads[3]);
  }
  o.groups = static_cast<uint32_t>(n.int_attr("group", 1));
  std::string out_name;
  o.activation = fuse_activation(n.outputs[0], &out_name);
  // ONNX weight [O, I/g, KH, KW] -> edgeclr [O, KH, KW, I/g]
  Constant ohwi = *w;
  ohwi.dims = {w->dims[0], w->dims[1], w->dims[2], w->dims[3]};
  std::vector<float> data = to_nhwc(ohwi);
  const Dims wdims = {static_cast<uint32_t>(w->dims[0]), o.kernel_h, o.kernel_w, static_cast<uint32_t>(w->dims[1])};
  const uint32_t wt = b_.add_constant_fp32(n.inputs[1], wdims, data);
  std::vector<uint32_t> inputs = {x.value(), wt};
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    auto bias = tensor(n.inputs[2]);
    if (!bias.ok()) return bias.status();
    inputs.push_back(bias.value());
  }
  auto out = new_activation(out_name);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_Conv2DOptions, std::move(o)), inputs, out.value());
  return Status::Ok();
}

// Gemm (transA = 0, alpha = beta = 1) or MatMul with a constant weight, as a fully
// connected layer: weight [O, I].
Result<std::pair<std::vector<float>, Dims>> dense_weight(const Graph& g, const Node& n, bool matmul) {
  const Constant* w = g.constant(n.inputs[1]);
  if (w == nullptr || !w->is_float || w->dims.size() != 2) {
    return unsupported(n, "the weight must be a constant matrix");
  }
  if (!matmul && (n.int_attr("transA", 0) != 0 || n.float_attr("alpha", 1) != 1.0f || n.float_attr("beta", 1) != 1.0f)) {
    return unsupported(n, "only transA=0, alpha=1, beta=1 are supported");
  }
  const bool transposed = !matmul && n.int_attr("transB", 0) != 0;  // then already [O, I]
  const int64_t rows = w->dims[0], cols = w->dims[1];
  if (transposed) return std::make_pair(w->floats, Dims{uint32_t(rows), uint32_t(cols)});
  std::vector<float> t(w->floats.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t o = 0; o < cols; ++o) t[o * rows + i] = w->floats[i * cols + o];
  return std::make_pair(t, Dims{uint32_t(cols), uint32_t(rows)});
}

Status Lowering::lower_gemm(const Node& n, bool matmul) {
  auto w = dense_weight(g_, n, matmul);
  if (!w.ok()) return w.status();
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  const uint32_t wt = b_.add_constant_fp32(n.inputs[1], w->second, w->first);
  std::vector<uint32_t> inputs = {x.value(), wt};
  if (!matmul && n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Constant* c = g_.constant(n.inputs[2]);
    if (c == nullptr || c->count() != w->second[0]) return unsupported(n, "the bias must be a constant of the output size");
    inputs.push_back(b_.add_constant_fp32(n.inputs[2], {w->second[0]}, c->floats));
  }
  schema::FullyConnectedOptionsT o;
  std::string out_name;
  o.activation = fuse_activation(n.outputs[0], &out_name);
  auto out = new_activation(out_name);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_FullyConnectedOptions, std::move(o)), inputs, out.value());
  return Status::Ok();
}

// Add, Mul, Sub, Div, Max, Min of two tensors, or of a tensor and a constant (broadcast
// in NHWC). Sub and Div keep their operand order (a constant first stays first).
Status Lowering::lower_binary(const Node& n) {
  if ((n.op == "Max" || n.op == "Min") && n.inputs.size() != 2) return unsupported(n, "only two inputs");
  const bool a_const = g_.constant(n.inputs[0]) != nullptr;
  const std::string& act_in = a_const ? n.inputs[1] : n.inputs[0];
  const std::string& other = a_const ? n.inputs[0] : n.inputs[1];
  const size_t rank = g_.values.at(act_in).shape.size();
  auto a = tensor(act_in);
  if (!a.ok()) return a.status();
  auto b = g_.constant(other) ? constant_operand(other, rank) : tensor(other);
  if (!b.ok()) return b.status();
  const bool ordered = n.op == "Sub" || n.op == "Div";
  const std::vector<uint32_t> inputs = ordered && a_const ? std::vector<uint32_t>{b.value(), a.value()}
                                                          : std::vector<uint32_t>{a.value(), b.value()};
  const bool has_activation = n.op != "Max" && n.op != "Min";
  std::string out_name = n.outputs[0];
  const schema::Activation act = has_activation ? fuse_activation(n.outputs[0], &out_name) : schema::Activation_NONE;
  auto out = new_activation(out_name);
  if (!out.ok()) return out.status();
  schema::OpOptionsUnion options;
  if (n.op == "Add") {
    schema::AddOptionsT o;
    o.activation = act;
    options = op_options(schema::OpOptions_AddOptions, std::move(o));
  } else if (n.op == "Mul") {
    schema::MultiplyOptionsT o;
    o.activation = act;
    options = op_options(schema::OpOptions_MultiplyOptions, std::move(o));
  } else if (n.op == "Sub") {
    schema::SubtractOptionsT o;
    o.activation = act;
    options = op_options(schema::OpOptions_SubtractOptions, std::move(o));
  } else if (n.op == "Div") {
    schema::DivideOptionsT o;
    o.activation = act;
    options = op_options(schema::OpOptions_DivideOptions, std::move(o));
  } else if (n.op == "Max") {
    options = op_options(schema::OpOptions_MaximumOptions, schema::MaximumOptionsT{});
  } else {
    options = op_options(schema::OpOptions_MinimumOptions, schema::MinimumOptionsT{});
  }
  add_op(n, std::move(options), inputs, out.value());
  return Status::Ok();
}

// PRelu with a constant slope of one value or one per channel ([C], [C,1,1], [1,C,1,1]):
// XNNPACK takes [C].
Status Lowering::lower_prelu(const Node& n) {
  const Constant* slope = g_.constant(n.inputs[1]);
  if (!slope || !slope->is_float) return unsupported(n, "the slope must be a float constant");
  const Value& in = g_.values.at(n.inputs[0]);
  if (in.shape.size() != 4 && in.shape.size() != 2) return unsupported(n, "only [N,C,H,W] or [N,C] inputs");
  const int64_t c = in.shape[1];
  if (slope->count() != 1 && slope->count() != c) {
    return unsupported(n, format("the slope has %lld values; one or one per channel (%lld) are supported",
                                 static_cast<long long>(slope->count()), static_cast<long long>(c)));
  }
  for (size_t d = 0; d < slope->dims.size(); ++d) {  // the values must lie along the channel axis
    const size_t from_end = slope->dims.size() - d;
    if (slope->dims[d] != 1 && slope->count() > 1 && from_end != (in.shape.size() == 4 ? 3u : 1u)) {
      return unsupported(n, "the slope must broadcast along the channels");
    }
  }
  std::vector<float> per_channel(static_cast<size_t>(c));
  for (int64_t i = 0; i < c; ++i) per_channel[i] = slope->floats[slope->count() == 1 ? 0 : i];
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  auto out = new_activation(n.outputs[0]);
  if (!out.ok()) return out.status();
  const uint32_t s = b_.add_constant_fp32(n.inputs[1] + "/per_channel", {static_cast<uint32_t>(c)}, per_channel);
  add_op(n, op_options(schema::OpOptions_PReluOptions, schema::PReluOptionsT{}), {x.value(), s}, out.value());
  return Status::Ok();
}

Status Lowering::lower_pool(const Node& n) {
  if (n.int_attr("ceil_mode", 0) != 0) return unsupported(n, "ceil_mode=1");
  const auto dil = n.ints_attr("dilations");
  if (!dil.empty() && (dil.size() != 2 || dil[0] != 1 || dil[1] != 1)) return unsupported(n, "dilated pooling");
  if (n.string_attr("auto_pad", "NOTSET") != "NOTSET" && n.string_attr("auto_pad", "NOTSET") != "VALID") {
    return unsupported(n, "auto_pad SAME; export with explicit pads");
  }
  const auto k = n.ints_attr("kernel_shape"), s = n.ints_attr("strides"), p = n.ints_attr("pads");
  if (k.size() != 2) return unsupported(n, "only 2-D pooling");
  schema::Pool2DOptionsT o;
  o.kernel_h = uint32_t(k[0]);
  o.kernel_w = uint32_t(k[1]);
  o.stride_h = s.size() == 2 ? uint32_t(s[0]) : 1;
  o.stride_w = s.size() == 2 ? uint32_t(s[1]) : 1;
  if (p.size() == 4) {
    o.pad_top = uint32_t(p[0]);
    o.pad_left = uint32_t(p[1]);
    o.pad_bottom = uint32_t(p[2]);
    o.pad_right = uint32_t(p[3]);
  }
  const bool padded = o.pad_top || o.pad_left || o.pad_bottom || o.pad_right;
  if (n.op == "AveragePool" && padded && n.int_attr("count_include_pad", 0) != 0) {
    return unsupported(n, "count_include_pad=1 with padding (edgeclr averages over the valid elements)");
  }
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  std::string out_name;
  o.activation = fuse_activation(n.outputs[0], &out_name);
  auto out = new_activation(out_name);
  if (!out.ok()) return out.status();
  const auto type = n.op == "MaxPool" ? schema::OpOptions_MaxPool2DOptions : schema::OpOptions_AveragePool2DOptions;
  add_op(n, op_options(type, std::move(o)), {x.value()}, out.value());
  return Status::Ok();
}

Status Lowering::lower_global_pool(const Node& n) {
  if (n.op == "ReduceMean") {
    std::vector<int64_t> axes = n.ints_attr("axes");
    if (axes.empty() && n.inputs.size() > 1 && g_.constant(n.inputs[1])) axes = g_.constant(n.inputs[1])->ints;
    for (int64_t& a : axes) a = a < 0 ? a + 4 : a;
    std::sort(axes.begin(), axes.end());
    if (axes != std::vector<int64_t>{2, 3}) return unsupported(n, "only the mean over H and W (axes 2, 3)");
  }
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  const bool keep = n.op == "GlobalAveragePool" || n.int_attr("keepdims", 1) != 0;
  const Dims& xd = b_.staged().backbone->tensors[x.value()]->shape;
  const uint32_t pooled = keep ? 0 : b_.add_activation(n.outputs[0] + "/pooled", {xd[0], 1, 1, xd[3]});
  auto out = new_activation(n.outputs[0]);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_GlobalAveragePoolOptions, schema::GlobalAveragePoolOptionsT{}), {x.value()},
         keep ? out.value() : pooled);
  if (!keep) {
    schema::ReshapeOptionsT r;
    r.new_shape = b_.staged().backbone->tensors[out.value()]->shape;
    add_op(n, op_options(schema::OpOptions_ReshapeOptions, std::move(r)), {pooled}, out.value());
  }
  return Status::Ok();
}

Status Lowering::lower_unary(const Node& n) {
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  auto out = new_activation(n.outputs[0]);
  if (!out.ok()) return out.status();
  if (n.op == "Relu" || n.op == "Clip") {
    schema::ClampOptionsT o;
    o.min = 0.0f;
    o.max = kInf;
    if (n.op == "Clip") {
      const Constant* lo = n.inputs.size() > 1 && !n.inputs[1].empty() ? g_.constant(n.inputs[1]) : nullptr;
      const Constant* hi = n.inputs.size() > 2 && !n.inputs[2].empty() ? g_.constant(n.inputs[2]) : nullptr;
      if ((n.inputs.size() > 1 && !n.inputs[1].empty() && !lo) || (n.inputs.size() > 2 && !n.inputs[2].empty() && !hi)) {
        return unsupported(n, "min and max must be constants");
      }
      o.min = lo ? lo->floats.at(0) : n.float_attr("min", -kInf);
      o.max = hi ? hi->floats.at(0) : n.float_attr("max", kInf);
    }
    add_op(n, op_options(schema::OpOptions_ClampOptions, std::move(o)), {x.value()}, out.value());
  } else if (n.op == "LeakyRelu") {
    schema::LeakyReluOptionsT o;
    o.alpha = n.float_attr("alpha", 0.01f);
    add_op(n, op_options(schema::OpOptions_LeakyReluOptions, std::move(o)), {x.value()}, out.value());
  } else if (n.op == "Sigmoid") {
    add_op(n, op_options(schema::OpOptions_SigmoidOptions, schema::SigmoidOptionsT{}), {x.value()}, out.value());
  } else if (n.op == "Elu") {
    schema::EluOptionsT o;
    o.alpha = n.float_attr("alpha", 1.0f);
    add_op(n, op_options(schema::OpOptions_EluOptions, std::move(o)), {x.value()}, out.value());
  } else {
    add_op(n, op_options(schema::OpOptions_HardSwishOptions, schema::HardSwishOptionsT{}), {x.value()}, out.value());
  }
  return Status::Ok();
}

// Reshape and Flatten move no data only when they do not mix NCHW and NHWC: the 4-D side
// (if any) must have H = W = 1.
Status Lowering::lower_reshape(const Node& n) {
  const Value& in = g_.values.at(n.inputs[0]);
  const Value& out_v = g_.values.at(n.outputs[0]);
  const auto spatial_one = [](const Value& v) { return v.shape.size() != 4 || (v.shape[2] == 1 && v.shape[3] == 1); };
  if (n.op == "Reshape" && g_.constant(n.inputs[1]) == nullptr) return unsupported(n, "the shape must be constant");
  if (n.op == "Flatten" && n.int_attr("axis", 1) != 1) return unsupported(n, "only axis=1");
  if (!spatial_one(in) || !spatial_one(out_v)) {
    return unsupported(n, "reshaping a feature map with H or W > 1 would reorder NHWC data; only flattening "
                          "[N,C,1,1] and vectors is supported");
  }
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  auto out = new_activation(n.outputs[0]);
  if (!out.ok()) return out.status();
  schema::ReshapeOptionsT o;
  o.new_shape = b_.staged().backbone->tensors[out.value()]->shape;
  add_op(n, op_options(schema::OpOptions_ReshapeOptions, std::move(o)), {x.value()}, out.value());
  return Status::Ok();
}

Status Lowering::lower_pad(const Node& n) {
  if (n.string_attr("mode", "constant") != "constant") return unsupported(n, "only constant padding");
  const Constant* pads = n.inputs.size() > 1 ? g_.constant(n.inputs[1]) : nullptr;
  std::vector<int64_t> p = pads ? pads->ints : n.ints_attr("pads");
  const size_t rank = g_.values.at(n.inputs[0]).shape.size();
  if (n.inputs.size() > 3 && !n.inputs[3].empty()) {  // opset 18: pads for these axes only
    const Constant* axes = g_.constant(n.inputs[3]);
    if (!axes || p.size() != 2 * axes->ints.size()) return unsupported(n, "axes must be constant, with two pads each");
    std::vector<int64_t> full(2 * rank, 0);
    for (size_t i = 0; i < axes->ints.size(); ++i) {
      const int64_t axis = axes->ints[i] < 0 ? axes->ints[i] + int64_t(rank) : axes->ints[i];
      if (axis < 0 || axis >= int64_t(rank)) return unsupported(n, "an axis out of range");
      full[size_t(axis)] = p[i];
      full[rank + size_t(axis)] = p[axes->ints.size() + i];
    }
    p = full;
  }
  if (p.size() != 2 * rank) return unsupported(n, "pads must be constant, two per dimension");
  for (int64_t v : p) {
    if (v < 0) return unsupported(n, "negative pads (cropping)");
  }
  float value = n.float_attr("value", 0.0f);  // an attribute before opset 11, an input from 11 on
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    if (!g_.constant(n.inputs[2])) return unsupported(n, "the padding value must be constant");
    value = g_.constant(n.inputs[2])->floats.at(0);
  }
  schema::PadOptionsT o;
  for (size_t i = 0; i < rank; ++i) {
    o.pre_pad.push_back(uint32_t(p[i]));
    o.post_pad.push_back(uint32_t(p[rank + i]));
  }
  if (rank == 4) {  // NCHW -> NHWC
    o.pre_pad = {o.pre_pad[0], o.pre_pad[2], o.pre_pad[3], o.pre_pad[1]};
    o.post_pad = {o.post_pad[0], o.post_pad[2], o.post_pad[3], o.post_pad[1]};
  }
  o.value = value;
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  auto out = new_activation(n.outputs[0]);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_PadOptions, std::move(o)), {x.value()}, out.value());
  return Status::Ok();
}

// BatchNormalization not after a Conv: y = x * k + (beta - mean * k), k = gamma / sqrt(var + eps).
Status Lowering::lower_batch_norm(const Node& n) {
  const Constant *scale = g_.constant(n.inputs[1]), *shift = g_.constant(n.inputs[2]), *mean = g_.constant(n.inputs[3]),
                 *var = g_.constant(n.inputs[4]);
  if (!scale || !shift || !mean || !var) return unsupported(n, "parameters must be constants");
  const size_t rank = g_.values.at(n.inputs[0]).shape.size();
  const auto c = static_cast<uint32_t>(scale->count());
  std::vector<float> k(c), offset(c);
  const float eps = n.float_attr("epsilon", 1e-5f);
  for (uint32_t i = 0; i < c; ++i) {
    k[i] = static_cast<float>(scale->floats[i] / std::sqrt(double{var->floats[i]} + eps));
    offset[i] = shift->floats[i] - mean->floats[i] * k[i];
  }
  const Dims dims = rank == 4 ? Dims{1, 1, 1, c} : Dims{1, c};
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  const uint32_t kt = b_.add_constant_fp32(n.name + "/scale", dims, k);
  const uint32_t ot = b_.add_constant_fp32(n.name + "/offset", dims, offset);
  const uint32_t scaled = b_.add_activation(n.outputs[0] + "/scaled", b_.staged().backbone->tensors[x.value()]->shape);
  add_op(n, op_options(schema::OpOptions_MultiplyOptions, schema::MultiplyOptionsT{}), {x.value(), kt}, scaled);
  std::string out_name;
  schema::AddOptionsT add;
  add.activation = fuse_activation(n.outputs[0], &out_name);
  auto out = new_activation(out_name);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_AddOptions, std::move(add)), {scaled, ot}, out.value());
  return Status::Ok();
}

// HardSigmoid: max(0, min(1, alpha * x + beta)) as multiply, add, clamp.
Status Lowering::lower_hard_sigmoid(const Node& n) {
  auto x = tensor(n.inputs[0]);
  if (!x.ok()) return x.status();
  const Dims shape = b_.staged().backbone->tensors[x.value()]->shape;
  const uint32_t alpha = b_.add_constant_fp32(n.name + "/alpha", {1}, {n.float_attr("alpha", 0.2f)});
  const uint32_t beta = b_.add_constant_fp32(n.name + "/beta", {1}, {n.float_attr("beta", 0.5f)});
  const uint32_t scaled = b_.add_activation(n.outputs[0] + "/scaled", shape);
  const uint32_t shifted = b_.add_activation(n.outputs[0] + "/shifted", shape);
  add_op(n, op_options(schema::OpOptions_MultiplyOptions, schema::MultiplyOptionsT{}), {x.value(), alpha}, scaled);
  add_op(n, op_options(schema::OpOptions_AddOptions, schema::AddOptionsT{}), {scaled, beta}, shifted);
  auto out = new_activation(n.outputs[0]);
  if (!out.ok()) return out.status();
  schema::ClampOptionsT clamp;
  clamp.min = 0.0f;
  clamp.max = 1.0f;
  add_op(n, op_options(schema::OpOptions_ClampOptions, std::move(clamp)), {shifted}, out.value());
  return Status::Ok();
}

Status Lowering::lower_node(size_t index) {
  const Node& n = g_.nodes[index];
  if (n.op == "Conv") return lower_conv(n);
  if (n.op == "Gemm") return lower_gemm(n, false);
  if (n.op == "MatMul" && g_.constant(n.inputs[1])) return lower_gemm(n, true);
  if (n.op == "Add" || n.op == "Mul" || n.op == "Sub" || n.op == "Div" || n.op == "Max" || n.op == "Min") {
    return lower_binary(n);
  }
  if (n.op == "PRelu") return lower_prelu(n);
  if (n.op == "MaxPool" || n.op == "AveragePool") return lower_pool(n);
  if (n.op == "GlobalAveragePool" || n.op == "ReduceMean") return lower_global_pool(n);
  if (n.op == "Relu" || n.op == "Clip" || n.op == "LeakyRelu" || n.op == "Sigmoid" || n.op == "HardSwish" ||
      n.op == "Elu") {
    return lower_unary(n);
  }
  if (n.op == "HardSigmoid") return lower_hard_sigmoid(n);
  if (n.op == "Reshape" || n.op == "Flatten") return lower_reshape(n);
  if (n.op == "Pad") return lower_pad(n);
  if (n.op == "BatchNormalization") return lower_batch_norm(n);
  return unsupported(n, std::string("not supported; supported: ") + kSupported);
}

Status Lowering::build_head() {
  std::vector<DenseLayer> layers;
  for (size_t i : head_nodes_) {
    const Node& n = g_.nodes[i];
    if (n.op == "Gemm" || n.op == "MatMul") {
      auto w = dense_weight(g_, n, n.op == "MatMul");
      if (!w.ok()) return w.status();
      DenseLayer layer;
      layer.out_dim = w->second[0];
      layer.in_dim = w->second[1];
      layer.weight = w->first;
      if (n.op == "Gemm" && n.inputs.size() > 2 && !n.inputs[2].empty()) {
        const Constant* c = g_.constant(n.inputs[2]);
        if (!c || c->count() != layer.out_dim) return unsupported(n, "the bias must be a constant of the output size");
        layer.bias = c->floats;
      }
      layers.push_back(std::move(layer));
    } else if (n.op == "Add") {
      const Constant* c = g_.constant(n.inputs[1]);
      if (layers.empty() || !layers.back().bias.empty() || c->count() != layers.back().out_dim) {
        return unsupported(n, "a head Add must be the bias of the MatMul before it");
      }
      layers.back().bias = c->floats;
    } else if (n.op == "Relu") {
      layers.back().activation = schema::Activation_RELU;
    }
  }
  for (DenseLayer& l : layers) b_.add_head_layer(l.in_dim, l.out_dim, l.weight, l.bias, l.activation);
  return Status::Ok();
}

Result<ModelBuilder> Lowering::run() {
  EDGECLR_RETURN_IF_ERROR(set_input());
  EDGECLR_RETURN_IF_ERROR(split_head());
  // Only what the feature depends on.
  std::set<std::string> needed = {feature_};
  std::vector<bool> live(g_.nodes.size(), false);
  for (size_t i = g_.nodes.size(); i-- > 0;) {
    const Node& n = g_.nodes[i];
    if (skip_.count(i) || !needed.count(n.outputs[0])) continue;
    live[i] = true;
    needed.insert(n.inputs.begin(), n.inputs.end());
  }
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    if (live[i] && !skip_.count(i)) EDGECLR_RETURN_IF_ERROR(lower_node(i));
  }
  const auto it = tensors_.find(feature_);
  if (it == tensors_.end() || it->second == input_tensor_) {
    return error(StatusCode::kUnsupported, "no backbone operator computes the feature '" + feature_ + "'");
  }
  uint32_t feature = it->second;
  const Dims fd = b_.staged().backbone->tensors[feature]->shape;
  const bool spatial = fd.size() == 4 && (fd[1] != 1 || fd[2] != 1);
  if (spatial && !options_.flatten_spatial_feature) {
    return error(StatusCode::kUnsupported,
                 format("the feature '%s' is a [1,%u,%u,%u] map, not a vector; end the backbone with global "
                        "pooling, or name another tensor with --feature-output", feature_.c_str(), fd[3], fd[1], fd[2]));
  }
  if (fd.size() != 2) {  // [1,H,W,C] or [1,C] of another rank -> [1, H*W*C]
    uint32_t count = 1;
    for (size_t i = 1; i < fd.size(); ++i) count *= fd[i];
    const uint32_t flat = b_.add_activation(feature_ + "/flat", {fd[0], count});
    schema::ReshapeOptionsT o;
    o.new_shape = {fd[0], count};
    b_.add_operator(feature_ + "/flatten", op_options(schema::OpOptions_ReshapeOptions, std::move(o)), {feature}, {flat});
    feature = flat;
  }
  b_.set_graph(input_tensor_, feature);
  EDGECLR_RETURN_IF_ERROR(build_head());
  const uint32_t feature_dim = b_.staged().backbone->tensors[feature]->shape.back();
  const auto& layers = b_.staged().head->layers;
  b_.set_embedding(layers.empty() ? feature_dim : layers.back()->out_dim, options_.l2_normalize);
  b_.set_provenance("edgeclr-convert 0.1.0", options_.source_model);
  b_.add_metadata("feature_output", feature_);
  return std::move(b_);
}

}  // namespace

const char* supported_op_types() { return kSupported; }

Result<ModelBuilder> lower_to_eclr(const Graph& graph, const LowerOptions& options) {
  return Lowering(graph, options).run();
}

}  // namespace edgeclr::convert
