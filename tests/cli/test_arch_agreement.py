#!/usr/bin/env python3
"""The reference models give the same outputs on every architecture as on x86-64.

usage: test_arch_agreement.py EDGECLR_BINARY EXPORT_IMAGES_BINARY SOURCE_DIR [--write]

Exports the first 20 Fashion-MNIST test images as PNG files, embeds them with the shipped
int8 and fp32 reference models (features and embeddings, 1 and 2 threads) and compares
with tests/fixtures/fashion/x86_64-outputs.json, which this script wrote on x86-64 with
--write (on Debian 12, XNNPACK 2022-02). Run natively on x86-64 it guards those outputs;
run in the Debian 13 build (make test-trixie: XNNPACK 2024-11, other kernels) it shows the
two XNNPACK generations agree; run in a Raspberry Pi cross build (under qemu) it shows the
Pi computes what x86-64 computes:
  - int8 features: bit-exact (XNNPACK's int8 kernels requantize exactly on both ISAs);
  - everything fp32 (the fp32 backbone's features, every embedding, which the fp32 head
    makes): within a tolerance derived below, since kernels sum in another order and GCC
    fuses multiply-adds on ARM.
JSON floats are printed with enough digits to read back bit-exact.
"""
import json
import os
import platform
import sys
import tempfile

import cli_check
from cli_check import check

BINARY, EXPORT, SOURCE = sys.argv[1], sys.argv[2], sys.argv[3]
WRITE = sys.argv[4:] == ["--write"]
FIXTURE = os.path.join(SOURCE, "tests", "fixtures", "fashion", "x86_64-outputs.json")
D = "/usr/share/datasets/fashion-mnist"
MODELS = ("fashion-int8", "fashion-fp32")
COUNT = 20

# fp32 tolerance, absolute, for outputs whose largest magnitude is M. Each value is a chain
# of float sums; a sum of n terms taken in another order moves by at most about
# n * eps * sum(|terms|) (eps = 2^-24), and the roundings of successive layers add up. Here n
# is the reduction lengths summed along the reference model: stem 9; five blocks of 1x1
# expand, 3x3 depthwise, 1x1 project (32+9+64, 32+9+96, 64+9+192, 64+9+192, 96+9+288);
# 1x1 conv 96; average pool 49; head 256 + 256; L2 norm 128: 1959, rounded up to 2048.
# With sum(|terms|) taken as M and two machines each that far off: 2 * 2048 * eps * M,
# about 2.4e-4 of M. Measured on aarch64 under qemu: at most 5e-7 with M near 1; a broken
# kernel is off by O(M).
EPS = 2.0 ** -24
N_TERMS = 2048


def tolerance(reference):
    largest = max(abs(v) for row in reference for v in row)
    return 2 * N_TERMS * EPS * largest


def embed(model, files, space, threads):
    args = ["embed", os.path.join(SOURCE, "models", "fashion", model + ".eclr"), *files, "--json",
            "--threads", str(threads)]
    if space == "feature":
        args.append("--feature")
    r = cli_check.run(BINARY, *args)
    check(r.returncode == 0, f"{model} {space} threads {threads}: exit {r.returncode} {r.stderr!r}")
    if r.returncode != 0:
        return None
    return [row[space] for row in json.loads(r.stdout)]


def compare(name, got, want, exact):
    if got is None:
        return
    check(len(got) == len(want) and all(len(g) == len(w) for g, w in zip(got, want)),
          f"{name}: shape {len(got)}x{len(got[0]) if got else 0}, expected {len(want)}x{len(want[0])}")
    diffs = [abs(g - w) for gr, wr in zip(got, want) for g, w in zip(gr, wr)]
    worst = max(diffs)
    if exact:
        differing = sum(1 for d in diffs if d != 0)
        check(differing == 0, f"{name}: {differing} of {len(diffs)} values differ from x86-64, by up to {worst}")
    else:
        limit = tolerance(want)
        check(worst <= limit, f"{name}: differs from x86-64 by up to {worst}, tolerance {limit}")
    print(f"{name}: max difference from x86-64 {worst:.3g}" + (" (bit-exact required)" if exact else ""))


with tempfile.TemporaryDirectory() as tmp:
    r = cli_check.run(EXPORT, f"{D}/t10k-images-idx3-ubyte.gz", f"{D}/t10k-labels-idx1-ubyte.gz", tmp,
                      "--first", "0", "--count", str(COUNT))
    check(r.returncode == 0, f"export: {r.returncode} {r.stderr!r}")
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(tmp) for f in names)
    check(len(files) == COUNT, f"exported {len(files)} images")
    outputs = {}
    for model in MODELS:
        for space in ("feature", "embedding"):
            one = embed(model, files, space, 1)
            two = embed(model, files, space, 2)
            check(one is not None and one == two, f"{model} {space}: 2 threads differ from 1")
            outputs[f"{model} {space}"] = one

names = [os.path.relpath(f, tmp) for f in files]
if WRITE:
    if cli_check.EMULATOR or platform.machine() != "x86_64":
        sys.exit("test_arch_agreement.py: --write makes the x86-64 reference: run it natively on x86-64")
    with open(FIXTURE, "w") as f:
        json.dump({"made_by": "python3 tests/cli/test_arch_agreement.py build/tools/edgeclr "
                              "build/tools/edgeclr-export-images . --write",
                   "images": names, "outputs": outputs}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {FIXTURE}")
else:
    with open(FIXTURE) as f:
        reference = json.load(f)
    check(reference["images"] == names, f"images {names[:3]}..., fixture has {reference['images'][:3]}...")
    for key, want in reference["outputs"].items():
        compare(key, outputs.get(key), want, exact=(key == "fashion-int8 feature"))
cli_check.finish()
