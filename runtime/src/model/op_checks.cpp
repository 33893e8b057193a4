#include "model/op_checks.h"

#include <cmath>

#include "model/model_limits.h"
#include "model/op_check_context.h"
#include "model/tensor_op_checks.h"

namespace edgeclr {
namespace {


// Activations of an op are fp32 or int8 throughout; int8 ones carry one scale.
Status expect_activation_dtype(const OpContext& ctx, const TensorInfo& t, const char* what,
                               schema::DType dtype) {
  EDGECLR_RETURN_IF_ERROR(expect_dtype(ctx, t, what, dtype));
  if (t.per_channel) return ctx.fail(format("%s must be quantized per tensor", what));
  return Status::Ok();
}

Status check_activation_enum(const OpContext& ctx, schema::Activation act) {
  if (act < schema::Activation_MIN || act > schema::Activation_MAX) {
    return ctx.fail(format("unknown fused activation %d", static_cast<int>(act)));
  }
  return Status::Ok();
}

// Output size of a window op along one axis; 0 when the window does not fit.
uint64_t window_output(uint64_t in, uint64_t pad_a, uint64_t pad_b, uint64_t kernel, uint64_t stride,
                       uint64_t dilation) {
  const uint64_t padded = in + pad_a + pad_b;
  const uint64_t effective = dilation * (kernel - 1) + 1;
  if (padded < effective) return 0;
  return (padded - effective) / stride + 1;
}

Status check_window(const OpContext& ctx, uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw,
                    uint32_t dh, uint32_t dw) {
  for (uint32_t v : {kh, kw, sh, sw, dh, dw}) {
    if (v == 0 || v > kMaxKernelOrStride) {
      return ctx.fail(format("kernel %ux%u, stride %ux%u, dilation %ux%u: each must be 1 to %u", kh, kw,
                             sh, sw, dh, dw, kMaxKernelOrStride));
    }
  }
  return Status::Ok();
}

Status output_hw(const OpContext& ctx, const TensorInfo& in, uint32_t kh, uint32_t kw, uint32_t sh,
                 uint32_t sw, uint32_t dh, uint32_t dw, uint32_t pt, uint32_t pb, uint32_t pl,
                 uint32_t pr, uint32_t* oh, uint32_t* ow) {
  for (uint32_t p : {pt, pb, pl, pr}) {
    if (p > kMaxKernelOrStride) return ctx.fail(format("padding %u exceeds %u", p, kMaxKernelOrStride));
  }
  const uint64_t h = window_output(in.dims[1], pt, pb, kh, sh, dh);
  const uint64_t w = window_output(in.dims[2], pl, pr, kw, sw, dw);
  if (h == 0 || w == 0) {
    return ctx.fail(format("window %ux%u (dilation %ux%u) does not fit input %s with padding %u,%u,%u,%u",
                           kh, kw, dh, dw, shape_string(in).c_str(), pt, pb, pl, pr));
  }
  *oh = static_cast<uint32_t>(h);
  *ow = static_cast<uint32_t>(w);
  return Status::Ok();
}

// Weights and bias of conv and fully connected: fp32 with fp32, or int8 (zero point 0,
// per-tensor or per-channel on the output axis) with int32 bias. `dynamic`: a fully
// connected layer quantizing its fp32 input per row: int8 weights per output channel,
// fp32 bias.
Status check_weights(const OpContext& ctx, schema::DType act_dtype, uint32_t out_channels, bool dynamic = false) {
  const TensorInfo& w = ctx.input(1);
  EDGECLR_RETURN_IF_ERROR(expect_constant(ctx, w, "weight"));
  EDGECLR_RETURN_IF_ERROR(expect_dtype(ctx, w, "weight", dynamic ? schema::DType_INT8 : act_dtype));
  if (w.dtype == schema::DType_INT8 && (!w.zero_points_zero || (w.per_channel && w.quant_axis != 0))) {
    return ctx.fail("int8 weight must be symmetric (zero point 0), per tensor or per output channel (axis 0)");
  }
  if (dynamic && !w.per_channel) return ctx.fail("int8 weight of a dynamically quantized input must be per channel");
  if (ctx.input_count() < 3) return Status::Ok();
  const TensorInfo& b = ctx.input(2);
  EDGECLR_RETURN_IF_ERROR(expect_constant(ctx, b, "bias"));
  const auto bias_dtype = act_dtype == schema::DType_INT8 ? schema::DType_INT32 : schema::DType_FLOAT32;
  EDGECLR_RETURN_IF_ERROR(expect_dtype(ctx, b, "bias", bias_dtype));
  if (b.rank != 1 || b.dims[0] != out_channels) {
    return ctx.fail(format("bias has shape %s, expected [%u]", shape_string(b).c_str(), out_channels));
  }
  return Status::Ok();
}

Status check_conv(const OpContext& ctx, const schema::Conv2DOptions& o) {
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& w = ctx.input(1);
  EDGECLR_RETURN_IF_ERROR(expect_rank(ctx, x, "input", 4));
  EDGECLR_RETURN_IF_ERROR(expect_rank(ctx, w, "weight", 4));
  EDGECLR_RETURN_IF_ERROR(check_activation_enum(ctx, o.activation()));
  EDGECLR_RETURN_IF_ERROR(check_window(ctx, o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(),
                                       o.dilation_h(), o.dilation_w()));
  const uint32_t groups = o.groups();
  const uint32_t out_c = w.dims[0];
  if (groups == 0 || out_c % groups != 0 || x.dims[3] != uint64_t{groups} * w.dims[3]) {
    return ctx.fail(format("groups %u do not fit input %s and weight %s (expected [O,KH,KW,C/groups])",
                           groups, shape_string(x).c_str(), shape_string(w).c_str()));
  }
  if (w.dims[1] != o.kernel_h() || w.dims[2] != o.kernel_w()) {
    return ctx.fail(format("weight %s does not match kernel %ux%u", shape_string(w).c_str(),
                           o.kernel_h(), o.kernel_w()));
  }
  EDGECLR_RETURN_IF_ERROR(check_weights(ctx, x.dtype, out_c));
  uint32_t oh = 0, ow = 0;
  EDGECLR_RETURN_IF_ERROR(output_hw(ctx, x, o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(),
                                    o.dilation_h(), o.dilation_w(), o.pad_top(), o.pad_bottom(),
                                    o.pad_left(), o.pad_right(), &oh, &ow));
  return expect_output_shape(ctx, {x.dims[0], oh, ow, out_c});
}

// input [..., I] -> output [..., O] (all but the last axis kept), or the old flattening
// form [N,1,1,I] -> [N,O].
Status check_fully_connected(const OpContext& ctx, const schema::FullyConnectedOptions& o) {
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& w = ctx.input(1);
  EDGECLR_RETURN_IF_ERROR(check_activation_enum(ctx, o.activation()));
  EDGECLR_RETURN_IF_ERROR(expect_rank(ctx, w, "weight", 2));
  const uint32_t in_features = x.dims[x.rank - 1];
  if (in_features != w.dims[1]) {
    return ctx.fail(format("input %s does not fit weight %s (expected [..., I] and [O,I])", shape_string(x).c_str(),
                           shape_string(w).c_str()));
  }
  const auto quantization = o.input_quantization();
  if (quantization != schema::InputQuantization_NONE && quantization != schema::InputQuantization_DYNAMIC_PER_ROW) {
    return ctx.fail(format("unknown input quantization %d", static_cast<int>(quantization)));
  }
  const bool dynamic = quantization == schema::InputQuantization_DYNAMIC_PER_ROW;
  if (dynamic && x.dtype != schema::DType_FLOAT32) return ctx.fail("a dynamically quantized input must be fp32");
  EDGECLR_RETURN_IF_ERROR(check_weights(ctx, x.dtype, w.dims[0], dynamic));
  const bool pooled_map = x.rank == 4 && x.dims[1] == 1 && x.dims[2] == 1 && ctx.output().rank == 2;
  if (pooled_map) return expect_output_shape(ctx, {x.dims[0], w.dims[0]});
  Dims out = dims_of(x);
  out.back() = w.dims[0];
  return expect_output_shape(ctx, out);
}

// NumPy broadcasting of two shapes aligned on the right.
Status check_binary(const OpContext& ctx, schema::Activation act) {
  EDGECLR_RETURN_IF_ERROR(check_activation_enum(ctx, act));
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  EDGECLR_RETURN_IF_ERROR(expect_activation_dtype(ctx, b, "second input", a.dtype));
  const uint32_t rank = std::max(a.rank, b.rank);
  Dims out(rank);
  for (uint32_t i = 0; i < rank; ++i) {
    const uint32_t da = i < rank - a.rank ? 1 : a.dims[i - (rank - a.rank)];
    const uint32_t db = i < rank - b.rank ? 1 : b.dims[i - (rank - b.rank)];
    if (da != db && da != 1 && db != 1) {
      return ctx.fail(format("inputs %s and %s do not broadcast", shape_string(a).c_str(),
                             shape_string(b).c_str()));
    }
    out[i] = std::max(da, db);
  }
  return expect_output_shape(ctx, out);
}

// The slope is a constant fp32 [C], C the input's channels (XNNPACK's layout).
Status check_prelu(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& slope = ctx.input(1);
  if (x.dtype != schema::DType_FLOAT32) return ctx.fail("runs in fp32 only");
  if (!slope.is_constant || slope.dtype != schema::DType_FLOAT32 || slope.rank != 1 || x.rank == 0 ||
      slope.dims[0] != x.dims[x.rank - 1]) {
    return ctx.fail(format("slope %s must be a constant fp32 [C] with C = %u, the input's channels",
                           shape_string(slope).c_str(), x.rank ? x.dims[x.rank - 1] : 0));
  }
  return expect_output_shape(ctx, dims_of(x));
}

Status check_pool(const OpContext& ctx, const schema::Pool2DOptions& o) {
  const TensorInfo& x = ctx.input(0);
  EDGECLR_RETURN_IF_ERROR(expect_rank(ctx, x, "input", 4));
  EDGECLR_RETURN_IF_ERROR(check_activation_enum(ctx, o.activation()));
  EDGECLR_RETURN_IF_ERROR(check_window(ctx, o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(), 1, 1));
  uint32_t oh = 0, ow = 0;
  EDGECLR_RETURN_IF_ERROR(output_hw(ctx, x, o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(), 1, 1,
                                    o.pad_top(), o.pad_bottom(), o.pad_left(), o.pad_right(), &oh, &ow));
  return expect_output_shape(ctx, {x.dims[0], oh, ow, x.dims[3]});
}

Status check_global_pool(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  EDGECLR_RETURN_IF_ERROR(expect_rank(ctx, x, "input", 4));
  return expect_output_shape(ctx, {x.dims[0], 1, 1, x.dims[3]});
}

Status check_clamp(const OpContext& ctx, const schema::ClampOptions& o) {
  if (std::isnan(o.min()) || std::isnan(o.max()) || o.min() > o.max()) {
    return ctx.fail(format("clamp range [%g, %g] is empty or NaN", o.min(), o.max()));
  }
  return expect_output_shape(ctx, dims_of(ctx.input(0)));
}

Status check_reshape(const OpContext& ctx, const schema::ReshapeOptions& o) {
  const auto* shape = o.new_shape();
  if (shape == nullptr || shape->size() == 0 || shape->size() > kMaxRank) {
    return ctx.fail(format("new_shape has rank %u, expected 1 to %u", shape ? shape->size() : 0, kMaxRank));
  }
  Dims expected(shape->begin(), shape->end());
  EDGECLR_RETURN_IF_ERROR(expect_output_shape(ctx, expected));
  if (ctx.output().elements != ctx.input(0).elements) {
    return ctx.fail(format("reshape %s -> %s changes the element count", shape_string(ctx.input(0)).c_str(),
                           shape_string(ctx.output()).c_str()));
  }
  return Status::Ok();
}

Status check_pad(const OpContext& ctx, const schema::PadOptions& o) {
  const TensorInfo& x = ctx.input(0);
  const auto* pre = o.pre_pad();
  const auto* post = o.post_pad();
  if (pre == nullptr || post == nullptr || pre->size() != x.rank || post->size() != x.rank) {
    return ctx.fail(format("pre_pad and post_pad need %u values each", x.rank));
  }
  if (!std::isfinite(o.value())) return ctx.fail("padding value is not finite");
  Dims out(x.rank);
  for (uint32_t i = 0; i < x.rank; ++i) {
    const uint64_t d = uint64_t{x.dims[i]} + pre->Get(i) + post->Get(i);
    if (d > kMaxDim) return ctx.fail(format("padded dimension %u is %llu, above %u", i,
                                            static_cast<unsigned long long>(d), kMaxDim));
    out[i] = static_cast<uint32_t>(d);
  }
  return expect_output_shape(ctx, out);
}

struct Arity {
  uint32_t min_inputs;
  uint32_t max_inputs;
};

Arity arity_of(schema::OpOptions type) {
  switch (type) {
    case schema::OpOptions_Conv2DOptions:
    case schema::OpOptions_FullyConnectedOptions: return {2, 3};
    case schema::OpOptions_AddOptions:
    case schema::OpOptions_MultiplyOptions:
    case schema::OpOptions_SubtractOptions:
    case schema::OpOptions_DivideOptions:
    case schema::OpOptions_MaximumOptions:
    case schema::OpOptions_MinimumOptions:
    case schema::OpOptions_PReluOptions:
    case schema::OpOptions_BatchMatMulOptions: return {2, 2};
    case schema::OpOptions_ConcatOptions: return {2, kMaxConcatInputs};
    case schema::OpOptions_LayerNormOptions: return {1, 3};
    default: return {1, 1};
  }
}

// dtype of the op's input and output activations.
Status check_io_dtypes(const OpContext& ctx, schema::OpOptions type) {
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& y = ctx.output();
  if (y.is_constant) return ctx.fail("output is a constant (has a buffer)");
  if (type == schema::OpOptions_QuantizeOptions) {
    EDGECLR_RETURN_IF_ERROR(expect_dtype(ctx, x, "input", schema::DType_FLOAT32));
    return expect_activation_dtype(ctx, y, "output", schema::DType_INT8);
  }
  if (type == schema::OpOptions_DequantizeOptions) {
    EDGECLR_RETURN_IF_ERROR(expect_activation_dtype(ctx, x, "input", schema::DType_INT8));
    return expect_dtype(ctx, y, "output", schema::DType_FLOAT32);
  }
  if (x.dtype == schema::DType_INT32) return ctx.fail("input is int32; only biases may be int32");
  EDGECLR_RETURN_IF_ERROR(expect_activation_dtype(ctx, x, "input", x.dtype));
  return expect_activation_dtype(ctx, y, "output", x.dtype);
}

}  // namespace

const char* op_type_name(const schema::Operator& op, const std::vector<TensorInfo>& tensors) {
  switch (op.options_type()) {
    case schema::OpOptions_Conv2DOptions: {
      const auto* o = op.options_as_Conv2DOptions();
      const auto* in = op.inputs();
      const bool depthwise = o != nullptr && o->groups() > 1 && in && in->size() > 1 && in->Get(1) < tensors.size() &&
                             tensors[in->Get(1)].dims[3] == 1;
      return depthwise ? "depthwise_conv2d" : "conv2d";
    }
    case schema::OpOptions_FullyConnectedOptions: {
      const auto* o = op.options_as_FullyConnectedOptions();
      const bool dynamic = o && o->input_quantization() == schema::InputQuantization_DYNAMIC_PER_ROW;
      return dynamic ? "fully_connected_dynamic_int8" : "fully_connected";
    }
    case schema::OpOptions_AddOptions: return "add";
    case schema::OpOptions_MultiplyOptions: return "multiply";
    case schema::OpOptions_AveragePool2DOptions: return "average_pool2d";
    case schema::OpOptions_MaxPool2DOptions: return "max_pool2d";
    case schema::OpOptions_GlobalAveragePoolOptions: return "global_average_pool";
    case schema::OpOptions_ClampOptions: return "clamp";
    case schema::OpOptions_HardSwishOptions: return "hardswish";
    case schema::OpOptions_SigmoidOptions: return "sigmoid";
    case schema::OpOptions_LeakyReluOptions: return "leaky_relu";
    case schema::OpOptions_ReshapeOptions: return "reshape";
    case schema::OpOptions_PadOptions: return "pad";
    case schema::OpOptions_QuantizeOptions: return "quantize";
    case schema::OpOptions_DequantizeOptions: return "dequantize";
    case schema::OpOptions_SubtractOptions: return "subtract";
    case schema::OpOptions_DivideOptions: return "divide";
    case schema::OpOptions_MaximumOptions: return "maximum";
    case schema::OpOptions_MinimumOptions: return "minimum";
    case schema::OpOptions_PReluOptions: return "prelu";
    case schema::OpOptions_EluOptions: return "elu";
    case schema::OpOptions_ConcatOptions: return "concat";
    case schema::OpOptions_SliceOptions: return "slice";
    case schema::OpOptions_TransposeOptions: return "transpose";
    case schema::OpOptions_BatchMatMulOptions: return "batch_matmul";
    case schema::OpOptions_SoftmaxOptions: return "softmax";
    case schema::OpOptions_MeanOptions: return "mean";
    case schema::OpOptions_LayerNormOptions: return "layer_norm";
    case schema::OpOptions_GeluOptions: return "gelu";
    case schema::OpOptions_NONE: break;
  }
  return "unknown";
}

Status check_operator(const schema::Operator& op, uint32_t op_index, const std::vector<TensorInfo>& tensors) {
  const char* name = op.name() ? op.name()->c_str() : "";
  const auto type = op.options_type();
  // Before anything reads the options: the Verifier accepts a union type without its table.
  if (type == schema::OpOptions_NONE || type > schema::OpOptions_MAX || op.options() == nullptr) {
    return error(StatusCode::kInvalidModel, format("operator %u '%s': unknown operator type %d or no options",
                                                   op_index, name, static_cast<int>(type)));
  }
  OpContext ctx{op, tensors, format("operator %u '%s' (%s)", op_index, name, op_type_name(op, tensors))};
  const Arity arity = arity_of(type);
  const uint32_t inputs = op.inputs()->size();
  if (inputs < arity.min_inputs || inputs > arity.max_inputs || op.outputs()->size() != 1) {
    return ctx.fail(format("has %u inputs and %u outputs, expected %u to %u inputs and 1 output", inputs,
                           op.outputs()->size(), arity.min_inputs, arity.max_inputs));
  }
  EDGECLR_RETURN_IF_ERROR(check_io_dtypes(ctx, type));
  if (is_tensor_operator(type)) return check_tensor_operator(ctx);
  switch (type) {
    case schema::OpOptions_Conv2DOptions: return check_conv(ctx, *op.options_as_Conv2DOptions());
    case schema::OpOptions_FullyConnectedOptions:
      return check_fully_connected(ctx, *op.options_as_FullyConnectedOptions());
    case schema::OpOptions_AddOptions: return check_binary(ctx, op.options_as_AddOptions()->activation());
    case schema::OpOptions_MultiplyOptions:
      return check_binary(ctx, op.options_as_MultiplyOptions()->activation());
    case schema::OpOptions_SubtractOptions:
      return check_binary(ctx, op.options_as_SubtractOptions()->activation());
    case schema::OpOptions_DivideOptions: return check_binary(ctx, op.options_as_DivideOptions()->activation());
    case schema::OpOptions_MaximumOptions:
    case schema::OpOptions_MinimumOptions: return check_binary(ctx, schema::Activation_NONE);
    case schema::OpOptions_PReluOptions: return check_prelu(ctx);
    case schema::OpOptions_EluOptions:
      if (!std::isfinite(op.options_as_EluOptions()->alpha())) return ctx.fail("alpha is not finite");
      return expect_output_shape(ctx, dims_of(ctx.input(0)));
    case schema::OpOptions_AveragePool2DOptions: return check_pool(ctx, *op.options_as_AveragePool2DOptions());
    case schema::OpOptions_MaxPool2DOptions: return check_pool(ctx, *op.options_as_MaxPool2DOptions());
    case schema::OpOptions_GlobalAveragePoolOptions: return check_global_pool(ctx);
    case schema::OpOptions_ClampOptions: return check_clamp(ctx, *op.options_as_ClampOptions());
    case schema::OpOptions_LeakyReluOptions:
      if (!std::isfinite(op.options_as_LeakyReluOptions()->alpha())) return ctx.fail("alpha is not finite");
      return expect_output_shape(ctx, dims_of(ctx.input(0)));
    case schema::OpOptions_ReshapeOptions: return check_reshape(ctx, *op.options_as_ReshapeOptions());
    case schema::OpOptions_PadOptions: return check_pad(ctx, *op.options_as_PadOptions());
    default: return expect_output_shape(ctx, dims_of(ctx.input(0)));
  }
}

}  // namespace edgeclr
