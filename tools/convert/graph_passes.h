// Graph rewrites before lowering: drop pass-through nodes, fold constant subgraphs (the
// Shape/Gather/Unsqueeze/Concat chains PyTorch exports in front of Reshape) and fold
// BatchNormalization into the convolution before it.
#pragma once

#include <string>
#include <vector>

#include "convert/graph.h"
#include "core/status.h"

namespace edgeclr::convert {

// Identity and Dropout (inference) forward their input.
Status remove_passthrough(Graph& graph);

// Evaluates nodes whose inputs are all constant (and Shape of a statically known shape).
Status fold_constants(Graph& graph);

// Conv -> BatchNormalization, the conv's output read by nothing else, becomes one Conv.
Status fold_batch_norm(Graph& graph);

// Conv -> HardSigmoid (the conv's output read by nothing else): alpha and beta fold into
// the conv's weights and bias, leaving Clip(0, 1), which stays int8 where the multiply and
// add by constants it lowers to otherwise would not (squeeze-excitation gates).
Status fold_hard_sigmoid(Graph& graph);

// Div(x, c) becomes Mul(x, 1 / c) and Sub(x, c) becomes Add(x, -c) for a constant float
// c, as exporters write hard-swish (x * Clip(x + 3, 0, 6) / 6) and normalisations, so
// they lower onto multiply and add. A zero or non-finite 1 / c is refused. Reciprocal(x)
// becomes Div(1, x).
Status rewrite_constant_division(Graph& graph);

// Mul(x, HardSigmoid(x)) with alpha 1/6 and beta 1/2, how PyTorch exports Hardswish to
// opsets before 14 (the HardSigmoid read by nothing else), becomes HardSwish(x): one
// operator instead of four after lowering, and one that XNNPACK 2024 runs in int8.
Status fuse_hard_swish(Graph& graph);

// A Softmax, LogSoftmax or ArgMax that produces the graph output after a Gemm, MatMul or
// Add (a classifier's activation) is dropped: the embedding is the head's output before
// it. Appends a note naming the node to `notes`.
Status drop_classifier_activation(Graph& graph, std::vector<std::string>* notes);

// ReduceMean(x) -> Sub -> Pow 2 (or Mul by itself) -> ReduceMean -> Add eps -> Sqrt -> Div,
// over the last axis, and a Mul by a per-channel constant and an Add of one after it,
// become one LayerNormalization (axis -1), as ONNX's opset-17 op; how PyTorch and Hugging
// Face export LayerNorm before opset 17 (fuse_transformer_ops.cpp).
Status fuse_layer_norm(Graph& graph);

// x * 0.5 * (1 + Erf(x / sqrt(2))), in either order of its Muls and with the Div or a Mul
// by 1 / sqrt(2), becomes one Gelu node (approximate = "none"), as ONNX's opset-20 op;
// x * 0.5 * (1 + Tanh(sqrt(2 / pi) (x + 0.044715 x^3))) one with approximate = "tanh".
Status fuse_gelu(Graph& graph);

}  // namespace edgeclr::convert
