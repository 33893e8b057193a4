// The XNNPACK generation split, private to runtime/src/backbone/: the only header that
// includes xnnpack.h. EDGECLR_XNNPACK_API is 2022 (Debian 12: static shapes,
// xnn_setup_runtime) or 2024 (Debian 13: xnn_reshape_runtime, per-channel int8 fully
// connected, int8 unary operators, transpose, concatenate, slice), decided at configure
// time by cmake/EdgeclrXnnpackApi.cmake from what the header declares.
#pragma once

#include <pthreadpool.h>
#include <xnnpack.h>

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
