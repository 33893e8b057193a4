#!/usr/bin/env python3
"""End-to-end tests of `edgeclr eval` and `edgeclr search` on the reference model and
real Fashion-MNIST images (IDX files and PNG folders).

usage: test_eval.py EDGECLR_BINARY EXPORT_IMAGES_BINARY SOURCE_DIR
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

BINARY, EXPORT, SOURCE = sys.argv[1], sys.argv[2], sys.argv[3]
MODEL = os.path.join(SOURCE, "models", "fashion", "fashion-int8.eclr")
D = "/usr/share/datasets/fashion-mnist"
TEST_IMAGES, TEST_LABELS = f"{D}/t10k-images-idx3-ubyte.gz", f"{D}/t10k-labels-idx1-ubyte.gz"
TRAIN_IMAGES, TRAIN_LABELS = f"{D}/train-images-idx3-ubyte.gz", f"{D}/train-labels-idx1-ubyte.gz"


NAMES = "tshirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,boot"
# Decisions closer than this may go either way between eval (float32 cosines over 128
# dimensions, up to 128 ulps of 1 ~ 7.6e-6) and the float64 recomputation here.
NEAR_TIE = 1e-5
# eval's JSON prints 9 significant digits.
PRINTED = 1e-9


def run(*args):
    return cli_check.run(BINARY, *args)


def check_contact_sheet(query, gallery, tmp):
    """search --sheet: a row per query, query framed then its neighbours; the query's
    own thumbnail equals its first neighbour's (itself, similarity 1)."""
    sheet, thumb, pad, line = os.path.join(tmp, "sheet.png"), 64, 8, 24
    r = run("search", MODEL, query, query, "--gallery", gallery, "--k", "3", "--sheet", sheet, "--thumb", str(thumb))
    check(r.returncode == 0 and f"contact sheet: {sheet}" in r.stderr, f"--sheet: {r.returncode} {r.stderr!r}")
    if r.returncode != 0:
        return
    width, height, rows = cli_check.read_png_rgb(sheet)
    tile_w, tile_h = thumb + pad, thumb + 2 * line + pad
    check((width, height) == (4 * tile_w + pad, 2 * tile_h + pad), f"sheet is {width}x{height}")
    # Fashion images are 28x28, shown at 64x64 in the middle of their square.
    query_tile = [row[pad * 3:(pad + thumb) * 3] for row in rows[pad:pad + thumb]]
    first_tile = [row[(pad + tile_w) * 3:(pad + tile_w + thumb) * 3] for row in rows[pad:pad + thumb]]
    check(query_tile == first_tile, "the query's thumbnail differs from its self-match's")
    check(len(set(b"".join(query_tile))) > 20, "the thumbnail is flat: no image drawn")
    frame = rows[pad - 2][(pad + 10) * 3:(pad + 11) * 3]
    check(frame == bytes((90, 160, 255)), f"query not framed: {frame}")
    for args, code, words in ((["--sheet", sheet, "--thumb", "8"], 2, "--thumb"),
                              (["--sheet", os.path.join(tmp, "no", "such", "dir", "s.png")], 1, "s.png")):
        r = run("search", MODEL, query, "--gallery", gallery, *args)
        check(r.returncode == code and r.stderr.strip().splitlines()[-1].startswith("edgeclr: ") and words in r.stderr,
              f"--sheet {args}: {r.returncode} {r.stderr!r}")
    r = run("search", MODEL, query, "--gallery", TEST_IMAGES, "--sheet", sheet)
    check(r.returncode == 2 and "--sheet needs a folder" in r.stderr, f"--sheet on IDX: {r.stderr!r}")


