#!/usr/bin/python3
"""The DINOv2 model that models/dinov2/build.sh makes (`make dinov2-model`): its structure,
how its head is bound to its backbone, and int8 against fp32 on the photos the int8
calibration did not see, through edgeclr's own decode.

usage: test_dinov2_model.py EDGECLR_BINARY SHARED_BUILD   (Debian's python3: numpy)

SHARED_BUILD is EDGECLR_PHOTO_BUILD: BUILD/dinov2 holds the model, BUILD/photos the corpus.

On an edgeclr linking XNNPACK 2024 or later: both models must exist (a missing one fails
and says `make dinov2-model`), and on the last 20 corpus photos (sorted by name, as the
converter reads a folder: the recipe calibrates on the others) the int8 model's
embedding and feature (class token) must have cosine to the fp32 model's of mean >= 0.999
and min >= 0.995 (issue 26's targets).

On XNNPACK 2022 (Debian 12): both models must be refused when the encoder is created,
with "needs XNNPACK 2024 or later". The model is made by the Debian 13 build, after the
Debian 12 suite in `make test`: when it is not there yet this exits with 77, which ctest
reports as skipped (not passed), unless EDGECLR_DINOV2_REQUIRED is set (make test sets it
when it runs this again after make dinov2-model): then it fails.
"""
import json
import os
import re
import sys
import tempfile

import numpy as np

import cli_check
from cli_check import check

BINARY, BUILD = sys.argv[1], sys.argv[2]
MODEL_DIR = os.path.join(BUILD, "dinov2")
FP32 = os.path.join(MODEL_DIR, "dinov2-fp32.eclr")
INT8 = os.path.join(MODEL_DIR, "dinov2-int8.eclr")
START = os.path.join(MODEL_DIR, "dinov2-start-fp32.eclr")        # the PCA head, before adaptation
BACKBONE = os.path.join(MODEL_DIR, "dinov2-backbone-fp32.eclr")  # no head: the PCA's features
HEAD = os.path.join(MODEL_DIR, "head.eclh")
ADAPT_JSON = os.path.join(MODEL_DIR, "adapt.json")
REPORT = os.path.join(MODEL_DIR, "int8-report.txt")
CORPUS = os.path.join(BUILD, "photos", "corpus")
HOLDOUT = 20  # models/dinov2/build.sh: the last 20 corpus photos measure, the others calibrate
# Issue 26's fidelity targets, int8 vs fp32 on held-out real photos.
MIN_MEAN_COSINE = 0.999
MIN_COSINE = 0.995
# The converter's report measures the same 20 photos through the same runtime and prints
# 5 decimals: our mean must agree to its rounding (5e-6) plus float noise.
REPORT_AGREEMENT = 2e-5
SKIP = 77  # ctest SKIP_RETURN_CODE (tests/dinov2/CMakeLists.txt)


def run_ok(*args):
    r = cli_check.run(BINARY, *args)
    check(r.returncode == 0, f"edgeclr {' '.join(args[:2])}: exit {r.returncode}: {r.stderr.strip()!r}")
    return r


def inspect(model):
    r = run_ok("inspect", model, "--json")
    return json.loads(r.stdout) if r.returncode == 0 else {}


