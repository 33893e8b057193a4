// The tensor operators of format 3 on XNNPACK 2024 (backbone/xnnpack_api.h). XNNPACK has
// no layer norm or tanh-form GELU node: both are built here from reduce, binary and unary
// nodes, with values private to the subgraph.
#include <cmath>
#include <cstring>

#include "backbone/xnnpack_api.h"

namespace edgeclr {

#if EDGECLR_XNNPACK_API >= 2024

namespace {

// An fp32 value only this subgraph reads and writes.
xnn_status define_internal(xnn_subgraph_t subgraph, const std::vector<size_t>& dims, uint32_t* id) {
  return xnn_define_tensor_value(subgraph, xnn_datatype_fp32, dims.size(), dims.data(), nullptr, XNN_INVALID_VALUE_ID,
                                 0, id);
}

// A one-element fp32 constant, broadcast by binary nodes; `constants` keeps its bytes.
xnn_status define_scalar(xnn_subgraph_t subgraph, float value, OwnedConstants* constants, uint32_t* id) {
  constants->emplace_back(sizeof(float) + XNN_EXTRA_BYTES, uint8_t{0});
  std::memcpy(constants->back().data(), &value, sizeof(float));
  const size_t dims[1] = {1};
  return xnn_define_tensor_value(subgraph, xnn_datatype_fp32, 1, dims, constants->back().data(), XNN_INVALID_VALUE_ID,
                                 0, id);
}

xnn_status binary(xnn_subgraph_t subgraph, xnn_binary_operator op, uint32_t a, uint32_t b, uint32_t out) {
  return xnn_define_binary(subgraph, op, nullptr, a, b, out, 0);
}

xnn_status unary(xnn_subgraph_t subgraph, xnn_unary_operator op, uint32_t in, uint32_t out) {
  return xnn_define_unary(subgraph, op, nullptr, in, out, 0);
}

// Runs `steps` in order and stops at the first failure.
template <typename... Steps>
xnn_status first_failure(Steps&&... steps) {
  xnn_status status = xnn_status_success;
  ((status == xnn_status_success ? (status = steps(), 0) : 0), ...);
  return status;
}

// Concatenates up to five values in one node.
xnn_status concat_up_to_five(xnn_subgraph_t subgraph, int32_t axis, const std::vector<uint32_t>& ids, uint32_t out) {
  switch (ids.size()) {
    case 2: return xnn_define_concatenate2(subgraph, axis, ids[0], ids[1], out, 0);
    case 3: return xnn_define_concatenate3(subgraph, axis, ids[0], ids[1], ids[2], out, 0);
    case 4: return xnn_define_concatenate4(subgraph, axis, ids[0], ids[1], ids[2], ids[3], out, 0);
    case 5: return xnn_define_concatenate5(subgraph, axis, ids[0], ids[1], ids[2], ids[3], ids[4], out, 0);
    default: return xnn_status_invalid_parameter;
  }
}

}  // namespace

xnn_status define_concat(xnn_subgraph_t subgraph, size_t axis, const std::vector<NodeValue>& inputs,
                         const NodeValue& out, const char** call) {
  *call = "xnn_define_concatenate2..5";
  // Folds the first five inputs into one value until at most five remain.
  NodeValue head = inputs[0];
  size_t next = 1;
  while (inputs.size() - next + 1 > 5) {
    std::vector<uint32_t> ids = {head.id};
    NodeValue joined{0, head.dims};
    for (size_t k = 0; k < 4; ++k, ++next) {
      ids.push_back(inputs[next].id);
      joined.dims[axis] += inputs[next].dims[axis];
    }
    xnn_status status = define_internal(subgraph, joined.dims, &joined.id);
    if (status == xnn_status_success) status = concat_up_to_five(subgraph, static_cast<int32_t>(axis), ids, joined.id);
    if (status != xnn_status_success) return status;
    head = joined;
  }
  std::vector<uint32_t> ids = {head.id};
  for (; next < inputs.size(); ++next) ids.push_back(inputs[next].id);
  return concat_up_to_five(subgraph, static_cast<int32_t>(axis), ids, out.id);
}

xnn_status define_slice(xnn_subgraph_t subgraph, const std::vector<size_t>& begin, const NodeValue& in,
                        const NodeValue& out, const char** call) {
  *call = "xnn_define_static_slice";
  return xnn_define_static_slice(subgraph, begin.size(), begin.data(), out.dims.data(), in.id, out.id, 0);
}

xnn_status define_transpose(xnn_subgraph_t subgraph, const std::vector<size_t>& perm, uint32_t in, uint32_t out,
                            const char** call) {
  *call = "xnn_define_static_transpose";
  return xnn_define_static_transpose(subgraph, perm.size(), perm.data(), in, out, 0);
}

xnn_status define_batch_matmul(xnn_subgraph_t subgraph, bool transpose_b, uint32_t a, uint32_t b, uint32_t out,
                               const char** call) {
  *call = "xnn_define_batch_matrix_multiply";
  return xnn_define_batch_matrix_multiply(subgraph, a, b, out, transpose_b ? XNN_FLAG_TRANSPOSE_B : 0);
}

xnn_status define_mean(xnn_subgraph_t subgraph, const std::vector<size_t>& axes, bool keep_dims, uint32_t in,
                       uint32_t out, const char** call) {
  *call = "xnn_define_static_reduce(mean)";
  return xnn_define_static_reduce(subgraph, xnn_reduce_mean, axes.size(), axes.data(), in, out,
                                  keep_dims ? XNN_FLAG_KEEP_DIMS : 0);
}

// (x - mean) * rsqrt(mean((x - mean)^2) + epsilon) [* gamma] [+ beta], over the last axis.
xnn_status define_layer_norm(xnn_subgraph_t subgraph, float epsilon, const NodeValue& in, uint32_t gamma,
                             uint32_t beta, uint32_t out, OwnedConstants* constants, const char** call) {
  *call = "layer norm (xnn_define_static_reduce, xnn_define_binary, xnn_define_unary)";
  std::vector<size_t> reduced = in.dims;
  reduced.back() = 1;
  const size_t last[1] = {in.dims.size() - 1};
  uint32_t mean, centered, squared, variance, eps, shifted, inv_std, normalized, scaled;
  const bool has_gamma = gamma != XNN_INVALID_VALUE_ID, has_beta = beta != XNN_INVALID_VALUE_ID;
  return first_failure(
      [&] { return define_internal(subgraph, reduced, &mean); },
      [&] { return xnn_define_static_reduce(subgraph, xnn_reduce_mean, 1, last, in.id, mean, XNN_FLAG_KEEP_DIMS); },
      [&] { return define_internal(subgraph, in.dims, &centered); },
      [&] { return binary(subgraph, xnn_binary_subtract, in.id, mean, centered); },
      [&] { return define_internal(subgraph, in.dims, &squared); },
      [&] { return unary(subgraph, xnn_unary_square, centered, squared); },
      [&] { return define_internal(subgraph, reduced, &variance); },
      [&] { return xnn_define_static_reduce(subgraph, xnn_reduce_mean, 1, last, squared, variance, XNN_FLAG_KEEP_DIMS); },
      [&] { return define_scalar(subgraph, epsilon, constants, &eps); },
      [&] { return define_internal(subgraph, reduced, &shifted); },
      [&] { return binary(subgraph, xnn_binary_add, variance, eps, shifted); },
      [&] { return define_internal(subgraph, reduced, &inv_std); },
      [&] { return unary(subgraph, xnn_unary_reciprocal_square_root, shifted, inv_std); },
      [&] {
        normalized = has_gamma ? XNN_INVALID_VALUE_ID : out;
        return has_gamma ? define_internal(subgraph, in.dims, &normalized) : xnn_status_success;
      },
      [&] { return binary(subgraph, xnn_binary_multiply, centered, inv_std, normalized); },
      [&] {
        if (!has_gamma) return xnn_status_success;
        scaled = has_beta ? XNN_INVALID_VALUE_ID : out;
        const xnn_status s = has_beta ? define_internal(subgraph, in.dims, &scaled) : xnn_status_success;
        return s == xnn_status_success ? binary(subgraph, xnn_binary_multiply, normalized, gamma, scaled) : s;
      },
      [&] { return has_gamma && has_beta ? binary(subgraph, xnn_binary_add, scaled, beta, out) : xnn_status_success; });
}

// Erf form: XNNPACK's own GELU. Tanh form: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
xnn_status define_gelu(xnn_subgraph_t subgraph, bool approximate, const NodeValue& in, uint32_t out,
                       OwnedConstants* constants, const char** call) {
  if (!approximate) {
    *call = "xnn_define_unary(gelu)";
    return unary(subgraph, xnn_unary_gelu, in.id, out);
  }
  *call = "tanh GELU (xnn_define_binary, xnn_define_unary)";
  const float k_cubic = 0.044715f, k_scale = static_cast<float>(std::sqrt(2.0 / M_PI));
  uint32_t c_cubic, c_scale, c_one, c_half, sq, cube, cube_scaled, inner, scaled_inner, th, th1, prod;
  const auto temp = [&](uint32_t* id) { return define_internal(subgraph, in.dims, id); };
  return first_failure(
      [&] { return define_scalar(subgraph, k_cubic, constants, &c_cubic); },
      [&] { return define_scalar(subgraph, k_scale, constants, &c_scale); },
      [&] { return define_scalar(subgraph, 1.0f, constants, &c_one); },
      [&] { return define_scalar(subgraph, 0.5f, constants, &c_half); },
      [&] { return temp(&sq); }, [&] { return unary(subgraph, xnn_unary_square, in.id, sq); },
      [&] { return temp(&cube); }, [&] { return binary(subgraph, xnn_binary_multiply, sq, in.id, cube); },
      [&] { return temp(&cube_scaled); }, [&] { return binary(subgraph, xnn_binary_multiply, cube, c_cubic, cube_scaled); },
      [&] { return temp(&inner); }, [&] { return binary(subgraph, xnn_binary_add, in.id, cube_scaled, inner); },
      [&] { return temp(&scaled_inner); }, [&] { return binary(subgraph, xnn_binary_multiply, inner, c_scale, scaled_inner); },
      [&] { return temp(&th); }, [&] { return unary(subgraph, xnn_unary_tanh, scaled_inner, th); },
      [&] { return temp(&th1); }, [&] { return binary(subgraph, xnn_binary_add, th, c_one, th1); },
      [&] { return temp(&prod); }, [&] { return binary(subgraph, xnn_binary_multiply, th1, in.id, prod); },
      [&] { return binary(subgraph, xnn_binary_multiply, prod, c_half, out); });
}

// XNNPACK computes each row's scale and zero point from its min and max when the
// convert node runs (qdint8, one set of parameters per "batch" element).
xnn_status define_dynamic_quantize(xnn_subgraph_t subgraph, const std::vector<size_t>& dims, uint32_t in,
                                   uint32_t* quantized, const char** call) {
  *call = "xnn_define_dynamically_quantized_tensor_value";
  const xnn_status status = xnn_define_dynamically_quantized_tensor_value(
      subgraph, xnn_datatype_qdint8, dims.size(), /*num_nonbatch_dims=*/1, dims.data(), XNN_INVALID_VALUE_ID, 0,
      quantized);
  if (status != xnn_status_success) return status;
  *call = "xnn_define_unary(convert to qdint8)";
  return unary(subgraph, xnn_unary_convert, in, *quantized);
}

#else  // 2022: none of these nodes exist; the backbone refuses the model first.

xnn_status define_dynamic_quantize(xnn_subgraph_t, const std::vector<size_t>&, uint32_t, uint32_t*,
                                   const char** call) {
  *call = "dynamically quantized input (XNNPACK 2024)";
  return xnn_status_unsupported_parameter;
}

xnn_status define_concat(xnn_subgraph_t, size_t, const std::vector<NodeValue>&, const NodeValue&, const char** call) {
  *call = "concatenate (XNNPACK 2024)";
  return xnn_status_unsupported_parameter;
}
xnn_status define_slice(xnn_subgraph_t, const std::vector<size_t>&, const NodeValue&, const NodeValue&,
                        const char** call) {
  *call = "static slice (XNNPACK 2024)";
  return xnn_status_unsupported_parameter;
}
xnn_status define_transpose(xnn_subgraph_t, const std::vector<size_t>&, uint32_t, uint32_t, const char** call) {
  *call = "static transpose (XNNPACK 2024)";
  return xnn_status_unsupported_parameter;
}
xnn_status define_batch_matmul(xnn_subgraph_t, bool, uint32_t, uint32_t, uint32_t, const char** call) {
  *call = "batch matrix multiply (XNNPACK 2024)";
  return xnn_status_unsupported_parameter;
}
xnn_status define_mean(xnn_subgraph_t, const std::vector<size_t>&, bool, uint32_t, uint32_t, const char** call) {
  *call = "static reduce (XNNPACK 2024)";
  return xnn_status_unsupported_parameter;
}
xnn_status define_layer_norm(xnn_subgraph_t, float, const NodeValue&, uint32_t, uint32_t, uint32_t, OwnedConstants*,
                             const char** call) {
  *call = "layer norm (XNNPACK 2024)";
  return xnn_status_unsupported_parameter;
}
xnn_status define_gelu(xnn_subgraph_t, bool, const NodeValue&, uint32_t, OwnedConstants*, const char** call) {
  *call = "gelu (XNNPACK 2024)";
  return xnn_status_unsupported_parameter;
}

#endif

// Softmax over the last axis exists in both generations, with the same call.
xnn_status define_softmax(xnn_subgraph_t subgraph, uint32_t in, uint32_t out, const char** call) {
  *call = "xnn_define_softmax";
  return xnn_define_softmax(subgraph, in, out, 0);
}

}  // namespace edgeclr
