#!/usr/bin/env python3
"""End-to-end tests of --head (an adapted head checkpoint, .eclh) on `edgeclr embed`,
`similarity`, `search` and `eval`, on the sample models. Head files are written by
edgeclr-make-head, which also prints the head it wrote, so the embeddings are checked
against a forward pass computed here.

usage: test_head.py EDGECLR_BINARY MAKE_HEAD_BINARY MODELS_DIR
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import cli_check
from cli_check import check

BINARY, MAKE_HEAD, MODELS = sys.argv[1], sys.argv[2], sys.argv[3]
FP32 = os.path.join(MODELS, "good", "sample-fp32.eclr")
INT8 = os.path.join(MODELS, "good", "sample-int8.eclr")
IMAGES = [os.path.join(MODELS, "images", n) for n in ("gradient.png", "checker.bmp", "stripes.png")]
# fp32 against float64 over two layers of at most 16-term dot products of O(1) values,
# then normalisation: a few hundred float32 ulps of 1 is far above the rounding error and
# far below what a wrong weight or a skipped layer gives.
TOLERANCE = 256 * 2.0 ** -23
# sin-shaped changes of 0.3 to weights of magnitude 0.5 move the unit embedding far more.
PERTURB = "0.3"


def run(*args):
    return cli_check.run(BINARY, *args)


def make_head(model, path, perturb):
    r = subprocess.run([*cli_check.EMULATOR, MAKE_HEAD, model, path, "--perturb", perturb], capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout)


def forward(head, feature):
    """The head in float64: dense layers with their activations, then L2 normalisation."""
    x = list(feature)
    for layer in head["layers"]:
        w, b, n_in = layer["weight"], layer["bias"], layer["in_dim"]
        y = [(b[o] if b else 0.0) + sum(w[o * n_in + i] * x[i] for i in range(n_in)) for o in range(layer["out_dim"])]
        if layer["activation"] == "RELU":
            y = [max(v, 0.0) for v in y]
        elif layer["activation"] == "RELU6":
            y = [min(max(v, 0.0), 6.0) for v in y]
        x = y
    if head["l2_normalize"]:
        norm = math.sqrt(sum(v * v for v in x))
        x = [v / norm for v in x] if norm > 0 else x
    return x


def embed(model, files, *extra):
    r = run("embed", model, *files, "--json", *extra)
    check(r.returncode == 0, f"embed {extra}: exit {r.returncode} {r.stderr!r}")
    if r.returncode != 0:
        return None
    rows = json.loads(r.stdout)
    return [row.get("embedding", row.get("feature")) for row in rows]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def gap(vectors, labels):
    """Mean cosine of same-label pairs minus that of different-label pairs (unit rows)."""
    same, diff = [], []
    for i in range(len(vectors)):
        for j in range(len(vectors)):
            if i != j:
                (same if labels[i] == labels[j] else diff).append(dot(vectors[i], vectors[j]))
    return sum(same) / len(same) - sum(diff) / len(diff)


def one_error_line(r, *words):
    lines = r.stderr.splitlines()
    return (r.returncode == 1 and len(lines) == 1 and lines[0].startswith("edgeclr: ")
            and all(w in lines[0] for w in words))


def test_embed(tmp):
    for model in (FP32, INT8):
        name = os.path.basename(model)
        plain = embed(model, IMAGES)
        features = embed(model, IMAGES, "--feature")
        same_path = os.path.join(tmp, "same-" + name + ".eclh")
        make_head(model, same_path, "0")
        same = embed(model, IMAGES, "--head", same_path)
        check(same is not None and same == plain, f"{name}: the model's own head as a file changed the embeddings")

        adapted_path = os.path.join(tmp, "adapted-" + name + ".eclh")
        head = make_head(model, adapted_path, PERTURB)
        adapted = embed(model, IMAGES, "--head", adapted_path)
        if None in (plain, features, adapted):
            continue
        moved = max(abs(a - b) for p, q in zip(plain, adapted) for a, b in zip(p, q))
        check(moved > 0.05, f"{name}: --head barely changed the embeddings (max change {moved})")
        for f, e, image in zip(features, adapted, IMAGES):
            expected = forward(head, f)
            error = max(abs(a - b) for a, b in zip(e, expected))
            check(len(e) == len(expected) and error <= TOLERANCE,
                  f"{name} {image}: embedding {e}, head computes {expected} (error {error})")
        check(embed(model, IMAGES, "--feature", "--head", adapted_path) == features, f"{name}: --head changed features")
        npy = os.path.join(tmp, "e.npy")
        r = run("embed", model, IMAGES[0], "--head", adapted_path, "--npy", npy)
        check(r.returncode == 0 and os.path.getsize(npy) == 128 + 4 * len(adapted[0]), f"--head --npy: {r.stderr!r}")


def test_similarity_search_eval(tmp):
    head_path = os.path.join(tmp, "sim.eclh")
    make_head(FP32, head_path, PERTURB)
    adapted = embed(FP32, IMAGES, "--head", head_path)
    plain = embed(FP32, IMAGES)
    if adapted is None or plain is None:
        return
    r = run("similarity", FP32, IMAGES[0], IMAGES[1], "--head", head_path)
    expected, without = dot(adapted[0], adapted[1]), dot(plain[0], plain[1])
    check(r.returncode == 0 and abs(float(r.stdout) - expected) < 1e-5 and abs(expected - without) > 1e-3,
          f"similarity --head {r.stdout!r} {r.stderr!r}, dot of adapted embeddings {expected}, without {without}")

    gallery = os.path.join(tmp, "gallery")
    os.mkdir(gallery)
    for image in IMAGES:
        shutil.copy(image, gallery)
    r = run("search", FP32, IMAGES[0], "--gallery", gallery, "--k", "3", "--json", "--head", head_path)
    check(r.returncode == 0, f"search --head: {r.returncode} {r.stderr!r}")
    if r.returncode == 0:
        by_name = {os.path.basename(n["gallery"]): n["similarity"] for n in json.loads(r.stdout)[0]["neighbours"]}
        for image, e in zip(IMAGES, adapted):
            s = by_name.get(os.path.basename(image))
            check(s is not None and abs(s - dot(adapted[0], e)) < 1e-5,
                  f"search --head: {image} similarity {s}, adapted embeddings give {dot(adapted[0], e)}")

    # Two classes: gradient and checker in one, stripes (PNG and PGM) in the other.
    data = os.path.join(tmp, "data")
    for label, images in (("a", IMAGES[:2]), ("b", [IMAGES[2], IMAGES[2].replace(".png", ".pgm")])):
        os.makedirs(os.path.join(data, label))
        for image in images:
            shutil.copy(image, os.path.join(data, label))
    r = run("eval", FP32, "--data", data, "--json", "--head", head_path)
    check(r.returncode == 0, f"eval --head: {r.returncode} {r.stderr!r}")
    if r.returncode == 0:
        d = json.loads(r.stdout)
        vectors = adapted + [adapted[2]]  # stripes.pgm decodes to stripes.png's pixels
        expected, without = gap(vectors, [0, 0, 1, 1]), gap(plain + [plain[2]], [0, 0, 1, 1])
        check(abs(d["gap"] - expected) < 1e-5 and abs(expected - without) > 1e-3,
              f"eval --head gap {d['gap']}, adapted embeddings give {expected}, without {without}")
        check(d.get("head") == head_path, f"eval --head JSON has head {d.get('head')!r}")
        text = run("eval", FP32, "--data", data, "--head", head_path)
        check(text.returncode == 0 and f"head                {head_path}\n" in text.stdout, f"eval text: {text.stdout!r}")


def test_refusals(tmp):
    good = os.path.join(tmp, "good.eclh")
    make_head(FP32, good, PERTURB)
    # A head saved for sample-fp32 on sample-int8 (another backbone, same dimensions). The
    # head is checked before any image set is read, so the sets here need not be usable.
    for args in (["embed", INT8, IMAGES[0]], ["similarity", INT8, IMAGES[0], IMAGES[1]],
                 ["search", INT8, IMAGES[0], "--gallery", os.path.join(MODELS, "images")],
                 ["eval", INT8, "--data", tmp]):
        r = run(*args, "--head", good)
        check(one_error_line(r, f"'{good}'", "trained on backbone"), f"{args[0]} other model's head: {r.returncode} {r.stderr!r}")

    with open(good, "rb") as f:
        data = f.read()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    cases = {"flipped.eclh": (bytes(flipped), "checksum"), "cut.eclh": (data[:len(data) // 2], "failed to load head"),
             "empty.eclh": (b"", "'ECLH'")}
    for name, (content, words) in cases.items():
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        r = run("embed", FP32, IMAGES[0], "--head", path)
        check(one_error_line(r, f"'{path}'", words), f"{name}: {r.returncode} {r.stderr!r}")
    missing = os.path.join(tmp, "missing.eclh")
    r = run("embed", FP32, IMAGES[0], "--head", missing)
    check(one_error_line(r, f"'{missing}'", "no such file"), f"missing head: {r.returncode} {r.stderr!r}")
    r = run("embed", FP32, IMAGES[0], "--head", FP32)  # a model is not a head
    check(one_error_line(r, f"'{FP32}'", "'ECLH'"), f"model as head: {r.returncode} {r.stderr!r}")
    r = run("embed", FP32, IMAGES[0], "--head")
    check(r.returncode == 2 and "--head" in r.stderr, f"--head without value: {r.returncode} {r.stderr!r}")
    for command in ("embed", "similarity", "search", "eval"):
        r = run(command, "--help")
        check(r.returncode == 0 and "--head HEAD" in r.stdout, f"{command} --help does not show --head")


with tempfile.TemporaryDirectory() as tmp_dir:
    test_embed(tmp_dir)
    test_similarity_search_eval(tmp_dir)
    test_refusals(tmp_dir)
cli_check.finish()