def vectors(model, files, *extra):
    """(N, dim) float64 rows of `edgeclr embed MODEL FILES... --npy` (the embedding, or --feature)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.npy")
        r = run_ok("embed", model, *files, "--npy", out, *extra)
        return np.load(out).astype(np.float64) if r.returncode == 0 else np.zeros((len(files), 1))


def cosines(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


version = cli_check.run(BINARY, "--version").stdout
year = re.search(r"XNNPACK (\d{4})-", version)
check(year is not None, f"edgeclr --version names no XNNPACK: {version!r}")
xnnpack = int(year.group(1)) if year else 0
missing = [f for f in (FP32, INT8) if not os.path.exists(f)]
if missing and xnnpack < 2024 and not os.environ.get("EDGECLR_DINOV2_REQUIRED"):
    print(f"SKIP: {', '.join(missing)} not made yet: `make dinov2-model` makes them with the Debian 13 build; "
          f"this XNNPACK {xnnpack} build checks that it refuses them once they exist")
    sys.exit(SKIP)
for f in missing:
    check(False, f"missing {f}: run make dinov2-model")
if cli_check.failures:
    cli_check.finish()

fp32, int8 = inspect(FP32), inspect(INT8)
# The structure: a 384-d class token, one 384 -> 256 head layer, L2-normalised.
for name, m in (("fp32", fp32), ("int8", int8)):
    check(m.get("feature_dim") == 384 and m.get("embedding_dim") == 256 and m.get("l2_normalize") is True,
          f"{name}: feature {m.get('feature_dim')}, embedding {m.get('embedding_dim')}, l2 {m.get('l2_normalize')}")
    check(m.get("head_layers") == [{"in": 384, "out": 256}], f"{name}: head layers {m.get('head_layers')}")
    check(m.get("input", {}).get("resize") == "crop" and m.get("input", {}).get("height") == 224,
          f"{name}: input {m.get('input')}")
    check(m.get("needs_xnnpack") == 2024, f"{name}: needs XNNPACK {m.get('needs_xnnpack')}")
check(fp32.get("precision") == "fp32", f"fp32 model's precision {fp32.get('precision')}")
check(int8.get("precision") == "int8" and int8.get("format_version") == 4,
      f"int8 model: precision {int8.get('precision')}, format {int8.get('format_version')}")
# The int8 scheme: every fully connected layer of the backbone (6 per block, 12 blocks)
# dynamic int8; every other operator as in fp32, the patch embedding conv included
# (build.sh keeps it fp32), so no static quantize/dequantize.
fp32_ops, int8_ops = dict(fp32.get("ops", {})), dict(int8.get("ops", {}))
check(fp32_ops.get("fully_connected") == 72, f"fp32: {fp32_ops.get('fully_connected')} fully connected layers, expected 72")
check(int8_ops.get("fully_connected_dynamic_int8") == 72 and "fully_connected" not in int8_ops,
      f"int8: {int8_ops.get('fully_connected_dynamic_int8')} dynamic int8 fully connected layers "
      f"(expected 72), {int8_ops.get('fully_connected', 0)} fp32 ones (expected 0)")
fp32_ops["fully_connected_dynamic_int8"] = fp32_ops.pop("fully_connected", 0)
check(int8_ops == fp32_ops, f"int8 ops {int8_ops} are not fp32's {fp32_ops} with the fully connected layers in int8")

# How the head is bound: the PCA was computed on the features of BACKBONE, the head
# adapted on START: all three share one backbone hash, which head.eclh records. The int8
# backbone is another (quantized weights) with the same head baked in.
hashes = {f: inspect(f).get("backbone_hash") for f in (BACKBONE, START)}
check(hashes[BACKBONE] == hashes[START] == fp32.get("backbone_hash"),
      f"backbone hashes: features {hashes[BACKBONE]}, start {hashes[START]}, fp32 {fp32.get('backbone_hash')}")
check(int8.get("backbone_hash") not in (None, fp32.get("backbone_hash")), "int8 model has the fp32 backbone hash")
adapt = json.load(open(ADAPT_JSON))
one_photo = [os.path.join(CORPUS, sorted(os.listdir(CORPUS))[0])]
if adapt["accepted"]:
    source = f"head.eclh version {adapt['version']}"
    for name, m in (("fp32", fp32), ("int8", int8)):
        got = m.get("metadata", {}).get("head_source")
        check(got == source, f"{name}: head_source {got!r}, expected {source!r}")
    if xnnpack >= 2024:
        # The checkpoint fits the fp32 model's backbone and is the head baked into it...
        baked, given = vectors(FP32, one_photo), vectors(FP32, one_photo, "--head", HEAD)
        check(np.array_equal(baked, given), "dinov2-fp32.eclr's head is not head.eclh's")
        # ...and not the int8 backbone's.
        r = cli_check.run(BINARY, "embed", INT8, one_photo[0], "--head", HEAD)
        check(r.returncode != 0 and f"trained on backbone {fp32.get('backbone_hash')}" in r.stderr,
              f"head.eclh on the int8 model: {r.returncode} {r.stderr!r}")
else:
    check(not os.path.exists(HEAD), "adaptation not accepted, yet head.eclh exists")
    check("head_source" not in fp32.get("metadata", {}) and "head_source" not in int8.get("metadata", {}),
          "adaptation not accepted, yet a model names a head source")

if xnnpack < 2024:
    for model in (FP32, INT8):
        r = cli_check.run(BINARY, "embed", model, one_photo[0])
        check(r.returncode != 0 and "needs XNNPACK 2024 or later" in r.stderr,
              f"XNNPACK {xnnpack}: {os.path.basename(model)} not refused as expected: {r.returncode} {r.stderr!r}")
        print(f"{os.path.basename(model)} refused by XNNPACK {xnnpack}: {r.stderr.strip()}")
    cli_check.finish()

photos = sorted(os.listdir(CORPUS))
check(len(photos) > HOLDOUT, f"{len(photos)} corpus photos")
held_out = [os.path.join(CORPUS, n) for n in photos[-HOLDOUT:]]
report = open(REPORT).read()
check(f"fidelity on {HOLDOUT} held-out images" in report, f"{REPORT} does not measure {HOLDOUT} held-out images")
reported = re.search(r"^embedding cosine: mean ([0-9.]+), min ([0-9.]+)", report, re.M)
check(reported is not None, f"{REPORT} has no 'embedding cosine' line")

results = {}
for what, extra in (("embedding", ()), ("feature (class token)", ("--feature",))):
    a, b = vectors(FP32, held_out, *extra), vectors(INT8, held_out, *extra)
    if a.shape != b.shape or a.shape[0] != HOLDOUT:
        check(False, f"{what}: shapes {a.shape} and {b.shape}")
        continue
    c = cosines(a, b)
    results[what] = c
    worst = photos[-HOLDOUT:][int(c.argmin())]
    print(f"{what}: int8 vs fp32 cosine on {HOLDOUT} held-out photos: mean {c.mean():.5f}, min {c.min():.5f} ({worst})")
    check(c.mean() >= MIN_MEAN_COSINE, f"{what}: mean cosine {c.mean():.5f} < {MIN_MEAN_COSINE}")
    check(c.min() >= MIN_COSINE, f"{what}: min cosine {c.min():.5f} ({worst}) < {MIN_COSINE}")
# Batches: `search --gallery` encodes the gallery 16 images per call and the query alone,
# so each photo must find itself at similarity 1 (the class token is a constant joined to
# the batch's patch tokens; a batch that mixed or dropped it would not).
with tempfile.TemporaryDirectory() as gallery:
    for path in held_out[:3]:
        os.symlink(path, os.path.join(gallery, os.path.basename(path)))
    for model in (FP32, INT8):
        r = run_ok("search", model, *held_out[:3], "--gallery", gallery, "--json", "--k", "1")
        found = json.loads(r.stdout) if r.returncode == 0 else []
        for query in found:
            best = query["neighbours"][0]
            check(os.path.basename(best["gallery"]) == os.path.basename(query["file"]) and
                  best["similarity"] >= 0.99999,
                  f"{os.path.basename(model)} batched: {query['file']} found {best}")
        check(len(found) == 3, f"{os.path.basename(model)} search --gallery: {len(found)} results")
if "embedding" in results and reported:
    c = results["embedding"]
    check(abs(c.mean() - float(reported.group(1))) <= REPORT_AGREEMENT and
          abs(c.min() - float(reported.group(2))) <= REPORT_AGREEMENT,
          f"embedding cosine mean {c.mean():.5f} min {c.min():.5f}, the converter's report says "
          f"{reported.group(1)} {reported.group(2)}: not the same held-out photos?")
    norms = np.linalg.norm(vectors(INT8, held_out[:2]), axis=1)
    check(np.allclose(norms, 1, atol=1e-5), f"int8 embeddings not unit length: {norms}")
cli_check.finish()
