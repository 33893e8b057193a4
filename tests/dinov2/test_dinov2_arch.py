#!/usr/bin/python3
"""The DINOv2 ViT on a Raspberry Pi (aarch64, under qemu) against the same model on x86-64:
issue 26's point 5.

usage: test_dinov2_arch.py TARGET_BINARY HOST_BINARY SHARED_BUILD   (Debian's python3: numpy)

TARGET_BINARY is the cross build's CLI, run through EDGECLR_TEST_EMULATOR (qemu-user);
HOST_BINARY the native Debian 13 build's CLI (XNNPACK 2024 too), run directly, on the
same model files (SHARED_BUILD/dinov2, `make dinov2-model`) and the same photos: the first
PHOTOS of the 20 held-out corpus photos, whole files through each build's own decode.

What must hold, and why int8 is not bit-exact (unlike the CNNs' static int8 features in
cli.arch_agreement): every operator of the ViT but its fully connected layers is fp32
(layer norm, softmax, GELU, attention), and each dynamic int8 fully connected layer
quantizes its fp32 input per token with a scale from that row's range. Rounding to int8
is discontinuous: the ISAs' different fp32 summation orders (fp32 features 1e-5 apart)
flip some roundings, and twelve blocks carry the flips on, so the Pi's int8 output and
x86's differ by about as much as each differs from fp32 (cosine ~0.999 between them; on
x86 alone, one pixel changed by one level moves the int8 class token as far, and the
fp32 one by 4e-5). So the checks are:
  - fp32 features and embeddings: |Pi - x86| <= FP32_RELATIVE * max|x86|. The worst-case
    bound of test_arch_agreement.py (two machines each summing N_TERMS-term chains in
    another order, 2 * N_TERMS * 2^-24) is 6.7e-3 here, loose because it adds up every
    layer's worst case; measured 1.2e-6 (class token) and 4.7e-7 (embedding), so 1e-4
    keeps an 80-fold margin and still fails a wrong kernel, which is off by O(1);
  - the Pi's int8 is as faithful an int8 of the model as x86's: its features' and
    embeddings' cosine to fp32 (x86's, which the Pi's fp32 equals to the bound above) has
    a minimum >= 0.995 (issue 26's floor) and a mean at most MEAN_SLACK below x86's own
    int8 on the same photos (issue 26's mean target, 0.999, is over the 20 held-out
    photos; on these 4 x86's embedding mean is 0.99899 itself). Measured: the two means
    differ by 3e-5 (embedding) and 1.3e-4 (class token); MEAN_SLACK is about twice that.
The largest differences are printed for docs/benchmarks.md ("Agreement with x86-64").
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

import cli_check
from cli_check import check

TARGET, HOST, BUILD = sys.argv[1], sys.argv[2], sys.argv[3]
MODELS = {p: os.path.join(BUILD, "dinov2", f"dinov2-{p}.eclr") for p in ("fp32", "int8")}
CORPUS = os.path.join(BUILD, "photos", "corpus")
HOLDOUT = 20  # models/dinov2/build.sh: the last 20 corpus photos are held out
PHOTOS = 4    # under qemu one photo takes seconds per model
# Reduction lengths along the ViT-S/14 to its class token, for the worst-case bound the
# docstring quotes: patch embedding 588; per block (12): layer norm 384 x 2, q/k/v 384,
# scores 64, context 257, projection 384, layer norm 384 x 2, fc1 384, fc2 1536; final
# layer norm 384 x 2: 588 + 12 * 4,545 + 768 = 55,896.
N_TERMS = 55896
EPS = 2.0 ** -24
FP32_RELATIVE = 1e-4
INT8_MIN_COSINE = 0.995  # issue 26's floor, int8 vs fp32
MEAN_SLACK = 3e-4


def run(binary, args, emulated):
    """The target's CLI under the emulator, or the host's directly."""
    if emulated:
        return cli_check.run(binary, *args, timeout=1800)
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=600)


def vectors(binary, model, files, *extra, emulated):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.npy")
        r = run(binary, ["embed", model, *files, "--npy", out, *extra], emulated)
        where = "target" if emulated else "host"
        check(r.returncode == 0, f"{where} embed {os.path.basename(model)}: exit {r.returncode}: {r.stderr.strip()!r}")
        return np.load(out).astype(np.float64) if r.returncode == 0 else None


def cosines(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


missing = [f for f in (*MODELS.values(), HOST) if not os.path.exists(f)]
for f in missing:
    check(False, f"missing {f}: make test-pi64-trixie makes the host build and the model (make dinov2-model)")
if missing:
    cli_check.finish()
photos = sorted(os.listdir(CORPUS))[-HOLDOUT:][:PHOTOS]
files = [os.path.join(CORPUS, p) for p in photos]

got = {}
for precision, model in MODELS.items():
    for space, extra in (("feature", ("--feature",)), ("embedding", ())):
        pi = vectors(TARGET, model, files, *extra, emulated=True)
        x86 = vectors(HOST, model, files, *extra, emulated=False)
        if pi is None or x86 is None or pi.shape != x86.shape:
            check(False, f"{precision} {space}: no comparable outputs")
            continue
        got[precision, space] = (pi, x86)
        c, diff = cosines(pi, x86), np.abs(pi - x86).max()
        print(f"{precision} {space}: Pi vs x86-64 on {PHOTOS} photos: largest |difference| {diff:.3g} "
              f"(largest |value| {np.abs(x86).max():.3g}), cosine min {c.min():.8f}, "
              f"bit-exact rows {int((pi == x86).all(1).sum())}/{PHOTOS}")
        if precision == "fp32":
            bound = FP32_RELATIVE * np.abs(x86).max()
            print(f"  worst-case summation bound {2 * N_TERMS * EPS:.2g} of the largest value; required {bound:.3g}")
            check(diff <= bound, f"fp32 {space}: |difference| {diff:.3g} > {bound:.3g}")

for space in ("feature", "embedding"):
    if ("int8", space) not in got or ("fp32", space) not in got:
        continue
    (pi8, x86_8), x86_32 = got["int8", space], got["fp32", space][1]
    on_pi, on_x86 = cosines(pi8, x86_32), cosines(x86_8, x86_32)
    print(f"int8 {space} vs x86-64 fp32: cosine on the Pi mean {on_pi.mean():.5f} min {on_pi.min():.5f}; "
          f"on x86-64 mean {on_x86.mean():.5f} min {on_x86.min():.5f}")
    check(on_pi.min() >= INT8_MIN_COSINE, f"the Pi's int8 {space}: cosine to fp32 min {on_pi.min():.5f} < "
          f"{INT8_MIN_COSINE}")
    check(on_pi.mean() >= on_x86.mean() - MEAN_SLACK, f"the Pi's int8 {space}: cosine to fp32 mean "
          f"{on_pi.mean():.5f}, x86-64's {on_x86.mean():.5f}")
cli_check.finish()
