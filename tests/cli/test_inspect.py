#!/usr/bin/env python3
"""End-to-end tests of `edgeclr inspect` on the files edgeclr-test-models writes.

usage: test_inspect.py EDGECLR_BINARY MODELS_DIR

Expected values come from how tests/support/sample_models.cpp builds the samples
(16x16x3 input, backbone width 8, head 8 -> 16 -> 4), not from edgeclr's output.
"""
import json
import os
import sys

import cli_check
from cli_check import check


BINARY, MODELS = sys.argv[1], sys.argv[2]


def run(*args):
    return cli_check.run(BINARY, *args)


# Parameters and MACs of the sample models, counted by hand from their construction.
BACKBONE_PARAMS = (8 * 27 + 8) + (8 * 9 + 8) + (8 * 8 + 8)
HEAD_PARAMS = (8 * 16 + 16) + (16 * 4 + 4)
MACS = 512 * 27 + 512 * 9 + 512 * 8 + 8 * 16 + 16 * 4


def test_good_models():
    for name, precision in (("sample-fp32.eclr", "fp32"), ("sample-int8.eclr", "int8")):
        path = os.path.join(MODELS, "good", name)
        r = run("inspect", path, "--json")
        check(r.returncode == 0, f"{name}: exit {r.returncode}, stderr {r.stderr!r}")
        if r.returncode != 0:
            continue
        d = json.loads(r.stdout)
        check(r.stderr == "", f"{name}: --json wrote to stderr: {r.stderr!r}")
        check(d["format_version"] == 2, f"{name}: format_version {d['format_version']}")
        check((d["input"]["height"], d["input"]["width"],
              d["input"]["channels"]) == (16, 16, 3), f"{name}: input {d['input']}")
        check(d["precision"] == precision, f"{name}: precision {d['precision']}")
        check(d["feature_dim"] == 8 and d["embedding_dim"] == 4, f"{name}: dims {d['feature_dim']} {d['embedding_dim']}")
        check(d["params"] == BACKBONE_PARAMS + HEAD_PARAMS, f"{name}: params {d['params']}")
        check(d["macs"] == MACS, f"{name}: macs {d['macs']}")
        check(d["ops"].get("depthwise_conv2d") == 1 and d["ops"].get("conv2d") == 2, f"{name}: ops {d['ops']}")
        check(len(d["backbone_hash"]) == 16 and int(d["backbone_hash"], 16) != 0, f"{name}: hash {d['backbone_hash']}")
        check(d["file_size"] == os.path.getsize(path), f"{name}: file_size {d['file_size']}")
        check([(l["in"], l["out"]) for l in d["head_layers"]] == [(8, 16), (16, 4)], f"{name}: head {d['head_layers']}")
        check(d["needs_xnnpack"] == 2022, f"{name}: needs_xnnpack {d['needs_xnnpack']}")


        text = run("inspect", path)
        check(text.returncode == 0 and "precision      " + precision in text.stdout, f"{name}: text output {text.stdout!r}")
        check(d["backbone_hash"] in text.stdout, f"{name}: text and JSON disagree on the hash")


def test_transformer_needs_xnnpack_2024():
    path = os.path.join(MODELS, "good", "sample-transformer.eclr")
    r = run("inspect", path, "--json")
    check(r.returncode == 0, f"exit {r.returncode}, stderr {r.stderr!r}")
    if r.returncode != 0:
        return
    d = json.loads(r.stdout)
    check(d["format_version"] == 3, f"format_version {d['format_version']}")
    check(d["needs_xnnpack"] == 2024, f"needs_xnnpack {d['needs_xnnpack']}")
    # patch conv 128 x 48, qkv 384 x 8, q k^T 512 x 4, weights v 128 x 16, proj 128 x 8; head 8x16 + 16x4
    check(d["macs"] == 6144 + 3072 + 2048 + 2048 + 1024 + 192, f"macs {d['macs']}")
    for op in ("layer_norm", "batch_matmul", "softmax", "transpose", "concat", "slice", "mean", "gelu"):
        check(d["ops"].get(op, 0) >= 1, f"no {op} in {d['ops']}")
    text = run("inspect", path)
    linked_2024 = "(2024 API)" in d["xnnpack"]
    want = "needs          XNNPACK 2024 or later"
    check(want in text.stdout, f"text: {text.stdout!r}")
    check(("an encoder is refused here" in text.stdout) != linked_2024, f"text: {text.stdout!r}")


def test_bad_models():
    bad_dir = os.path.join(MODELS, "bad")
    names = sorted(os.listdir(bad_dir))
    check(len(names) > 100, f"only {len(names)} bad models")
    for name in names:
        path = os.path.join(bad_dir, name)
        r = run("inspect", path)
        lines = r.stderr.splitlines()
        ok = (r.returncode == 1 and len(lines) == 1 and lines[0].startswith("edgeclr: ")
              and path in lines[0] and r.stdout == "")
        check(ok, f"{name}: exit {r.returncode} (negative = signal), stderr {r.stderr!r}")


def test_usage():
    r = run("inspect")
    check(r.returncode == 2 and r.stderr.startswith("edgeclr: inspect:"), f"no model: {r.returncode} {r.stderr!r}")
    r = run("inspect", "--bogus", "x.eclr")
    check(r.returncode == 2 and "--bogus" in r.stderr, f"bad option: {r.returncode} {r.stderr!r}")
    r = run("inspect", "--help")
    check(r.returncode == 0 and "backbone_hash" in r.stdout, f"--help: {r.returncode}")
    r = run("frobnicate")
    check(r.returncode == 2 and "unknown command" in r.stderr, f"unknown command: {r.returncode} {r.stderr!r}")
    r = run("--help")
    check(r.returncode == 0 and "inspect" in r.stdout, f"--help: {r.returncode}")
    r = run("inspect", "/nonexistent/model.eclr")
    check(r.returncode == 1 and "No such file" in r.stderr, f"missing file: {r.returncode} {r.stderr!r}")


test_good_models()
test_transformer_needs_xnnpack_2024()
test_bad_models()
test_usage()
cli_check.finish()
