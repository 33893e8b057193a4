// Lowering of the operators on image maps (convolution, pooling, batch norm, prelu: NHWC)
// and of the elementwise ones (any layout: they keep their input's).
#include <algorithm>
#include <cmath>
#include <limits>

#include "convert/lowering.h"

namespace edgeclr::convert {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// ONNX MaxPool with ceil_mode = 1: the output count rounds up, but a window that would
// start in the end padding is dropped. Returns the extra end padding that makes the
// floor formula give that count (padding never wins a max).
int64_t ceil_mode_extra(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t kernel, int64_t stride) {
  const int64_t span = in + pad_begin + pad_end - kernel;
  int64_t out = (span + stride - 1) / stride + 1;
  if ((out - 1) * stride >= in + pad_begin) --out;
  return std::max<int64_t>(0, (out - 1) * stride + kernel - (in + pad_begin + pad_end));
}

}  // namespace

Status Lowering::lower_conv(const Node& n) {
  const Constant* w = g_.constant(n.inputs[1]);
  if (w == nullptr || !w->is_float || w->dims.size() != 4) {
    return unsupported(n, "the weight must be a float constant [O, I/group, KH, KW]");
  }
  const std::string auto_pad = n.string_attr("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return unsupported(n, "auto_pad " + auto_pad + "; export with explicit pads");
  auto x = value_in(n.inputs[0], nhwc_layout());
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
  // ONNX weight [O, I/g, KH, KW] -> edgeclr [O, KH, KW, I/g]: the NHWC layout of a 4-D constant.
  const Dims wdims = {static_cast<uint32_t>(w->dims[0]), o.kernel_h, o.kernel_w, static_cast<uint32_t>(w->dims[1])};
  const uint32_t wt = b_.add_constant_fp32(n.inputs[1], wdims, permute_data(w->floats, w->dims, nhwc_layout()));
  std::vector<uint32_t> inputs = {x.value(), wt};
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    auto bias = value_in(n.inputs[2], {0});
    if (!bias.ok()) return bias.status();
    inputs.push_back(bias.value());
  }
  auto out = new_value(out_name, nhwc_layout());
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_Conv2DOptions, std::move(o)), inputs, out.value());
  return Status::Ok();
}

Status Lowering::lower_pool(const Node& n) {
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
  if (n.int_attr("ceil_mode", 0) != 0) {
    auto dims = onnx_dims(n.inputs[0]);
    if (!dims.ok()) return dims.status();
    const int64_t extra_h = ceil_mode_extra((*dims)[2], o.pad_top, o.pad_bottom, o.kernel_h, o.stride_h);
    const int64_t extra_w = ceil_mode_extra((*dims)[3], o.pad_left, o.pad_right, o.kernel_w, o.stride_w);
    if (n.op == "AveragePool" && (extra_h || extra_w)) {
      return unsupported(n, "ceil_mode=1 that adds a partial window to an average pool");
    }
    o.pad_bottom += uint32_t(extra_h);
    o.pad_right += uint32_t(extra_w);
  }
  const bool padded = o.pad_top || o.pad_left || o.pad_bottom || o.pad_right;
  if (n.op == "AveragePool" && padded && n.int_attr("count_include_pad", 0) != 0) {
    return unsupported(n, "count_include_pad=1 with padding (edgeclr averages over the valid elements)");
  }
  if (o.kernel_h == 1 && o.kernel_w == 1 && o.stride_h == 1 && o.stride_w == 1 && !padded) {
    // A 1x1 window is the identity (AdaptiveAvgPool to the size it already has, as VGG
    // and AlexNet export at 224x224); XNNPACK refuses a 1x1 pooling window.
    auto x = lowered(n.inputs[0]);
    if (!x.ok()) return x.status();
    alias(n.outputs[0], x->tensor, x->layout);
    return Status::Ok();
  }
  auto x = value_in(n.inputs[0], nhwc_layout());
  if (!x.ok()) return x.status();
  std::string out_name;
  o.activation = fuse_activation(n.outputs[0], &out_name);
  auto out = new_value(out_name, nhwc_layout());
  if (!out.ok()) return out.status();
  const auto type = n.op == "MaxPool" ? schema::OpOptions_MaxPool2DOptions : schema::OpOptions_AveragePool2DOptions;
  add_op(n, op_options(type, std::move(o)), {x.value()}, out.value());
  return Status::Ok();
}

