// Evaluates an ONNX node whose inputs are all constants (or, for Shape, whose input's
// shape is known): the Shape/Gather/Concat/Reshape chains exporters write to compute
// shapes, masks and index tensors, and Resize of position embeddings. What is left after
// folding is the graph that runs. Inputs come from untrusted files: every result is
// bounded (kMaxFoldedElements) and every index checked.
#pragma once

#include <optional>

#include "convert/graph.h"
#include "core/status.h"

namespace edgeclr::convert {

inline constexpr int64_t kMaxFoldedElements = int64_t{1} << 24;

// The folded value of `node`'s first output, nullopt when the node is not foldable (an
// input is computed, or the op is not one this evaluates), an error when it is foldable
// but wrong (an index out of range, a result too large).
Result<std::optional<Constant>> evaluate_constant(const Graph& graph, const Node& node);

// Slice's starts, ends, axes and steps: inputs from opset 10, attributes before; empty
// when not given. nullopt when one is given by a value that is not constant.
struct SliceParams {
  std::vector<int64_t> starts, ends, axes, steps;
};
std::optional<SliceParams> slice_params(const Graph& graph, const Node& node);

// ONNX Resize (opsets 10-19, no antialias) of a float constant to `out_dims`: nearest,
// linear and cubic, each axis on its own, with the node's coordinate transformation.
Result<Constant> resize_constant(const Node& node, const Constant& x, const std::vector<int64_t>& out_dims);

}  // namespace edgeclr::convert
