#!/usr/bin/env python3
"""End-to-end tests of `edgeclr gallery` and `edgeclr search G.db` on the reference model
and real Fashion-MNIST images: create, add (a broken file skipped and named), info,
search (an item finds itself; --prefix), remove, export (.npy and keys), reproject to a
head checkpoint (then search follows it), dedup G.db against the folder form, and the
refusals.

usage: test_gallery.py EDGECLR_BINARY EXPORT_IMAGES_BINARY MAKE_HEAD_BINARY SOURCE_DIR
"""
import json
import os
import shutil
import sqlite3
import struct
import sys
import tempfile

import cli_check
from cli_check import check

BINARY, EXPORT, MAKE_HEAD, SOURCE = sys.argv[1:5]
MODEL = os.path.join(SOURCE, "models", "fashion", "fashion-fp32.eclr")
D = "/usr/share/datasets/fashion-mnist"


def run(*args):
    return cli_check.run(BINARY, *args)


def read_npy(path):
    """(shape, float32 values) of a little-endian float32 .npy file."""
    with open(path, "rb") as f:
        data = f.read()
    header_len = struct.unpack("<H", data[8:10])[0]
    header = data[10:10 + header_len].decode()
    shape = tuple(int(x) for x in header.split("'shape': (")[1].split(")")[0].split(",") if x.strip())
    values = struct.unpack(f"<{len(data[10 + header_len:]) // 4}f", data[10 + header_len:])
    return shape, values


def one_error(r, code, words, what):
    lines = r.stderr.strip().splitlines()
    check(r.returncode == code and lines and lines[-1].startswith("edgeclr: ") and words in r.stderr,
          f"{what}: exit {r.returncode}, stderr {r.stderr!r}")