// GlobalAveragePool, and ReduceMean over H and W of an image map: global average pooling,
// which both XNNPACK generations run (int8 too).
Status Lowering::lower_global_pool(const Node& n) {
  if (rank_of(n.inputs[0]) != 4) return unsupported(n, "the input must be [N,C,H,W]");
  auto x = value_in(n.inputs[0], nhwc_layout());
  if (!x.ok()) return x.status();
  const bool keep = n.op == "GlobalAveragePool" || n.int_attr("keepdims", 1) != 0;
  const Dims& xd = stored_shape(x.value());
  if (keep) {
    auto out = new_value(n.outputs[0], nhwc_layout());
    if (!out.ok()) return out.status();
    add_op(n, op_options(schema::OpOptions_GlobalAveragePoolOptions, schema::GlobalAveragePoolOptionsT{}), {x.value()},
           out.value());
    return Status::Ok();
  }
  const uint32_t pooled = new_step(n.outputs[0] + "/pooled", {xd[0], 1, 1, xd[3]});
  add_op(n, op_options(schema::OpOptions_GlobalAveragePoolOptions, schema::GlobalAveragePoolOptionsT{}), {x.value()},
         pooled);
  auto out = new_value(n.outputs[0], identity_layout(2));
  if (!out.ok()) return out.status();
  schema::ReshapeOptionsT r;
  r.new_shape = stored_shape(out.value());
  add_op(n, op_options(schema::OpOptions_ReshapeOptions, std::move(r)), {pooled}, out.value());
  return Status::Ok();
}

// BatchNormalization not after a Conv: y = x * k + (beta - mean * k), k = gamma / sqrt(var + eps),
// per channel (ONNX axis 1), in the input's layout.
Status Lowering::lower_batch_norm(const Node& n) {
  const Constant *scale = g_.constant(n.inputs[1]), *shift = g_.constant(n.inputs[2]), *mean = g_.constant(n.inputs[3]),
                 *var = g_.constant(n.inputs[4]);
  if (!scale || !shift || !mean || !var) return unsupported(n, "parameters must be constants");
  auto x = lowered(n.inputs[0]);
  if (!x.ok()) return x.status();
  auto dims = onnx_dims(n.inputs[0]);
  if (!dims.ok()) return dims.status();
  const auto c = static_cast<uint32_t>(scale->count());
  if (dims->size() < 2 || (*dims)[1] != c) return unsupported(n, "parameter count differs from the input's channels");
  std::vector<float> k(c), offset(c);
  const float eps = n.float_attr("epsilon", 1e-5f);
  for (uint32_t i = 0; i < c; ++i) {
    k[i] = static_cast<float>(scale->floats[i] / std::sqrt(double{var->floats[i]} + eps));
    offset[i] = shift->floats[i] - mean->floats[i] * k[i];
  }
  std::vector<int64_t> pdims(dims->size(), 1);
  pdims[1] = c;
  const Dims stored = [&] {
    Dims d;
    for (int64_t v : stored_dims(pdims, x->layout)) d.push_back(uint32_t(v));
    return d;
  }();
  const uint32_t kt = b_.add_constant_fp32(n.name + "/scale", stored, k);  // one non-1 axis: order is moot
  const uint32_t ot = b_.add_constant_fp32(n.name + "/offset", stored, offset);
  const uint32_t scaled = new_step(n.outputs[0] + "/scaled", stored_shape(x->tensor));
  add_op(n, op_options(schema::OpOptions_MultiplyOptions, schema::MultiplyOptionsT{}), {x->tensor, kt}, scaled);
  std::string out_name;
  schema::AddOptionsT add;
  add.activation = fuse_activation(n.outputs[0], &out_name);
  auto out = new_value(out_name, x->layout);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_AddOptions, std::move(add)), {scaled, ot}, out.value());
  return Status::Ok();
}

