// The XNNPACK generation split, private to runtime/src/backbone/: the only header that
// includes xnnpack.h. EDGECLR_XNNPACK_API is 2022 (Debian 12: static shapes,
// xnn_setup_runtime) or 2024 (Debian 13: xnn_reshape_runtime, per-channel int8 fully
// connected, int8 unary operators, transpose, concatenate, slice), decided at configure
// time by cmake/EdgeclrXnnpackApi.cmake from what the header declares.
#pragma once

#include <pthreadpool.h>
#include <xnnpack.h>

#include <cstdint>
#include <vector>

#ifndef EDGECLR_XNNPACK_API
#error "EDGECLR_XNNPACK_API must be set by the build (cmake/EdgeclrXnnpackApi.cmake)"
#endif

namespace edgeclr {

// Stable English name of a status, for error messages.
inline const char* xnn_status_name(xnn_status status) {
  switch (status) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
    default: return "unknown status";  // 2024 adds reallocation_required, deprecated
  }
}

// Nodes whose XNNPACK call differs between the generations (2024 replaced the per-op
// definitions by xnn_define_unary / xnn_define_binary / xnn_define_static_reduce and
// deprecated the old ones). Each returns XNNPACK's status; `*call` is set to the name of
// the XNNPACK function it used, for error messages.
enum class UnaryNode { kConvert, kClamp, kElu, kHardSwish, kSigmoid, kLeakyRelu };
enum class BinaryNode { kAdd, kSubtract, kMultiply, kDivide, kMaximum, kMinimum, kPRelu };

// `a`, `b`: clamp's min and max, elu's alpha, leaky relu's negative slope; else unused.
xnn_status define_unary(xnn_subgraph_t subgraph, UnaryNode op, float a, float b, uint32_t in, uint32_t out,
                        const char** call);
// [min, max]: the output clamp fused into add, subtract, multiply and divide (ignored by
// the others). For prelu, `second` is the slope.
xnn_status define_binary(xnn_subgraph_t subgraph, BinaryNode op, float min, float max, uint32_t in, uint32_t second,
                         uint32_t out, const char** call);
// Mean over H and W of an NHWC tensor, keeping the [N, 1, 1, C] shape.
xnn_status define_global_average_pool(xnn_subgraph_t subgraph, uint32_t in, uint32_t out, const char** call);

}  // namespace edgeclr

namespace edgeclr {

// ---- The tensor operators of format 3 (xnnpack_tensor_ops.cpp) ----
// XNNPACK 2024 only: in a 2022 build they return xnn_status_unsupported_parameter, and
// the backbone refuses such a model before calling them (fp32_since_xnnpack).

// A value and its shape as XNNPACK sees it (the batch folded into dimension 0).
struct NodeValue {
  uint32_t id;
  std::vector<size_t> dims;
};

// Constants a node definition makes (layer norm's epsilon, GELU's coefficients): XNNPACK
// reads them where they lie for the life of the runtime, so the caller keeps them.
using OwnedConstants = std::vector<std::vector<uint8_t>>;

// Any number of inputs (>= 2), by chaining XNNPACK's 2-5 input concatenations.
xnn_status define_concat(xnn_subgraph_t subgraph, size_t axis, const std::vector<NodeValue>& inputs,
                         const NodeValue& out, const char** call);
xnn_status define_slice(xnn_subgraph_t subgraph, const std::vector<size_t>& begin, const NodeValue& in,
                        const NodeValue& out, const char** call);
xnn_status define_transpose(xnn_subgraph_t subgraph, const std::vector<size_t>& perm, uint32_t in, uint32_t out,
                            const char** call);
xnn_status define_batch_matmul(xnn_subgraph_t subgraph, bool transpose_b, uint32_t a, uint32_t b, uint32_t out,
                               const char** call);
xnn_status define_softmax(xnn_subgraph_t subgraph, uint32_t in, uint32_t out, const char** call);
xnn_status define_mean(xnn_subgraph_t subgraph, const std::vector<size_t>& axes, bool keep_dims, uint32_t in,
                       uint32_t out, const char** call);
// Over the last axis; gamma and beta may be XNN_INVALID_VALUE_ID.
xnn_status define_layer_norm(xnn_subgraph_t subgraph, float epsilon, const NodeValue& in, uint32_t gamma,
                             uint32_t beta, uint32_t out, OwnedConstants* constants, const char** call);
// An int8 copy of fp32 value `in` (shape `dims`) quantized per row at run time: one
// scale and zero point for each index of all axes but the last. `*quantized` is the new
// value (qdint8), for a fully connected node with qcint8 weights.
xnn_status define_dynamic_quantize(xnn_subgraph_t subgraph, const std::vector<size_t>& dims, uint32_t in,
                                   uint32_t* quantized, const char** call);
xnn_status define_gelu(xnn_subgraph_t subgraph, bool approximate, const NodeValue& in, uint32_t out,
                       OwnedConstants* constants, const char** call);

}  // namespace edgeclr
