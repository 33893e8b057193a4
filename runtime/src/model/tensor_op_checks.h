// Checks of the tensor operators of format 3 (concat, slice, transpose, batch matmul,
// softmax, mean, layer norm, gelu): shapes, axes and counts against the tensors.
// Arity and the input/output dtypes were checked before (op_checks.cpp).
#pragma once

#include "model/op_check_context.h"

namespace edgeclr {

// Ok for an operator type that is not a tensor operator (nothing to check here).
Status check_tensor_operator(const OpContext& ctx);

// These operators run in fp32 only, on every XNNPACK.
bool is_tensor_operator(schema::OpOptions type);

}  // namespace edgeclr
