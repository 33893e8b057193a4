// Lowering: values and their layouts, the input, the head split, and the driver. The
// operators are in lower_image_ops.cpp and lower_tensor_ops.cpp (lowering.h).
#include "convert/lower.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "convert/lowering.h"
#include "head/projection_head.h"

namespace edgeclr::convert {

const char* kSupported =
    "Conv, BatchNormalization, Relu, Clip, LeakyRelu, PRelu, Elu, Sigmoid, Tanh, HardSigmoid, HardSwish, Add, Sub, Mul, "
    "Div, Max, Min (two inputs), GlobalAveragePool, ReduceMean, MaxPool (ceil_mode too), AveragePool, Flatten, "
    "Reshape, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Gather (constant index), Gemm, MatMul, Einsum (batched matrix products), Softmax, "
    "LayerNormalization (and its decomposed form), GELU (Erf and tanh forms), Pad (constant), Identity, Dropout, "
    "Constant, and what depends only on constants and the input's size (Shape, Cast, Where, Equal, Expand, "
    "ConstantOfShape, Range, Resize, ...)";

Status unsupported(const Node& n, const std::string& why) {
  return error(StatusCode::kUnsupported, format("node '%s' (%s): %s", n.name.c_str(), n.op.c_str(), why.c_str()));
}

namespace {

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

Dims to_dims(const std::vector<int64_t>& d) { return Dims(d.begin(), d.end()); }

// Two layouts of one value that differ only in where its size-1 axes go: the same bytes.
bool same_bytes(const std::vector<int64_t>& dims, const Layout& a, const Layout& b) {
  std::vector<uint32_t> x, y;
  for (uint32_t v : a) if (dims[v] != 1) x.push_back(v);
  for (uint32_t v : b) if (dims[v] != 1) y.push_back(v);
  return x == y;
}

}  // namespace

Result<std::vector<int64_t>> Lowering::onnx_dims(const std::string& value) const {
  const Value& v = g_.values.at(value);
  if (!v.shape_known) return error(StatusCode::kUnsupported, "shape of '" + value + "' is unknown after shape inference");
  std::vector<int64_t> d;
  for (size_t i = 0; i < v.shape.size(); ++i) {
    const int64_t x = v.shape[i] < 0 && i == 0 ? 1 : v.shape[i];
    if (x <= 0 || x > (int64_t{1} << 20)) {
      return error(StatusCode::kUnsupported, format("dimension %zu of '%s' is %lld", i, value.c_str(), (long long)v.shape[i]));
    }
    d.push_back(x);
  }
  if (d.empty()) d.push_back(1);  // a scalar is stored as [1]
  if (d.size() > 6) return error(StatusCode::kUnsupported, format("'%s' has rank %zu; edgeclr stores up to 6", value.c_str(), d.size()));
  return d;
}

Result<Lowering::Lowered> Lowering::lowered(const std::string& value) {
  const auto it = lowered_.find(value);
  if (it != lowered_.end()) return it->second;
  return error(StatusCode::kUnsupported, "value '" + value + "' is neither computed by a supported node nor a float constant");
}

Result<uint32_t> Lowering::value_in(const std::string& value, const Layout& layout) {
  const std::string key = value + "@" + layout_string(layout);
  const auto cached = laid_out_.find(key);
  if (cached != laid_out_.end()) return cached->second;
  if (const Constant* c = g_.constant(value)) {
    if (!c->is_float) return error(StatusCode::kUnsupported, "value '" + value + "' is an integer constant used as data");
    std::vector<int64_t> dims = c->dims.empty() ? std::vector<int64_t>{1} : c->dims;
    if (dims.size() != layout.size()) {
      return error(StatusCode::kUnsupported, format("constant '%s' has rank %zu where rank %zu is needed", value.c_str(),
                                                    dims.size(), layout.size()));
    }
    const uint32_t t = b_.add_constant_fp32(value, to_dims(stored_dims(dims, layout)), permute_data(c->floats, dims, layout));
    laid_out_[key] = t;
    return t;
  }
  auto have = lowered(value);
  if (!have.ok()) return have.status();
  if (have->layout == layout) return have->tensor;
  auto dims = onnx_dims(value);
  if (!dims.ok()) return dims.status();
  const Dims out = to_dims(stored_dims(dims.value(), layout));
  const uint32_t t = new_step(value + "@" + layout_string(layout), out);
  if (same_bytes(dims.value(), have->layout, layout)) {
    schema::ReshapeOptionsT o;
    o.new_shape = out;
    add_op(value + "/relayout", op_options(schema::OpOptions_ReshapeOptions, std::move(o)), {have->tensor}, t);
  } else {
    schema::TransposeOptionsT o;
    o.perm = transpose_between(have->layout, layout);
    add_op(value + "/transpose", op_options(schema::OpOptions_TransposeOptions, std::move(o)), {have->tensor}, t);
  }
  laid_out_[key] = t;
  return t;
}

Result<uint32_t> Lowering::broadcast_constant(const std::string& value, size_t rank, const Layout& layout) {
  const Constant* c = g_.constant(value);
  if (c == nullptr || !c->is_float) return error(StatusCode::kUnsupported, "value '" + value + "' is not a float constant");
  if (c->dims.size() > rank) return error(StatusCode::kUnsupported, "constant '" + value + "' has a higher rank than the tensor it meets");
  const std::string key = value + "@rank" + std::to_string(rank) + layout_string(layout);
  const auto cached = laid_out_.find(key);
  if (cached != laid_out_.end()) return cached->second;
  std::vector<int64_t> dims = c->dims;
  dims.insert(dims.begin(), rank - dims.size(), 1);
  const uint32_t t = b_.add_constant_fp32(value, to_dims(stored_dims(dims, layout)), permute_data(c->floats, dims, layout));
  laid_out_[key] = t;
  return t;
}

Result<uint32_t> Lowering::new_value(const std::string& value, const Layout& layout) {
  auto dims = onnx_dims(value);
  if (!dims.ok()) return dims.status();
  if (dims->size() != layout.size()) {
    return error(StatusCode::kInternal, format("layout %s for '%s' of rank %zu", layout_string(layout).c_str(),
                                               value.c_str(), dims->size()));
  }
  const uint32_t t = b_.add_activation(value, to_dims(stored_dims(dims.value(), layout)));
  lowered_[value] = Lowered{t, layout};
  return t;
}

void Lowering::alias(const std::string& value, uint32_t tensor, const Layout& layout) {
  lowered_[value] = Lowered{tensor, layout};
}

uint32_t Lowering::new_step(const std::string& name, const Dims& dims) { return b_.add_activation(name, dims); }

void Lowering::add_op(const Node& n, schema::OpOptionsUnion options, std::vector<uint32_t> inputs, uint32_t output) {
  b_.add_operator(n.name, std::move(options), std::move(inputs), {output});
}

void Lowering::add_op(const std::string& name, schema::OpOptionsUnion options, std::vector<uint32_t> inputs,
                      uint32_t output) {
  b_.add_operator(name, std::move(options), std::move(inputs), {output});
}

schema::Activation Lowering::fuse_activation(const std::string& out, std::string* final_out) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
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
  alias(g_.input, input_tensor_, nhwc_layout());
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
    const Constant* w = n.op == "Gemm" || n.op == "MatMul" ? g_.constant(n.inputs[1]) : nullptr;
    const bool dense = (n.op == "Gemm" || n.op == "MatMul") && w != nullptr && w->dims.size() == 2 &&
                       rank_of(n.inputs[0]) == 2;
    const bool bias = n.op == "Add" && g_.constant(n.inputs[1]) && rank_of(n.inputs[0]) == 2;
    if (!dense && !bias && n.op != "Relu") break;
    if (g_.consumers(n.outputs[0]).size() != 1) break;
    chain.push_back(static_cast<size_t>(producer - g_.nodes.begin()));
    value = n.inputs[0];
  }
  if (!options_.feature_output.empty() && value != options_.feature_output) {
    // The nodes between the named feature and the output are not a head: cut there and
    // let them go (the embedding is then the feature, unless a head is given).
    chain.clear();
    value = options_.feature_output;
    if (!g_.values.count(value)) {
      return error(StatusCode::kInvalidArgument, "--feature-output '" + value + "': the graph has no such value");
    }
  }
  // A head starts with a dense layer: drop leading activations/adds back into the backbone.
  while (!chain.empty() && g_.nodes[chain.back()].op != "Gemm" && g_.nodes[chain.back()].op != "MatMul") {
    value = g_.nodes[chain.back()].outputs[0];
    chain.pop_back();
  }
  feature_ = chain.empty() && options_.feature_output.empty() ? g_.output : value;
  head_nodes_.assign(chain.rbegin(), chain.rend());
  skip_.insert(chain.begin(), chain.end());
  return Status::Ok();
}