def check_dedup(gallery, tmp):
    """dedup: exact copies (the same file under another name) group with
    their original, and nothing else does, at a threshold only copies reach."""
    folder = os.path.join(tmp, "dups")
    os.mkdir(folder)
    sources = [os.path.join(gallery, c, sorted(os.listdir(os.path.join(gallery, c)))[0]) for c in ("bag", "sandal")]
    for i, src in enumerate(sources):
        shutil.copy(src, os.path.join(folder, f"{i}-a.png"))
        shutil.copy(src, os.path.join(folder, f"{i}-b.png"))
    shutil.copy(os.path.join(gallery, "trouser", sorted(os.listdir(os.path.join(gallery, "trouser")))[0]),
                os.path.join(folder, "lonely.png"))
    r = run("dedup", MODEL, folder, "--threshold", "0.9999", "--json")
    check(r.returncode == 0, f"dedup: {r.returncode} {r.stderr!r}")
    if r.returncode == 0:
        d = json.loads(r.stdout)
        files = sorted(sorted(os.path.basename(f) for f in g["files"]) for g in d["groups"])
        check(d["images"] == 5 and files == [["0-a.png", "0-b.png"], ["1-a.png", "1-b.png"]], f"groups {d}")
        check(all(abs(s - 1) < 1e-5 for g in d["groups"] for s in g["similarity_to_first"]), f"similarities {d}")
    sheet = os.path.join(tmp, "dups.png")
    r = run("dedup", MODEL, folder, "--threshold", "0.9999", "--sheet", sheet, "--thumb", "32")
    check(r.returncode == 0 and "2 groups of near-duplicates" in r.stdout and os.path.exists(sheet), f"dedup text {r.stdout!r}")
    if os.path.exists(sheet):
        width, height, _ = cli_check.read_png_rgb(sheet)
        check((width, height) == (2 * (32 + 8) + 8, 2 * (32 + 48 + 8) + 8), f"dedup sheet {width}x{height}")
    alone = os.path.join(tmp, "alone")
    os.mkdir(alone)
    shutil.copy(os.path.join(folder, "lonely.png"), os.path.join(alone, "lonely.png"))
    r = run("dedup", MODEL, alone, "--sheet", os.path.join(tmp, "none.png"), "--json")
    check(r.returncode == 0 and json.loads(r.stdout)["groups"] == [] and "no contact sheet written" in r.stderr
          and not os.path.exists(os.path.join(tmp, "none.png")), f"dedup without duplicates: {r.stdout} {r.stderr!r}")
    everything = run("dedup", MODEL, folder, "--threshold", "-1", "--json")
    check(everything.returncode == 0 and len(json.loads(everything.stdout)["groups"][0]["files"]) == 5,
          "threshold -1 does not put every image in one group")
    for args, code, words in ((["--threshold", "1.5"], 2, "--threshold"), (["--space", "pixels"], 2, "--space")):
        r = run("dedup", MODEL, folder, *args)
        check(r.returncode == code and r.stderr.startswith("edgeclr: ") and words in r.stderr, f"dedup {args}: {r.stderr!r}")
    r = run("dedup", MODEL, TEST_IMAGES)
    check(r.returncode == 2 and "must be a folder" in r.stderr, f"dedup IDX: {r.stderr!r}")


def check_labels_by_name(gallery, tmp):
    """A --data folder with only some of the bank's classes: labels match by subfolder
    name, not by position (each query is in the bank itself, so 1-NN is exact); a class
    the bank lacks is refused before anything is embedded."""
    data = os.path.join(tmp, "two-classes")
    for name in ("sandal", "trouser"):
        os.makedirs(os.path.join(data, name))
        for f in sorted(os.listdir(os.path.join(gallery, name)))[:3]:
            os.link(os.path.join(gallery, name, f), os.path.join(data, name, f))
    r = run("eval", MODEL, "--data", data, "--bank", gallery, "--json")
    check(r.returncode == 0 and json.loads(r.stdout)["nn1_accuracy"] == 1.0, f"labels by name: {r.stdout} {r.stderr!r}")
    os.makedirs(os.path.join(data, "zebra"))
    os.link(os.path.join(data, "sandal", sorted(os.listdir(os.path.join(data, "sandal")))[0]),
            os.path.join(data, "zebra", "z.png"))
    r = run("eval", MODEL, "--data", data, "--bank", gallery)
    check(r.returncode == 1 and "has classes that" in r.stderr and "zebra" in r.stderr and "gallery:" not in r.stderr
          and "data:" not in r.stderr, f"missing class: {r.returncode} {r.stderr!r}")


