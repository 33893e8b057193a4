#!/usr/bin/python3
"""For a model the sweep reports as DIFFERS: is the difference fp32 rounding?

usage: /usr/bin/python3 models/zoo/float64_check.py ZOO_DIR EDGECLR_CLI BENCH_RUNNER OUT.md --models a,b

Deep random-weight networks (ResNet-101/152, ResNeXt-101) grow their activations layer by
layer, so two correct fp32 evaluations that add in different orders end up further apart
than the sweep's 1e-4 of the largest value. This rebuilds the model exactly as
export_torchvision.py did (same constructor, seed and weights; its fp32 output is checked
to equal the saved expected output), runs it in float64 as the truth, and compares both
PyTorch fp32 and edgeclr (converted here, run through the C API as the sweep does) with
it. The verdict "fp32 rounding" needs edgeclr's largest error to be at most twice
PyTorch fp32's own; anything else is "DIFFERS". Host Debian's torch; the host's edgeclr
(XNNPACK 2022 runs every CNN).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision as zoo  # noqa: E402


def edgeclr_outputs(onnx_path, inputs, cli, runner, work):
    model = os.path.join(work, "model.eclr")
    subprocess.run([cli, "convert", onnx_path, "-o", model, "--no-normalize"], check=True, capture_output=True)
    outputs = []
    for image in inputs:
        tensor, out = os.path.join(work, "in.f32"), os.path.join(work, "out.f32")
        image.astype(np.float32).tofile(tensor)
        subprocess.run([runner, model, tensor, out, "1", "0", "0"], check=True, capture_output=True)
        outputs.append(np.fromfile(out, np.float32).astype(np.float64))
    return np.stack(outputs)


def check(name, zoo_dir, cli, runner):
    constructor, seed = {**zoo.all_models(), **zoo.MODELS, **zoo.FAMILIES}[name]  # as export_one picks
    torch.manual_seed(seed)
    model = constructor(weights=None)
    zoo.randomise_weights(model, seed)
    inputs = np.load(os.path.join(zoo_dir, f"{name}.inputs.npy"))
    saved = np.load(os.path.join(zoo_dir, f"{name}.expected.npy"))
    x = torch.from_numpy(inputs).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        fp32 = model(x).numpy()
        fp64 = model.double()(x.double()).numpy()
    if not np.array_equal(fp32, saved):
        return f"| {name} | - | - | not rebuilt: PyTorch's fp32 output differs from the export's |"
    with tempfile.TemporaryDirectory() as work:
        ours = edgeclr_outputs(os.path.join(zoo_dir, f"{name}.onnx"), inputs, cli, runner, work)
    scale = np.abs(fp64).max(axis=1, keepdims=True)
    torch_error = float((np.abs(fp32 - fp64) / scale).max())
    our_error = float((np.abs(ours - fp64) / scale).max())
    verdict = "fp32 rounding" if our_error <= 2 * torch_error else "DIFFERS"
    return f"| {name} | {torch_error:.1e} | {our_error:.1e} | {verdict} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zoo")
    parser.add_argument("cli")
    parser.add_argument("runner")
    parser.add_argument("out")
    parser.add_argument("--models", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = ["| model | PyTorch fp32 vs float64 | edgeclr vs float64 | verdict |", "|---|---|---|---|"]
    for name in args.models.split(","):
        rows.append(check(name, args.zoo, args.cli, args.runner))
        print(rows[-1], flush=True)
    with open(args.out, "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