Status Lowering::lower_node(size_t index) {
  const Node& n = g_.nodes[index];
  const std::string& op = n.op;
  if (op == "Conv") return lower_conv(n);
  if (op == "Gemm") return lower_gemm(n);
  if (op == "MatMul") return lower_matmul(n);
  if (op == "Add" || op == "Mul" || op == "Sub" || op == "Div" || op == "Max" || op == "Min") return lower_binary(n);
  if (op == "PRelu") return lower_prelu(n);
  if (op == "MaxPool" || op == "AveragePool") return lower_pool(n);
  if (op == "GlobalAveragePool") return lower_global_pool(n);
  if (op == "ReduceMean") return lower_reduce_mean(n);
  if (op == "Relu" || op == "Clip" || op == "LeakyRelu" || op == "Sigmoid" || op == "HardSwish" || op == "Elu") {
    return lower_unary(n);
  }
  if (op == "HardSigmoid") return lower_hard_sigmoid(n);
  if (op == "Tanh") return lower_tanh(n);
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") return lower_reshape(n);
  if (op == "Transpose") return lower_transpose(n);
  if (op == "Concat") return lower_concat(n);
  if (op == "Slice") return lower_slice(n);
  if (op == "Split") return lower_split(n);
  if (op == "Gather") return lower_gather(n);
  if (op == "Softmax") return lower_softmax(n);
  if (op == "LayerNormalization") return lower_layer_norm(n);
  if (op == "Gelu") return lower_gelu(n);  // written by fuse_gelu (graph_passes.h), or ONNX opset 20
  if (op == "Pad") return lower_pad(n);
  if (op == "BatchNormalization") return lower_batch_norm(n);
  if (op == "Cast") {  // the computed path is fp32 throughout: only a cast to float (a no-op) is one
    if (n.int_attr("to", 0) != 1) return unsupported(n, "only a cast to float of computed data");
    auto x = lowered(n.inputs[0]);
    if (!x.ok()) return x.status();
    alias(n.outputs[0], x->tensor, x->layout);
    return Status::Ok();
  }
  return unsupported(n, std::string("not supported; supported: ") + kSupported);
}