def export(folder, first, count):
    subprocess.run([*cli_check.EMULATOR, EXPORT, TEST_IMAGES, TEST_LABELS, folder, "--first", str(first), "--count",
                    str(count), "--names", NAMES], check=True, capture_output=True)


def labelled_embeddings(folder):
    """Unit embeddings (edgeclr embed) and labels (subfolder names) of a class folder."""
    files = [os.path.join(folder, c, f) for c in sorted(os.listdir(folder)) for f in sorted(os.listdir(os.path.join(folder, c)))]
    r = run("embed", MODEL, *files, "--json")
    check(r.returncode == 0, f"embed {folder}: {r.returncode} {r.stderr!r}")
    rows = [row["embedding"] for row in json.loads(r.stdout)] if r.returncode == 0 else []
    unit = [[v / math.sqrt(sum(x * x for x in row)) for v in row] for row in rows]
    return unit, [os.path.basename(os.path.dirname(f)) for f in files]


def dot(a, b):
    return sum(map(float.__mul__, a, b))


def decide(scores):
    """(label of the highest score, margin to the best score of another label)."""
    best = {}
    for label, score in scores:
        best[label] = max(best.get(label, -math.inf), score)
    ranked = sorted(best.items(), key=lambda item: -item[1])
    return ranked[0][0], ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else -math.inf)


def nn1_and_prototype(queries, query_labels, bank, bank_labels, leave_one_out):
    """1-NN and nearest-class-mean accuracy as eval --help defines them, in float64, and
    how many decisions of each were near ties."""
    sums = {}
    for row, label in zip(bank, bank_labels):
        sums[label] = [s + v for s, v in zip(sums.get(label, [0.0] * len(row)), row)]
    counts = {label: bank_labels.count(label) for label in sums}
    hits, near = [0, 0], [0, 0]
    for q, (x, label) in enumerate(zip(queries, query_labels)):
        neighbours = [(bank_labels[b], dot(x, row)) for b, row in enumerate(bank) if not (leave_one_out and b == q)]
        classes = []
        for c, s in sums.items():
            if leave_one_out and c == label:
                if counts[c] == 1:
                    continue
                s = [a - b for a, b in zip(s, x)]
            norm = math.sqrt(dot(s, s))
            classes.append((c, dot(x, s) / norm if norm > 0 else 0.0))
        for i, scores in enumerate((neighbours, classes)):
            predicted, margin = decide(scores)
            hits[i] += predicted == label
            near[i] += margin < NEAR_TIE
    return [h / len(queries) for h in hits], [n / len(queries) for n in near]


# 5000 test images against 5000 training images: smaller than the model card's run, so
# the accuracy is lower than its 0.84, but a broken space would be near 0.1 (chance).
r = run("eval", MODEL, "--data", TEST_IMAGES, "--labels", TEST_LABELS, "--bank", TRAIN_IMAGES,
        "--bank-labels", TRAIN_LABELS, "--limit", "5000", "--json")
check(r.returncode == 0, f"eval: {r.returncode} {r.stderr!r}")
if r.returncode == 0:
    d = json.loads(r.stdout)
    check({"knn_accuracy", "nn1_accuracy", "prototype_accuracy", "recall_at_1", "images", "seconds", "gap",
           "bank_images"} <= set(d), f"keys {sorted(d)}")
    check(d["images"] == 5000 and d["bank_images"] == 5000, f"counts {d}")
    check(d["knn_accuracy"] > 0.75 and d["recall_at_1"] > 0.65 and d["gap"] > 0.08, f"values {d}")
    # Chance is 0.1; this model gives 0.785 and 0.773.
    check(d["nn1_accuracy"] > 0.7 and d["prototype_accuracy"] > 0.7, f"values {d}")
    check("data: 5000/5000 images" in r.stderr, f"no progress: {r.stderr!r}")