with tempfile.TemporaryDirectory() as tmp:
    images = os.path.join(tmp, "images")
    r = cli_check.run(EXPORT, f"{D}/t10k-images-idx3-ubyte.gz", f"{D}/t10k-labels-idx1-ubyte.gz", images,
                      "--first", "0", "--count", "120", "--names",
                      "tshirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,boot")
    check(r.returncode == 0, f"export images: {r.stderr!r}")
    broken = os.path.join(images, "broken.png")
    with open(broken, "wb") as f:
        f.write(b"not an image")
    g = os.path.join(tmp, "g.db")

    r = run("gallery", "create", g, "--model", MODEL)
    check(r.returncode == 0 and "created" in r.stdout and os.path.exists(g), f"create: {r.stdout!r} {r.stderr!r}")
    one_error(run("gallery", "create", g, "--model", MODEL), 1, "already exists", "create twice")

    r = run("gallery", "add", g, images)
    check(r.returncode == 1 and "added 120 of 121 images" in r.stdout and f"skipped {broken}:" in r.stderr,
          f"add with a broken file: exit {r.returncode} {r.stdout!r} {r.stderr!r}")
    one_error(run("gallery", "add", g, os.path.join(images, "bag")), 1, "is already in the gallery", "add twice")

    # Single image files, as the help says (they were once read as IDX files).
    g1 = os.path.join(tmp, "single.db")
    check(run("gallery", "create", g1, "--model", MODEL).returncode == 0, "create single.db")
    bag = os.path.join(images, "bag")
    two = [os.path.join(bag, n) for n in sorted(os.listdir(bag))[:2]]
    r = run("gallery", "add", g1, *two)
    check(r.returncode == 0 and "added 2 of 2 images" in r.stdout, f"add two files: {r.stdout!r} {r.stderr!r}")
    r = run("gallery", "add", g1, broken)
    check(r.returncode == 1 and f"skipped {broken}:" in r.stderr and "added 0 of 1" in r.stdout,
          f"add a broken file: {r.stdout!r} {r.stderr!r}")

    info = json.loads(run("gallery", "info", g, "--json").stdout)
    check(info["items"] == 120 and info["feature_dim"] == "256" and info["embedding_dim"] == "128"
          and info["head_version"] == "0" and info["feature_storage"] == "fp16" and info["model"] == MODEL,
          f"info {info}")

    bags = sorted(os.listdir(os.path.join(images, "bag")))
    query = os.path.join(images, "bag", bags[0])
    r = run("search", g, query, "--k", "3", "--json")
    result = json.loads(r.stdout) if r.returncode == 0 else []
    check(len(result) == 1 and result[0]["neighbours"][0]["key"] == query
          and abs(result[0]["neighbours"][0]["similarity"] - 1.0) < 1e-5 and len(result[0]["neighbours"]) == 3,
          f"search finds the item itself: {r.stdout!r} {r.stderr!r}")
    for index in ("int8", "hnsw"):  # the same neighbours and fp32 scores on 120 items
        r = run("search", g, query, "--k", "3", "--json", "--index", index)
        check(r.returncode == 0 and json.loads(r.stdout) == result, f"--index {index}: {r.stdout!r} {r.stderr!r}")
    one_error(run("search", g, query, "--index", "faiss"), 2, "--index must be", "search --index faiss")
    prefix = os.path.join(images, "sneaker") + "/"
    r = run("search", g, query, "--k", "50", "--prefix", prefix, "--json")
    neighbours = json.loads(r.stdout)[0]["neighbours"] if r.returncode == 0 else []
    check(neighbours and len(neighbours) == len(os.listdir(os.path.join(images, "sneaker")))
          and all(n["key"].startswith(prefix) for n in neighbours), f"--prefix: {r.stdout!r}")

    r = run("gallery", "remove", g, query)
    check(r.returncode == 0 and "119 left" in r.stdout, f"remove: {r.stdout!r} {r.stderr!r}")
    r = run("search", g, query, "--k", "1", "--json")
    check(r.returncode == 0 and json.loads(r.stdout)[0]["neighbours"][0]["key"] != query, "removed item still found")
    one_error(run("gallery", "remove", g, query), 1, f"no item '{query}'", "remove twice")

    npy, keys = os.path.join(tmp, "e.npy"), os.path.join(tmp, "keys.txt")
    r = run("gallery", "export", g, "--npy", npy, "--keys", keys)
    check(r.returncode == 0, f"export: {r.stderr!r}")
    shape, values = read_npy(npy)
    with open(keys) as f:
        key_lines = f.read().splitlines()
    check(shape == (119, 128) and len(key_lines) == 119 and query not in key_lines, f"export shape {shape}")
    norms = [sum(v * v for v in values[i * 128:(i + 1) * 128]) for i in range(shape[0])]
    check(all(abs(n - 1.0) < 1e-4 for n in norms), "exported embeddings are not the model's unit vectors")
    # Row i belongs to key i: the embedding of key i's image is row i.
    for i in (0, 57, 118):
        r = run("embed", MODEL, key_lines[i], "--json")
        got = json.loads(r.stdout)[0]["embedding"] if r.returncode == 0 else []
        row = values[i * 128:(i + 1) * 128]
        check(len(got) == 128 and sum(a * b for a, b in zip(got, row)) > 0.9999, f"export row {i} is not {key_lines[i]}")

    # Another model's backbone (the int8 conversion of the same network) is refused.
    one_error(run("gallery", "add", g, images, "--model", os.path.join(SOURCE, "models", "fashion", "fashion-int8.eclr")),
              1, "belongs to backbone", "another backbone")

    # Re-projection: a perturbed head, version 5. The stored embeddings change, the
    # gallery follows the head, and search with it still finds an item itself.
    head = os.path.join(tmp, "user.eclh")
    r = cli_check.run(MAKE_HEAD, MODEL, head, "--perturb", "0.5", "--version", "5")
    check(r.returncode == 0, f"make head: {r.stderr!r}")
    r = run("gallery", "reproject", g, "--head", head)
    check(r.returncode == 0 and "head version 0 -> 5" in r.stdout, f"reproject: {r.stdout!r} {r.stderr!r}")
    info = json.loads(run("gallery", "info", g, "--json").stdout)
    check(info["head_version"] == "5" and info["head_source"] == os.path.realpath(head), f"info after reproject {info}")
    run("gallery", "export", g, "--npy", npy, "--keys", keys)
    _, moved = read_npy(npy)
    check(max(abs(a - b) for a, b in zip(values, moved)) > 0.05, "reproject left the embeddings as they were")
    other = os.path.join(images, "bag", bags[1])
    r = run("search", g, other, "--k", "1", "--json")
    check(r.returncode == 0 and json.loads(r.stdout)[0]["neighbours"][0]["key"] == other,
          f"search after reproject: {r.stdout!r} {r.stderr!r}")

    # dedup G.db: exact copies group with their originals, and the groups are those of the
    # folder form (every pair compared) on the same images.
    dups = os.path.join(tmp, "dups")
    shutil.copytree(os.path.join(images, "sneaker"), os.path.join(dups, "sneaker"))
    shutil.copytree(os.path.join(images, "bag"), os.path.join(dups, "bag"))
    originals = sorted(os.listdir(os.path.join(dups, "bag")))[:3]
    for name in originals:
        shutil.copy(os.path.join(dups, "bag", name), os.path.join(dups, "bag", "copy-" + name))
    g2 = os.path.join(tmp, "dups.db")
    check(run("gallery", "create", g2, "--model", MODEL).returncode == 0, "create dups gallery")
    check(run("gallery", "add", g2, dups).returncode == 0, "add dups")

    def groups_of(r, name_key):
        check(r.returncode == 0, f"dedup: {r.stderr!r}")
        return sorted(sorted(os.path.relpath(f, dups) for f in grp[name_key]) for grp in json.loads(r.stdout)["groups"])

    exact = groups_of(run("dedup", g2, "--threshold", "0.9999", "--json"), "keys")
    check(exact == sorted([os.path.join("bag", n), os.path.join("bag", "copy-" + n)] for n in originals),
          f"dedup G.db exact copies: {exact}")
    for t in ("0.95", "0.9"):
        by_gallery = groups_of(run("dedup", g2, "--threshold", t, "--json"), "keys")
        by_folder = groups_of(run("dedup", MODEL, dups, "--threshold", t, "--json"), "files")
        check(by_gallery == by_folder and len(by_gallery) >= 3, f"dedup at {t}: G.db {by_gallery} vs folder {by_folder}")
    r = run("dedup", g2)
    check(r.returncode == 0 and "groups of near-duplicates" in r.stdout, f"dedup G.db text: {r.stdout!r}")
    one_error(run("dedup", g2, "--sheet", os.path.join(tmp, "s.png")), 2, "--sheet is for MODEL DIR", "dedup G.db --sheet")

    # Refusals: an SQLite file of another application, a file that is not SQLite, a
    # gallery whose model moved, options of the other search form.
    foreign = os.path.join(tmp, "foreign.db")
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t(x)")
    one_error(run("gallery", "info", foreign), 1, "not a gallery", "foreign SQLite file")
    one_error(run("search", foreign, query), 1, "not a gallery", "search a foreign SQLite file")
    one_error(run("gallery", "info", broken), 1, "not a gallery", "not SQLite")
    one_error(run("search", g, query, "--gallery", images), 2, "--gallery is for the MODEL form", "mixed forms")
    one_error(run("gallery", "frobnicate", g), 2, "unknown subcommand", "unknown subcommand")
    r = run("gallery", "--help")
    check(r.returncode == 0 and all(w in r.stdout for w in ("create", "add", "remove", "info", "reproject", "export")),
          "gallery --help")

cli_check.finish()
