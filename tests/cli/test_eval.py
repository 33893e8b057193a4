#!/usr/bin/env python3
"""End-to-end tests of `edgeclr eval` and `edgeclr search` on the reference model and
real Fashion-MNIST images (IDX files and PNG folders).

usage: test_eval.py EDGECLR_BINARY EXPORT_IMAGES_BINARY SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

import cli_check
from cli_check import check

BINARY, EXPORT, SOURCE = sys.argv[1], sys.argv[2], sys.argv[3]
MODEL = os.path.join(SOURCE, "models", "fashion", "fashion-int8.eclr")
D = "/usr/share/datasets/fashion-mnist"
TEST_IMAGES, TEST_LABELS = f"{D}/t10k-images-idx3-ubyte.gz", f"{D}/t10k-labels-idx1-ubyte.gz"
TRAIN_IMAGES, TRAIN_LABELS = f"{D}/train-images-idx3-ubyte.gz", f"{D}/train-labels-idx1-ubyte.gz"


def run(*args):
    return cli_check.run(BINARY, *args)


# 5000 test images against 5000 training images: smaller than the model card's run, so
# the accuracy is lower than its 0.84, but a broken space would be near 0.1 (chance).
r = run("eval", MODEL, "--data", TEST_IMAGES, "--labels", TEST_LABELS, "--bank", TRAIN_IMAGES,
        "--bank-labels", TRAIN_LABELS, "--limit", "5000", "--json")
check(r.returncode == 0, f"eval: {r.returncode} {r.stderr!r}")
if r.returncode == 0:
    d = json.loads(r.stdout)
    check({"knn_accuracy", "recall_at_1", "images", "seconds", "gap", "bank_images"} <= set(d), f"keys {sorted(d)}")
    check(d["images"] == 5000 and d["bank_images"] == 5000, f"counts {d}")
    check(d["knn_accuracy"] > 0.75 and d["recall_at_1"] > 0.65 and d["gap"] > 0.08, f"values {d}")
    check("data: 5000/5000 images" in r.stderr, f"no progress: {r.stderr!r}")

with tempfile.TemporaryDirectory() as tmp:
    gallery = os.path.join(tmp, "gallery")
    subprocess.run([*cli_check.EMULATOR, EXPORT, TEST_IMAGES, TEST_LABELS, gallery, "--first", "0", "--count", "300",
                    "--names", "tshirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,boot"], check=True,
                   capture_output=True)
    folder = run("eval", MODEL, "--data", gallery, "--json")
    check(folder.returncode == 0, f"eval on a folder: {folder.returncode} {folder.stderr!r}")
    if folder.returncode == 0:
        d = json.loads(folder.stdout)
        check(d["images"] == 300 and d["bank_images"] == 299 and d["knn_accuracy"] > 0.6, f"folder eval {d}")
    query = os.path.join(gallery, "bag", sorted(os.listdir(os.path.join(gallery, "bag")))[0])
    s = run("search", MODEL, query, "--gallery", gallery, "--k", "3", "--json")
    check(s.returncode == 0, f"search: {s.returncode} {s.stderr!r}")
    if s.returncode == 0:
        near = json.loads(s.stdout)[0]["neighbours"]
        check(near[0]["gallery"] == query and abs(near[0]["similarity"] - 1) < 1e-5, f"self not first: {near[0]}")
        check(near[0]["label"] == "bag" and len(near) == 3, f"neighbours {near}")
        check(near[0]["similarity"] >= near[1]["similarity"] >= near[2]["similarity"], "not sorted")
    unlabelled = os.path.join(tmp, "flat")
    os.mkdir(unlabelled)
    os.link(query, os.path.join(unlabelled, "a.png"))
    r = run("eval", MODEL, "--data", unlabelled)
    check(r.returncode == 1 and "has no labels" in r.stderr, f"unlabelled: {r.returncode} {r.stderr!r}")

for args, code, words in ((["eval", MODEL], 2, "expected MODEL and --data"),
                          (["eval", MODEL, "--data", TEST_IMAGES, "--space", "pixels"], 2, "--space"),
                          (["eval", MODEL, "--data", TEST_IMAGES, "--labels", TRAIN_LABELS], 1, "60000 labels for 10000"),
                          (["eval", MODEL, "--data", "/nonexistent"], 1, "no such file"),
                          (["search", MODEL, "x.png"], 2, "--gallery")):
    r = run(*args)
    check(r.returncode == code and r.stderr.startswith("edgeclr: ") and words in r.stderr,
          f"{args[1:]}: {r.returncode} {r.stderr!r}")
for command in ("eval", "search"):
    r = run(command, "--help")
    check(r.returncode == 0 and r.stdout.startswith("usage: edgeclr " + command), f"{command} --help")

cli_check.finish()