with tempfile.TemporaryDirectory() as tmp:
    gallery = os.path.join(tmp, "gallery")
    export(gallery, 0, 300)
    folder = run("eval", MODEL, "--data", gallery, "--json")
    check(folder.returncode == 0, f"eval on a folder: {folder.returncode} {folder.stderr!r}")
    embeddings, labels = labelled_embeddings(gallery)
    if folder.returncode == 0 and embeddings:
        d = json.loads(folder.stdout)
        check(d["images"] == 300 and d["bank_images"] == 299 and d["knn_accuracy"] > 0.6, f"folder eval {d}")
        # Without --bank: leave-one-out, each image out of its own neighbours and class mean.
        (nn1, prototype), (near_nn1, near_prototype) = nn1_and_prototype(embeddings, labels, embeddings, labels, True)
        check(abs(d["nn1_accuracy"] - nn1) <= near_nn1 + PRINTED and d["nn1_accuracy"] == d["recall_at_1"],
              f"leave-one-out nn1_accuracy {d['nn1_accuracy']}, recomputed {nn1}, recall_at_1 {d['recall_at_1']}")
        check(abs(d["prototype_accuracy"] - prototype) <= near_prototype + PRINTED,
              f"leave-one-out prototype_accuracy {d['prototype_accuracy']}, recomputed {prototype}")
        # Keeping each image in its own class mean would score differently here (higher).
        (_, kept), _ = nn1_and_prototype(embeddings, labels, embeddings, labels, False)
        check(abs(kept - prototype) > 1.5 / 300, f"leaving out makes no difference: {kept} {prototype}")
    # With --bank: the next 300 test images.
    bank = os.path.join(tmp, "bank")
    export(bank, 300, 300)
    banked = run("eval", MODEL, "--data", gallery, "--bank", bank, "--json")
    check(banked.returncode == 0, f"eval --bank on folders: {banked.returncode} {banked.stderr!r}")
    bank_embeddings, bank_labels = labelled_embeddings(bank)
    if banked.returncode == 0 and embeddings and bank_embeddings:
        d = json.loads(banked.stdout)
        (nn1, prototype), (near_nn1, near_prototype) = nn1_and_prototype(embeddings, labels, bank_embeddings,
                                                                         bank_labels, False)
        check(d["bank_images"] == 300 and abs(d["nn1_accuracy"] - nn1) <= near_nn1 + PRINTED,
              f"nn1_accuracy {d['nn1_accuracy']}, recomputed {nn1}")
        check(abs(d["prototype_accuracy"] - prototype) <= near_prototype + PRINTED,
              f"prototype_accuracy {d['prototype_accuracy']}, recomputed {prototype}")
        text = run("eval", MODEL, "--data", gallery, "--bank", bank)
        check(f"1-NN accuracy       {d['nn1_accuracy']:.4f}\n" in text.stdout
              and f"prototype accuracy  {d['prototype_accuracy']:.4f} (nearest class mean)\n" in text.stdout,
              f"text output {text.stdout!r}")
    query = os.path.join(gallery, "bag", sorted(os.listdir(os.path.join(gallery, "bag")))[0])
    s = run("search", MODEL, query, "--gallery", gallery, "--k", "3", "--json")
    check(s.returncode == 0, f"search: {s.returncode} {s.stderr!r}")
    if s.returncode == 0:
        near = json.loads(s.stdout)[0]["neighbours"]
        check(near[0]["gallery"] == query and abs(near[0]["similarity"] - 1) < 1e-5, f"self not first: {near[0]}")
        check(near[0]["label"] == "bag" and len(near) == 3, f"neighbours {near}")
        check(near[0]["similarity"] >= near[1]["similarity"] >= near[2]["similarity"], "not sorted")
    check_contact_sheet(query, gallery, tmp)
    check_dedup(gallery, tmp)
    check_labels_by_name(gallery, tmp)
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
for command in ("eval", "search", "dedup"):
    r = run(command, "--help")
    check(r.returncode == 0 and r.stdout.startswith("usage: edgeclr " + command), f"{command} --help")
r = run("eval", "--help")
check("nn1_accuracy" in r.stdout and "prototype_accuracy" in r.stdout, "eval --help does not name the new figures")

cli_check.finish()
