// Reference kernels of the tensor operators of format 3 (concat, slice, transpose, batch
// matmul, softmax, mean, layer norm, gelu), fp32 in, computed in double, with the bound
// on how far a correct XNNPACK run may be from them (reference_backbone.h explains the
// scheme; the rule of each op is at the top of reference_tensor_ops.cpp).
#pragma once

#include <vector>

#include "model/model.h"
#include "support/reference_kernels.h"

namespace edgeclr::testing::reference {

// One input of an operator: its values and the per-element bound carried so far.
struct BoundedTensor {
  Dims dims;
  std::vector<float> x;
  std::vector<double> err;
};

// Runs `op` (a tensor operator) on `inputs`, the op's computed inputs in order (layer
// norm's gamma and beta are read from the model). Throws std::invalid_argument for
// another operator type.
BoundedTensor run_tensor_op(const Model& model, const schema::Operator& op, const std::vector<BoundedTensor>& inputs);

// The plain kernels, row-major, exposed for the single-op tests.
std::vector<double> transpose(const std::vector<double>& x, const Dims& dims, const Dims& perm);
std::vector<double> gelu(const std::vector<double>& x, bool approximate);

}  // namespace edgeclr::testing::reference