// The feature as the runtime wants it, [1, D]: a vector as it lies, a feature map flattened
// in H, W, C order (flatten_spatial_feature), any other tensor flattened in ONNX's order.
Status Lowering::finish_feature() {
  if (!options_.token_pool.empty()) {
    auto pooled = pool_tokens(feature_ + "/" + options_.token_pool);
    if (!pooled.ok()) return pooled.status();
    b_.set_graph(input_tensor_, pooled.value());
    return Status::Ok();
  }
  auto f = lowered(feature_);
  if (!f.ok()) return error(StatusCode::kUnsupported, "no backbone operator computes the feature '" + feature_ + "'");
  if (f->tensor == input_tensor_) return error(StatusCode::kUnsupported, "no backbone operator computes the feature '" + feature_ + "'");
  auto dims = onnx_dims(feature_);
  if (!dims.ok()) return dims.status();
  const std::vector<int64_t>& d = dims.value();
  size_t wide_axes = 0;
  for (size_t i = 1; i < d.size(); ++i) wide_axes += d[i] > 1;
  const bool spatial = d.size() == 4 && (d[2] != 1 || d[3] != 1);
  if (spatial && !options_.flatten_spatial_feature) {
    return error(StatusCode::kUnsupported,
                 format("the feature '%s' is a [1,%lld,%lld,%lld] map, not a vector; end the backbone with global "
                        "pooling, name another tensor with --feature-output, or pool tokens with --pool",
                        feature_.c_str(), (long long)d[1], (long long)d[2], (long long)d[3]));
  }
  uint32_t feature = f->tensor;
  if (wide_axes > 1) {
    auto laid = value_in(feature_, spatial ? nhwc_layout() : identity_layout(d.size()));
    if (!laid.ok()) return laid.status();
    feature = laid.value();
  }
  const Dims fd = stored_shape(feature);
  if (fd.size() != 2 || fd[0] != 1) {  // [1, everything]: also when the batch axis was squeezed away
    uint32_t count = 1;
    for (uint32_t v : fd) count *= v;
    const uint32_t flat = b_.add_activation(feature_ + "/flat", {1, count});
    schema::ReshapeOptionsT o;
    o.new_shape = {1, count};
    add_op(feature_ + "/flatten", op_options(schema::OpOptions_ReshapeOptions, std::move(o)), {feature}, flat);
    feature = flat;
  }
  b_.set_graph(input_tensor_, feature);
  return Status::Ok();
}