// PRelu with a constant slope of one value or one per channel ([C], [C,1,1], [1,C,1,1]):
// XNNPACK takes [C] on the last stored axis, so the channels go last (NHWC for a map).
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
  const Layout layout = in.shape.size() == 4 ? nhwc_layout() : identity_layout(2);
  auto x = value_in(n.inputs[0], layout);
  if (!x.ok()) return x.status();
  auto out = new_value(n.outputs[0], layout);
  if (!out.ok()) return out.status();
  const uint32_t s = b_.add_constant_fp32(n.inputs[1] + "/per_channel", {static_cast<uint32_t>(c)}, per_channel);
  add_op(n, op_options(schema::OpOptions_PReluOptions, schema::PReluOptionsT{}), {x.value(), s}, out.value());
  return Status::Ok();
}

// Add, Mul, Sub, Div, Max, Min of two tensors, or of a tensor and a constant, with NumPy
// broadcasting, in the layout of the first computed operand. Sub and Div keep their
// operand order (a constant first stays first).
Status Lowering::lower_binary(const Node& n) {
  if ((n.op == "Max" || n.op == "Min") && n.inputs.size() != 2) return unsupported(n, "only two inputs");
  const bool a_const = g_.constant(n.inputs[0]) != nullptr;
  const std::string& act_in = a_const ? n.inputs[1] : n.inputs[0];
  const std::string& other = a_const ? n.inputs[0] : n.inputs[1];
  auto a_have = lowered(act_in);
  if (!a_have.ok()) return a_have.status();
  Layout layout = a_have->layout;
  const size_t rank = layout.size();
  Result<uint32_t> a = a_have->tensor;
  Result<uint32_t> b = uint32_t{0};
  if (g_.constant(other)) {
    b = broadcast_constant(other, rank, layout);
  } else if (rank_of(other) == rank_of(act_in) || (rank_of(other) == 0 && rank_of(act_in) <= 1)) {
    b = value_in(other, layout);
  } else {
    // Activations of different ranks: both in ONNX order, the lower one padded with 1s.
    const bool other_lower = rank_of(other) < rank_of(act_in);
    const std::string& low = other_lower ? other : act_in;
    const std::string& high = other_lower ? act_in : other;
    layout = identity_layout(rank_of(high));
    auto high_t = value_in(high, layout);
    auto low_t = value_in(low, identity_layout(std::max<size_t>(rank_of(low), 1)));
    if (!high_t.ok()) return high_t.status();
    if (!low_t.ok()) return low_t.status();
    Dims padded = stored_shape(low_t.value());
    padded.insert(padded.begin(), layout.size() - padded.size(), 1);
    const uint32_t low_padded = new_step(low + "/broadcast", padded);
    schema::ReshapeOptionsT r;
    r.new_shape = padded;
    add_op(low + "/broadcast", op_options(schema::OpOptions_ReshapeOptions, std::move(r)), {low_t.value()}, low_padded);
    a = other_lower ? high_t.value() : low_padded;
    b = other_lower ? low_padded : high_t.value();
  }
  if (!a.ok()) return a.status();
  if (!b.ok()) return b.status();
  const bool ordered = n.op == "Sub" || n.op == "Div";
  const std::vector<uint32_t> inputs = ordered && a_const ? std::vector<uint32_t>{b.value(), a.value()}
                                                          : std::vector<uint32_t>{a.value(), b.value()};
  const bool has_activation = n.op != "Max" && n.op != "Min";
  std::string out_name = n.outputs[0];
  const schema::Activation act = has_activation ? fuse_activation(n.outputs[0], &out_name) : schema::Activation_NONE;
  auto out = new_value(out_name, layout);
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

Status Lowering::lower_unary(const Node& n) {
  auto x = lowered(n.inputs[0]);
  if (!x.ok()) return x.status();
  auto out = new_value(n.outputs[0], x->layout);
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
    add_op(n, op_options(schema::OpOptions_ClampOptions, std::move(o)), {x->tensor}, out.value());
  } else if (n.op == "LeakyRelu") {
    schema::LeakyReluOptionsT o;
    o.alpha = n.float_attr("alpha", 0.01f);
    add_op(n, op_options(schema::OpOptions_LeakyReluOptions, std::move(o)), {x->tensor}, out.value());
  } else if (n.op == "Sigmoid") {
    add_op(n, op_options(schema::OpOptions_SigmoidOptions, schema::SigmoidOptionsT{}), {x->tensor}, out.value());
  } else if (n.op == "Elu") {
    schema::EluOptionsT o;
    o.alpha = n.float_attr("alpha", 1.0f);
    add_op(n, op_options(schema::OpOptions_EluOptions, std::move(o)), {x->tensor}, out.value());
  } else {
    add_op(n, op_options(schema::OpOptions_HardSwishOptions, schema::HardSwishOptionsT{}), {x->tensor}, out.value());
  }
  return Status::Ok();
}

