// Checks one backbone operator: arity, dtypes, and that its output shape is the one its
// inputs and options imply. Tensor indices must already be in range.
#pragma once

#include <vector>

#include "core/status.h"
#include "model/tensor_info.h"

namespace edgeclr {

// Short, stable name of an operator type ("conv2d", "depthwise_conv2d", ...), as
// `edgeclr inspect` reports it.
const char* op_type_name(const schema::Operator& op, const std::vector<TensorInfo>& tensors);

// Requires: every index in op.inputs() and op.outputs() is < tensors.size().
Status check_operator(const schema::Operator& op, uint32_t op_index,
                      const std::vector<TensorInfo>& tensors);

}  // namespace edgeclr