// Class token: a slice of token 0. Patch mean: a slice of tokens 1..T-1 and a mean over
// them. Both in the layout the tokens are stored in, with the channels last.
Result<uint32_t> Lowering::pool_tokens(const std::string& pooled) {
  const std::string& how = options_.token_pool;
  if (how != "cls" && how != "mean" && how != "cls+mean") {
    return error(StatusCode::kInvalidArgument, "--pool must be cls, mean or cls+mean, got '" + how + "'");
  }
  auto dims = onnx_dims(feature_);
  if (!dims.ok()) return dims.status();
  const std::vector<int64_t>& d = dims.value();
  if (d.size() != 3 || d[0] != 1 || d[1] < 2) {
    return error(StatusCode::kUnsupported, format("--pool %s needs a token tensor [1,T,C] with T >= 2; '%s' is rank %zu",
                                                  how.c_str(), feature_.c_str(), d.size()));
  }
  auto have = lowered(feature_);
  if (!have.ok()) return have.status();
  const Layout layout = have->layout.back() == 2 ? have->layout : with_axis_last(have->layout, 2);
  auto tokens = value_in(feature_, layout);
  if (!tokens.ok()) return tokens.status();
  const uint32_t c = uint32_t(d[2]);
  std::vector<uint32_t> parts;
  if (how != "mean") {
    auto cls = slice_axis(pooled + "/cls_token", tokens.value(), d, layout, 1, 0, 1);
    if (!cls.ok()) return cls.status();
    const uint32_t flat = new_step(pooled + "/cls", {1, c});
    schema::ReshapeOptionsT r;
    r.new_shape = {1, c};
    add_op(pooled + "/cls", op_options(schema::OpOptions_ReshapeOptions, std::move(r)), {cls.value()}, flat);
    parts.push_back(flat);
  }
  if (how != "cls") {
    auto patches = slice_axis(pooled + "/patches", tokens.value(), d, layout, 1, 1, d[1] - 1);
    if (!patches.ok()) return patches.status();
    schema::MeanOptionsT o;
    o.axes = {inverse(layout)[1]};
    o.keep_dims = false;
    const uint32_t mean = new_step(pooled + "/mean", {1, c});
    add_op(pooled + "/mean", op_options(schema::OpOptions_MeanOptions, std::move(o)), {patches.value()}, mean);
    parts.push_back(mean);
  }
  uint32_t out = parts[0];
  if (parts.size() == 2) {
    out = new_step(pooled, {1, 2 * c});
    schema::ConcatOptionsT o;
    o.axis = 1;
    add_op(pooled + "/concat", op_options(schema::OpOptions_ConcatOptions, std::move(o)), parts, out);
  }
  return out;
}

// Gemm (transA = 0, alpha = beta = 1) or MatMul with a constant weight, as a dense layer:
// weight [O, I].
Result<std::pair<std::vector<float>, Dims>> dense_weight(const Graph& g, const Node& n) {
  const bool matmul = n.op == "MatMul";
  const Constant* w = g.constant(n.inputs[1]);
  if (w == nullptr || !w->is_float || w->dims.size() != 2) return unsupported(n, "the weight must be a constant matrix");
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

Status Lowering::build_head() {
  std::vector<DenseLayer> layers;
  for (size_t i : head_nodes_) {
    const Node& n = g_.nodes[i];
    if (n.op == "Gemm" || n.op == "MatMul") {
      auto w = dense_weight(g_, n);
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
    if (skip_.count(i)) continue;
    if (std::none_of(n.outputs.begin(), n.outputs.end(), [&](const std::string& o) { return needed.count(o) != 0; })) continue;
    live[i] = true;
    needed.insert(n.inputs.begin(), n.inputs.end());
  }
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    if (live[i] && !skip_.count(i)) EDGECLR_RETURN_IF_ERROR(lower_node(i));
  }
  EDGECLR_RETURN_IF_ERROR(finish_feature());
  EDGECLR_RETURN_IF_ERROR(build_head());
  const Dims& fd = stored_shape(b_.staged().backbone->feature);
  const auto& layers = b_.staged().head->layers;
  b_.set_embedding(layers.empty() ? fd.back() : layers.back()->out_dim, options_.l2_normalize);
  b_.set_provenance("edgeclr-convert 0.1.0", options_.source_model);
  b_.add_metadata("feature_output", feature_);
  if (!options_.token_pool.empty()) b_.add_metadata("feature_pool", options_.token_pool);
  return std::move(b_);
}

const char* supported_op_types() { return kSupported; }

Result<ModelBuilder> lower_to_eclr(const Graph& graph, const LowerOptions& options) {
  return Lowering(graph, options).run();
}

}  // namespace edgeclr::convert
