#!/usr/bin/python3
"""Every torchvision classification model through the converter and the runtime, against
PyTorch: the table of docs/converter.md ("The torchvision zoo").

usage: scripts/zoo-sweep                 (exports on this machine, runs in the Debian 13 root)
       /usr/bin/python3 models/zoo/sweep.py ZOO_DIR EDGECLR_CLI BENCH_RUNNER OUT.md [--models a,b]

ZOO_DIR holds NAME.onnx, NAME.inputs.npy (3 images, NHWC, normalised) and NAME.expected.npy
(PyTorch's classifier output), as `models/zoo/export_torchvision.py --all` writes them.
Each model is converted with --no-normalize (the embedding is then the classifier's
output), each image encoded through the C API (edgeclr-bench-runner, one thread) and
compared: it matches when every image has cosine >= 0.9999 and max |diff| <= 1e-4 of the
largest |value|, the converter tests' criterion. Prints one Markdown row per model as it
goes and writes the table to OUT.md.
"""
import argparse
import os
import subprocess
import time

import numpy as np


def row_for(name, zoo, cli, runner):
    onnx_path = os.path.join(zoo, f"{name}.onnx")
    model = os.path.join(zoo, f"{name}.eclr")
    start = time.time()
    run = subprocess.run([cli, "convert", onnx_path, "-o", model, "--no-normalize"], capture_output=True, text=True)
    seconds = time.time() - start
    if run.returncode != 0:
        return f"| {name} | - | - | refused: {run.stderr.strip().split(': ', 2)[-1][:160]} |", False
    inputs = np.load(os.path.join(zoo, f"{name}.inputs.npy"))
    expected = np.load(os.path.join(zoo, f"{name}.expected.npy"))
    worst_cosine, worst_error = 1.0, 0.0
    for i in range(inputs.shape[0]):
        tensor = os.path.join(zoo, f"{name}.in{i}.f32")
        out = os.path.join(zoo, f"{name}.out{i}.f32")
        inputs[i].astype(np.float32).tofile(tensor)
        r = subprocess.run([runner, model, tensor, out, "1", "0", "0"], capture_output=True, text=True)
        os.remove(tensor)
        if r.returncode != 0:
            return f"| {name} | {seconds:.1f} | - | runtime: {r.stderr.strip()[-160:]} |", False
        got, want = np.fromfile(out, np.float32).astype(np.float64), expected[i].astype(np.float64)
        os.remove(out)
        worst_cosine = min(worst_cosine, float(got @ want / np.linalg.norm(got) / np.linalg.norm(want)))
        worst_error = max(worst_error, float(np.abs(got - want).max() / np.abs(want).max()))
    ok = worst_cosine >= 0.9999 and worst_error <= 1e-4
    os.remove(model)
    verdict = "matches" if ok else "DIFFERS"
    return f"| {name} | {seconds:.1f} | {worst_cosine:.7f} / {worst_error:.1e} | {verdict} |", ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("zoo")
    parser.add_argument("cli")
    parser.add_argument("runner")
    parser.add_argument("out")
    parser.add_argument("--models", default="")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n] or sorted(
        f[:-5] for f in os.listdir(args.zoo) if f.endswith(".onnx") and "." not in f[:-5])
    header = ["| model | convert (s) | lowest cosine / largest error (of max) | result |", "|---|---|---|---|"]
    rows, matched = [], 0
    print("\n".join(header), flush=True)
    for name in names:
        row, ok = row_for(name, args.zoo, args.cli, args.runner)
        matched += ok
        rows.append(row)
        print(row, flush=True)
    summary = f"{matched} of {len(names)} models match PyTorch."
    with open(args.out, "w") as f:
        f.write("\n".join(header + rows) + "\n\n" + summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
