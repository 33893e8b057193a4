// Graph rewrites before lowering: drop pass-through nodes, fold constant subgraphs (the
// Shape/Gather/Unsqueeze/Concat chains PyTorch exports in front of Reshape) and fold
// BatchNormalization into the convolution before it.
#pragma once

#include "convert/graph.h"
#include "core/status.h"

namespace edgeclr::convert {

// Identity and Dropout (inference) forward their input.
Status remove_passthrough(Graph& graph);

// Evaluates nodes whose inputs are all constant (and Shape of a statically known shape).
Status fold_constants(Graph& graph);

// Conv -> BatchNormalization, the conv's output read by nothing else, becomes one Conv.
Status fold_batch_norm(Graph& graph);

}  // namespace edgeclr::convert
