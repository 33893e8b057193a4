// The XNNPACK node definitions that differ between the 2022 and 2024 generations
// (backbone/xnnpack_api.h). Semantics are the same in both; only the calls differ.
#include <limits>

#include "backbone/xnnpack_api.h"

namespace edgeclr {

#if EDGECLR_XNNPACK_API >= 2024

xnn_status define_unary(xnn_subgraph_t subgraph, UnaryNode op, float a, float b, uint32_t in, uint32_t out,
                        const char** call) {
  xnn_unary_params params{};
  xnn_unary_operator type = xnn_unary_convert;
  switch (op) {
    case UnaryNode::kConvert: type = xnn_unary_convert; break;
    case UnaryNode::kClamp:
      type = xnn_unary_clamp;
      params.clamp.min = a;
      params.clamp.max = b;
      break;
    case UnaryNode::kElu:
      type = xnn_unary_elu;
      params.elu.alpha = a;
      break;
    case UnaryNode::kHardSwish: type = xnn_unary_hardswish; break;
    case UnaryNode::kSigmoid: type = xnn_unary_sigmoid; break;
    case UnaryNode::kLeakyRelu:
      type = xnn_unary_leaky_relu;
      params.leaky_relu.negative_slope = a;
      break;
  }
  *call = "xnn_define_unary";
  return xnn_define_unary(subgraph, type, &params, in, out, 0);
}

xnn_status define_binary(xnn_subgraph_t subgraph, BinaryNode op, float min, float max, uint32_t in, uint32_t second,
                         uint32_t out, const char** call) {
  xnn_binary_operator type = xnn_binary_add;
  bool clamped = true;
  switch (op) {
    case BinaryNode::kAdd: type = xnn_binary_add; break;
    case BinaryNode::kSubtract: type = xnn_binary_subtract; break;
    case BinaryNode::kMultiply: type = xnn_binary_multiply; break;
    case BinaryNode::kDivide: type = xnn_binary_divide; break;
    case BinaryNode::kMaximum: type = xnn_binary_maximum, clamped = false; break;
    case BinaryNode::kMinimum: type = xnn_binary_minimum, clamped = false; break;
    case BinaryNode::kPRelu: type = xnn_binary_prelu, clamped = false; break;
  }
  *call = "xnn_define_binary";
  // No params means no clamp; an infinite clamp is refused for int8 outputs by some kernels.
  const bool unbounded = !clamped || (min == -std::numeric_limits<float>::infinity() &&
                                      max == std::numeric_limits<float>::infinity());
  const xnn_binary_params params{min, max};
  return xnn_define_binary(subgraph, type, unbounded ? nullptr : &params, in, second, out, 0);
}

xnn_status define_global_average_pool(xnn_subgraph_t subgraph, uint32_t in, uint32_t out, const char** call) {
  const size_t axes[2] = {1, 2};
  *call = "xnn_define_static_reduce(mean)";
  return xnn_define_static_reduce(subgraph, xnn_reduce_mean, 2, axes, in, out, XNN_FLAG_KEEP_DIMS);
}

#else  // 2022

xnn_status define_unary(xnn_subgraph_t subgraph, UnaryNode op, float a, float b, uint32_t in, uint32_t out,
                        const char** call) {
  switch (op) {
    case UnaryNode::kConvert: *call = "xnn_define_convert"; return xnn_define_convert(subgraph, in, out, 0);
    case UnaryNode::kClamp: *call = "xnn_define_clamp"; return xnn_define_clamp(subgraph, a, b, in, out, 0);
    case UnaryNode::kElu: *call = "xnn_define_elu"; return xnn_define_elu(subgraph, a, in, out, 0);
    case UnaryNode::kHardSwish: *call = "xnn_define_hardswish"; return xnn_define_hardswish(subgraph, in, out, 0);
    case UnaryNode::kSigmoid: *call = "xnn_define_sigmoid"; return xnn_define_sigmoid(subgraph, in, out, 0);
    case UnaryNode::kLeakyRelu:
      *call = "xnn_define_leaky_relu";
      return xnn_define_leaky_relu(subgraph, a, in, out, 0);
  }
  return xnn_status_invalid_parameter;
}

xnn_status define_binary(xnn_subgraph_t subgraph, BinaryNode op, float min, float max, uint32_t in, uint32_t second,
                         uint32_t out, const char** call) {
  switch (op) {
    case BinaryNode::kAdd: *call = "xnn_define_add2"; return xnn_define_add2(subgraph, min, max, in, second, out, 0);
    case BinaryNode::kSubtract:
      *call = "xnn_define_subtract";
      return xnn_define_subtract(subgraph, min, max, in, second, out, 0);
    case BinaryNode::kMultiply:
      *call = "xnn_define_multiply2";
      return xnn_define_multiply2(subgraph, min, max, in, second, out, 0);
    case BinaryNode::kDivide:
      *call = "xnn_define_divide";
      return xnn_define_divide(subgraph, min, max, in, second, out, 0);
    case BinaryNode::kMaximum: *call = "xnn_define_maximum2"; return xnn_define_maximum2(subgraph, in, second, out, 0);
    case BinaryNode::kMinimum: *call = "xnn_define_minimum2"; return xnn_define_minimum2(subgraph, in, second, out, 0);
    case BinaryNode::kPRelu: *call = "xnn_define_prelu"; return xnn_define_prelu(subgraph, in, second, out, 0);
  }
  return xnn_status_invalid_parameter;
}

xnn_status define_global_average_pool(xnn_subgraph_t subgraph, uint32_t in, uint32_t out, const char** call) {
  const float inf = std::numeric_limits<float>::infinity();
  *call = "xnn_define_global_average_pooling_2d";
  return xnn_define_global_average_pooling_2d(subgraph, -inf, inf, in, out, 0);
}

#endif

}  // namespace edgeclr