// Tanh as 2 sigmoid(2x) - 1 (multiply, sigmoid, multiply, add): XNNPACK 2022 has no tanh
// node; the absolute error is a few fp32 ulps of 1, which only matters near 0 in relative terms.
Status Lowering::lower_tanh(const Node& n) {
  auto x = lowered(n.inputs[0]);
  if (!x.ok()) return x.status();
  const Dims shape = stored_shape(x->tensor);
  const uint32_t two = b_.add_constant_fp32(n.name + "/two", {1}, {2.0f});
  const uint32_t minus_one = b_.add_constant_fp32(n.name + "/minus_one", {1}, {-1.0f});
  const uint32_t doubled = new_step(n.outputs[0] + "/doubled", shape);
  const uint32_t gate = new_step(n.outputs[0] + "/sigmoid", shape);
  const uint32_t scaled = new_step(n.outputs[0] + "/scaled", shape);
  add_op(n, op_options(schema::OpOptions_MultiplyOptions, schema::MultiplyOptionsT{}), {x->tensor, two}, doubled);
  add_op(n, op_options(schema::OpOptions_SigmoidOptions, schema::SigmoidOptionsT{}), {doubled}, gate);
  add_op(n, op_options(schema::OpOptions_MultiplyOptions, schema::MultiplyOptionsT{}), {gate, two}, scaled);
  auto out = new_value(n.outputs[0], x->layout);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_AddOptions, schema::AddOptionsT{}), {scaled, minus_one}, out.value());
  return Status::Ok();
}

// HardSigmoid: max(0, min(1, alpha * x + beta)) as multiply, add, clamp.
Status Lowering::lower_hard_sigmoid(const Node& n) {
  auto x = lowered(n.inputs[0]);
  if (!x.ok()) return x.status();
  const Dims shape = stored_shape(x->tensor);
  const uint32_t alpha = b_.add_constant_fp32(n.name + "/alpha", {1}, {n.float_attr("alpha", 0.2f)});
  const uint32_t beta = b_.add_constant_fp32(n.name + "/beta", {1}, {n.float_attr("beta", 0.5f)});
  const uint32_t scaled = new_step(n.outputs[0] + "/scaled", shape);
  const uint32_t shifted = new_step(n.outputs[0] + "/shifted", shape);
  add_op(n, op_options(schema::OpOptions_MultiplyOptions, schema::MultiplyOptionsT{}), {x->tensor, alpha}, scaled);
  add_op(n, op_options(schema::OpOptions_AddOptions, schema::AddOptionsT{}), {scaled, beta}, shifted);
  auto out = new_value(n.outputs[0], x->layout);
  if (!out.ok()) return out.status();
  schema::ClampOptionsT clamp;
  clamp.min = 0.0f;
  clamp.max = 1.0f;
  add_op(n, op_options(schema::OpOptions_ClampOptions, std::move(clamp)), {shifted}, out.value());
  return Status::Ok();
}

Status Lowering::lower_pad(const Node& n) {
  if (n.string_attr("mode", "constant") != "constant") return unsupported(n, "only constant padding");
  const Constant* pads = n.inputs.size() > 1 ? g_.constant(n.inputs[1]) : nullptr;
  std::vector<int64_t> p = pads ? pads->ints : n.ints_attr("pads");
  const size_t rank = rank_of(n.inputs[0]);
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
  auto x = lowered(n.inputs[0]);
  if (!x.ok()) return x.status();
  schema::PadOptionsT o;
  for (uint32_t axis : x->layout) {  // ONNX axes in stored order
    o.pre_pad.push_back(uint32_t(p[axis]));
    o.post_pad.push_back(uint32_t(p[rank + axis]));
  }
  o.value = value;
  auto out = new_value(n.outputs[0], x->layout);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_PadOptions, std::move(o)), {x->tensor}, out.value());
  return Status::Ok();
}

}  // namespace edgeclr::convert
