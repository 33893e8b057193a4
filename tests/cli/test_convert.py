#!/usr/bin/env python3
"""End-to-end tests of `edgeclr convert`: fp32 and int8 from the reference ONNX model,
the fidelity report (text and JSON), --head (an adapted head baked into the model), and
that nothing is written on failure.

usage: test_convert.py EDGECLR_BINARY SOURCE_DIR MAKE_HEAD_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

import cli_check
from cli_check import check

BINARY, SOURCE, MAKE_HEAD = sys.argv[1], sys.argv[2], sys.argv[3]
ONNX = os.path.join(SOURCE, "models", "fashion", "fashion.onnx")
IMAGE = None  # a 28x28 PGM, written below
TRAIN = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def run(*args):
    return cli_check.run(BINARY, *args)


def embeddings(model, *extra):
    r = run("embed", model, IMAGE, "--json", *extra)
    check(r.returncode == 0, f"embed {model} {extra}: {r.stderr!r}")
    return json.loads(r.stdout)[0]["embedding"] if r.returncode == 0 else []


def check_xnnpack_target(tmp, int8):
    """The model records the XNNPACK generation it was quantized for: by default the linked
    one; --xnnpack picks an older one, never a newer one (fidelity is measured here)."""
    version = run("--version").stdout
    linked = "2024" if "(2024 API)" in version else "2022"
    check(f"XNNPACK " in version and f"({linked} API)" in version, f"--version names the XNNPACK: {version!r}")
    meta = json.loads(run("inspect", int8, "--json").stdout)
    check(meta["metadata"].get("xnnpack") == linked and f"({linked} API)" in meta["xnnpack"], f"inspect: {meta}")
    older = os.path.join(tmp, "i2022.eclr")
    r = run("convert", ONNX, "-o", older, "--int8", "--calibration", TRAIN, "--calibration-count", "20",
            "--holdout", "10", "--xnnpack", "2022")
    check(r.returncode == 0 and json.loads(run("inspect", older, "--json").stdout)["metadata"].get("xnnpack") == "2022",
          f"--xnnpack 2022: {r.stderr!r}")
    never = os.path.join(tmp, "never2.eclr")
    for target, words in (("2023", "--xnnpack must be 2022 or 2024"),
                          ("2024", "convert on a system with XNNPACK 2024" if linked == "2022" else None)):
        r = run("convert", ONNX, "-o", never, "--int8", "--calibration", TRAIN, "--calibration-count", "20",
                "--holdout", "10", "--xnnpack", target)
        if words is None:
            check(r.returncode == 0, f"--xnnpack {target} on a {linked} build: {r.stderr!r}")
        else:
            check(r.returncode == 2 and words in r.stderr and not os.path.exists(never),
                  f"--xnnpack {target} on a {linked} build: exit {r.returncode} {r.stderr!r}")


def check_head_option(tmp, fp32, int8):
    """--head: the baked model embeds as the unbaked one does with --head; a head bound
    to another backbone is refused; with --int8 the quantized model gets it too."""
    head = os.path.join(tmp, "adapted.eclh")
    subprocess.run([*cli_check.EMULATOR, MAKE_HEAD, fp32, head, "--perturb", "0.3", "--version", "7"], check=True,
                   capture_output=True)
    baked = os.path.join(tmp, "baked.eclr")
    r = run("convert", ONNX, "-o", baked, "--head", head)
    check(r.returncode == 0, f"--head: {r.returncode} {r.stderr!r}")
    with_head, original = embeddings(fp32, "--head", head), embeddings(fp32)
    # The same fp32 head on the same feature: equal to the last bit.
    check(embeddings(baked) == with_head and with_head != original, "baked head != --head, or no change")
    info = json.loads(run("inspect", baked, "--json").stdout)
    check(info["backbone_hash"] == json.loads(run("inspect", fp32, "--json").stdout)["backbone_hash"],
          "--head changed the backbone hash")
    check(info["metadata"].get("head_source") == "adapted.eclh version 7", f"metadata {info['metadata']}")
    baked8 = os.path.join(tmp, "baked8.eclr")
    r = run("convert", ONNX, "-o", baked8, "--head", head, "--int8", "--calibration", TRAIN,
            "--calibration-count", "20", "--holdout", "10")
    check(r.returncode == 0, f"--head --int8: {r.stderr!r}")
    e8 = embeddings(baked8)
    cos = sum(a * b for a, b in zip(e8, with_head))
    check(cos > 0.99 and abs(cos - sum(a * b for a, b in zip(embeddings(int8), original))) < 0.01,
          f"int8 with the baked head: cosine {cos} to fp32 with it")
    other = os.path.join(tmp, "int8.eclh")  # bound to the int8 backbone, not the ONNX file's fp32 one
    subprocess.run([*cli_check.EMULATOR, MAKE_HEAD, int8, other], check=True, capture_output=True)
    never = os.path.join(tmp, "never-baked.eclr")
    for path, words in ((other, "backbone"), (os.path.join(tmp, "none.eclh"), "no such file"), (fp32, "")):
        r = run("convert", ONNX, "-o", never, "--head", path)
        check(r.returncode == 1 and f"failed to load head '{path}'" in r.stderr and words in r.stderr
              and not os.path.exists(never), f"--head {path}: {r.returncode} {r.stderr!r}")


with tempfile.TemporaryDirectory() as tmp:
    IMAGE = os.path.join(tmp, "shirt.pgm")
    with open(IMAGE, "wb") as f:
        f.write(b"P5\n28 28\n255\n" + bytes((x * 9 + y * 5) % 256 if 6 < x < 22 else 0 for y in range(28) for x in range(28)))
    fp32 = os.path.join(tmp, "f.eclr")
    r = run("convert", ONNX, "-o", fp32)
    check(r.returncode == 0 and os.path.exists(fp32), f"fp32: {r.returncode} {r.stderr!r}")
    info = json.loads(run("inspect", fp32, "--json").stdout)
    check(info["precision"] == "fp32" and info["feature_dim"] == 256 and info["embedding_dim"] == 128,
          f"fp32 inspect {info}")
    check(info["input"]["channels"] == 1 and info["input"]["height"] == 28, f"input {info['input']}")

    int8 = os.path.join(tmp, "i.eclr")
    r = run("convert", ONNX, "-o", int8, "--int8", "--calibration", TRAIN, "--calibration-count", "100",
            "--holdout", "50", "--json")  # the default method: percentile
    check(r.returncode == 0, f"int8: {r.returncode} {r.stderr!r}")
    if r.returncode == 0:
        report = json.loads(r.stdout)
        keys = {"output", "method", "calibration_images", "holdout_images", "mean_cosine", "min_cosine", "layers",
                "plain_mean_cosine", "plain_min_cosine", "target_cosine", "target_reached", "int8_mac_share", "macs",
                "kept_by_search"}
        check(keys <= set(report), f"report keys {sorted(report)}")
        check(report["calibration_images"] == 100 and report["holdout_images"] == 50, f"counts {report}")
        check(report["mean_cosine"] >= 0.995 and report["method"] == "percentile", f"cosine {report['mean_cosine']}")
        check(all(l["sqnr_db"] > 15 for l in report["layers"]), "a layer below 15 dB")
        check(report["target_cosine"] == 0.99 and report["target_reached"] and not report["kept_by_search"]
              and report["int8_mac_share"] == 1.0, f"default target {report}")
        check(all("plain_sqnr_db" in l for l in report["layers"]), "no plain SQNR per layer")
        check("calibrating on 100 images" in r.stderr and "100/100 images" in r.stderr, "no progress shown")
        check(json.loads(run("inspect", int8, "--json").stdout)["precision"] == "int8", "int8 inspect")
    text = run("convert", ONNX, "-o", int8, "--int8", "--calibration", TRAIN, "--calibration-count", "100",
               "--holdout", "20", "--target-cosine", "1")
    kept_rows = [line for line in text.stdout.splitlines() if line.startswith("  /") and line.rstrip().endswith(" fp32")]
    check(text.returncode == 0 and "kept in fp32 by the search" in text.stdout and kept_rows
          and "the target mean cosine 1.0000 was not reached" in text.stdout, f"unreachable target {text.stdout!r}")
    text = run("convert", ONNX, "-o", int8, "--int8", "--calibration", TRAIN, "--calibration-count", "20",
               "--holdout", "10")
    check(text.returncode == 0 and "embedding cosine: mean" in text.stdout and "SQNR dB" in text.stdout,
          f"text report {text.stdout!r}")

    check_head_option(tmp, fp32, int8)
    check_xnnpack_target(tmp, int8)

    missing = os.path.join(tmp, "never.eclr")
    for args, code, words in (
            (["convert", ONNX, "-o", missing, "--int8"], 2, "--int8 needs --calibration"),
            (["convert", ONNX], 2, "missing -o"),
            (["convert", ONNX, "-o", missing, "--method", "mse"], 2, "--method only with --int8"),
            (["convert", ONNX, "-o", missing, "--int8", "--calibration", TRAIN, "--method", "best"], 2, "--method"),
            (["convert", ONNX, "-o", missing, "--resize", "zoom"], 2, "--resize"),
            (["convert", ONNX, "-o", missing, "--target-cosine", "0.9"], 2, "--target-cosine only with --int8"),
            (["convert", ONNX, "-o", missing, "--int8", "--calibration", TRAIN, "--target-cosine", "1.5"], 2,
             "--target-cosine must be a number in [0, 1]"),
            (["convert", ONNX, "-o", missing, "--int8", "--calibration", TRAIN, "--equalize", "both"], 2,
             "--equalize must be activations, weights or off"),
            (["convert", ONNX, "-o", missing, "--input-size", "32x32"], 1, "disagrees with the ONNX input [1,1,28,28]"),
            (["convert", os.path.join(tmp, "nope.onnx"), "-o", missing], 1, "cannot open"),
            (["convert", fp32, "-o", missing], 1, "not an ONNX model"),
            (["convert", ONNX, "-o", missing, "--int8", "--calibration", os.path.join(tmp, "none")], 1,
             "no such file or folder")):
        r = run(*args)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == code and len(lines) >= 1 and lines[-1].startswith("edgeclr: ") and words in r.stderr,
              f"{args[1:]}: exit {r.returncode}, stderr {r.stderr!r}")
        check(not os.path.exists(missing), f"{args[1:]}: wrote a file on failure")
    r = run("convert", "--help")
    check(r.returncode == 0 and all(o in r.stdout for o in ("--keep-fp32", "--calibration", "--target-cosine", "--equalize",
                                                             "--no-bias-correction", "--xnnpack")), "convert --help")

cli_check.finish()
