#!/usr/bin/python3
"""The edgeclr Python module against the CLI: the same embeddings and features bit for
bit (fashion int8 and fp32, an adapted head, the photo model when built), arrays and
file lists, errors raised with the runtime's message, encoders on four threads sharing
a model with the GIL released, galleries, and adapt() giving the CLI's head and report.

usage: test_module.py EDGECLR MAKE_HEAD SOURCE_DIR [PHOTO_BUILD]   (PYTHONPATH: build/python)
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
import cli_check  # noqa: E402
from cli_check import check  # noqa: E402

import edgeclr  # noqa: E402

CLI, MAKE_HEAD, SOURCE = sys.argv[1:4]
PHOTO = sys.argv[4] if len(sys.argv) > 4 else ""
FASHION = os.path.join(SOURCE, "models", "fashion")
INT8, FP32 = os.path.join(FASHION, "fashion-int8.eclr"), os.path.join(FASHION, "fashion-fp32.eclr")


def cli(*args):
    return cli_check.run(CLI, *args)


def cli_npy(tmp, *args):
    out = os.path.join(tmp, "cli.npy")
    r = cli(*args, "--npy", out)
    check(r.returncode == 0, f"edgeclr {args[:2]}: {r.stderr!r}")
    return np.load(out) if r.returncode == 0 else None


def same_bits(a, b):
    return a is not None and b is not None and a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def write_pgms(tmp, count):
    """The first `count` Fashion-MNIST test images as PGM files, and their pixels (N, 28, 28, 1)."""
    raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
    pixels = np.frombuffer(raw[16:16 + count * 784], np.uint8).reshape(count, 28, 28, 1)
    files = []
    for i in range(count):
        path = os.path.join(tmp, f"img{i:02d}.pgm")
        with open(path, "wb") as f:
            f.write(b"P5\n28 28\n255\n" + pixels[i].tobytes())
        files.append(path)
    return files, pixels


def test_model():
    m = edgeclr.Model(INT8)
    info = json.loads(cli("inspect", INT8, "--json").stdout)
    check(m.feature_dim == info["feature_dim"] and m.embedding_dim == info["embedding_dim"], "dims")
    check(m.backbone_hash == info["backbone_hash"], f"backbone hash {m.backbone_hash} vs {info['backbone_hash']}")
    check(m.precision == "int8" and m.file_size == info["file_size"], f"{m.precision} {m.file_size}")
    spec = m.input
    check({k: spec[k] for k in ("height", "width", "channels", "color", "resize")} ==
          {k: info["input"][k] for k in ("height", "width", "channels", "color", "resize")}, f"input {spec}")
    check(len(m.checksum) == 16 and m.checksum != m.backbone_hash, f"checksum {m.checksum}")


def test_bits(tmp, files, pixels):
    head = os.path.join(tmp, "perturbed.eclh")
    check(cli_check.run(MAKE_HEAD, INT8, head, "--perturb", "0.05", "--version", "2").returncode == 0, "make head")
    for model in (INT8, FP32):
        name = os.path.basename(model)
        enc = edgeclr.Encoder(edgeclr.Model(model))
        check(same_bits(enc.encode(files), cli_npy(tmp, "embed", model, *files)), f"{name}: embeddings differ from the CLI's")
        check(same_bits(enc.encode(files, features=True), cli_npy(tmp, "embed", model, *files, "--feature")),
              f"{name}: features differ from the CLI's")
        # Pixels as arrays: one (H, W, C), a batch (N, H, W, C), a non-contiguous view.
        from_files = enc.encode(files)
        check(same_bits(enc.encode(pixels), from_files), f"{name}: a batch array differs from the files")
        check(same_bits(enc.encode(pixels[3]), from_files[3:4]), f"{name}: one (H, W, C) array differs")
        wide = np.zeros((len(files), 28, 56, 1), np.uint8)
        wide[:, :, ::2] = pixels
        check(same_bits(enc.encode(wide[:, :, ::2]), from_files), f"{name}: a strided view differs")
    adapted = edgeclr.Encoder(edgeclr.Model(INT8), head=head)
    check(same_bits(adapted.encode(files), cli_npy(tmp, "embed", INT8, *files, "--head", head)), "--head differs")
    check(not same_bits(adapted.encode(files), edgeclr.Encoder(edgeclr.Model(INT8)).encode(files)), "the head changed nothing")
    # Paths as pathlib.Path and bytes, as os.fsencode takes them.
    import pathlib
    by_path = edgeclr.Encoder(edgeclr.Model(pathlib.Path(INT8)), head=pathlib.Path(head))
    check(same_bits(by_path.encode([pathlib.Path(files[0]), os.fsencode(files[1])]), adapted.encode(files[:2])),
          "pathlib.Path / bytes paths")


def test_photo(tmp):
    model = os.path.join(PHOTO, "photo", "photo-int8.eclr")
    corpus = os.path.join(PHOTO, "photos", "corpus")
    photos = [os.path.join(corpus, n) for n in sorted(os.listdir(corpus))[:6]]
    enc = edgeclr.Encoder(edgeclr.Model(model), threads=2)
    check(same_bits(enc.encode(photos), cli_npy(tmp, "embed", model, *photos)), "photo model: embeddings differ")


def test_errors(tmp, files):
    def raises(call, kind, needle=None, code=None):
        try:
            call()
        except kind as e:
            check(needle is None or needle in str(e), f"{kind.__name__} {e!r} lacks {needle!r}")
            check(code is None or getattr(e, "code", None) == code, f"code {getattr(e, 'code', None)} != {code}")
            return str(e)
        check(False, f"no {kind.__name__} (wanted {needle!r})")
        return ""

    missing = os.path.join(tmp, "missing.eclr")
    message = raises(lambda: edgeclr.Model(missing), edgeclr.Error, "failed to load model", "io_error")
    cli_line = cli("inspect", missing).stderr.strip()
    check(cli_line == "edgeclr: " + message, f"the CLI says {cli_line!r}, the module {message!r}")
    check(issubclass(edgeclr.Error, RuntimeError), "edgeclr.Error is a RuntimeError")
    enc = edgeclr.Encoder(edgeclr.Model(INT8))
    broken = os.path.join(tmp, "broken.png")
    with open(broken, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nnot really")
    raises(lambda: enc.encode([files[0], broken]), edgeclr.Error, "broken.png", "invalid_argument")
    raises(lambda: enc.encode(np.zeros((4, 4, 2), np.uint8)), ValueError, "1 (gray), 3 (RGB) or 4 (RGBA)")
    raises(lambda: enc.encode(np.zeros((4, 4, 3), np.float32)), TypeError, "uint8")
    raises(lambda: enc.encode(files[0]), TypeError, "list of paths")
    raises(lambda: edgeclr.Encoder(edgeclr.Model(INT8), threads=0), edgeclr.Error, None, "invalid_argument")
    raises(lambda: edgeclr.Encoder(edgeclr.Model(FP32), head=os.path.join(tmp, "perturbed.eclh")), edgeclr.Error,
           "trained on backbone", "invalid_model")
    raises(lambda: edgeclr.Encoder(None), TypeError)
    g = edgeclr.Gallery.create(os.path.join(tmp, "shape.db"), INT8)
    raises(lambda: g.search(np.zeros(5, np.float32)), ValueError, "queries must be (128,)")
    raises(lambda: g.add_features(["a"], np.zeros((2, 256), np.float32)), ValueError, "features must be (len(keys), 256)")
    raises(lambda: edgeclr.adapt(INT8, os.path.join(tmp, "h.eclh"), groups=tmp, epoch=3), TypeError, "unknown option")
    raises(lambda: edgeclr.adapt(INT8, os.path.join(tmp, "no", "dir", "h.eclh"), groups=tmp), edgeclr.Error,
           "does not exist", "io_error")
    raises(lambda: edgeclr.adapt(INT8, os.path.join(tmp, "h.eclh")), edgeclr.Error, "give exactly one of", "invalid_argument")


def test_threads(files):
    model = edgeclr.Model(INT8)
    expected = edgeclr.Encoder(model).encode(files)
    results, errors = [None] * 4, []

    def work(t):
        try:
            enc = edgeclr.Encoder(model, threads=2 if t == 0 else 1)
            results[t] = [enc.encode(files) for _ in range(20)][-1]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"thread errors {errors}")
    for t, r in enumerate(results):
        check(same_bits(r, expected), f"thread {t}: embeddings differ (int8: bit for bit whatever the threads)")

    # The GIL is released while encoding: a Python thread counts on meanwhile.
    many = files * 150
    ticks, stop = [0], [False]

    def count():
        while not stop[0]:
            ticks[0] += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.05)
    before = ticks[0]
    start = time.monotonic()
    edgeclr.Encoder(model).encode(many)
    seconds = time.monotonic() - start
    during = ticks[0] - before
    stop[0] = True
    counter.join()
    # Held, the counter would not run at all during the call; released, it ticks about
    # once per millisecond (far fewer on a loaded machine, never none).
    check(during >= max(3, seconds * 100), f"{during} ticks in {seconds:.2f} s of encoding: the GIL was held")


def test_gallery(tmp, files):
    path = os.path.join(tmp, "g.db")
    g = edgeclr.Gallery.create(path, INT8)
    report = g.add(files[:8] + [os.path.join(tmp, "broken.png")])
    check(report["added"] == 8 and len(report["skipped"]) == 1 and "broken.png" in report["skipped"][0][0], f"add {report}")
    check(len(g) == 8 and g.keys() == files[:8] and g.embedding_dim == 128 and g.head_version == 0, "gallery state")
    embeddings, keys = g.export()
    npy, keys_file = os.path.join(tmp, "e.npy"), os.path.join(tmp, "keys.txt")
    check(cli("gallery", "export", path, "--npy", npy, "--keys", keys_file).returncode == 0, "cli export")
    check(same_bits(embeddings, np.load(npy)) and keys == open(keys_file).read().splitlines(), "export differs from the CLI's")
    queries = g.embed(files[:3])
    check(same_bits(queries, edgeclr.Encoder(edgeclr.Model(INT8)).encode(files[:3])), "the gallery's encoder differs")
    hits = g.search(queries, k=3)
    for q, found in enumerate(hits):
        brute = np.argsort(-(embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)) @ queries[q])[:3]
        check([k for k, _ in found] == [keys[i] for i in brute], f"query {q}: {found} vs brute force")
        check(found[0][0] == files[q] and abs(found[0][1] - 1) < 1e-3, f"query {q} does not find itself: {found[0]}")
    check(len(g.search(queries[0], k=2)) == 1, "one query (dim,) gives one list")
    g.add_features(["by-feature"], edgeclr.Encoder(edgeclr.Model(INT8)).encode(files[9:10], features=True))
    check(len(g) == 9 and g.search(g.embed(files[9:10]), k=1)[0][0][0] == "by-feature", "add_features")
    head = os.path.join(tmp, "perturbed.eclh")
    g.reproject(head)
    check(g.head_version == 2 and edgeclr.Gallery.open(path).head_version == 2, "reproject")
    adapted = edgeclr.Encoder(edgeclr.Model(INT8), head=head).encode(files[:3])
    check(same_bits(g.embed(files[:3]), adapted), "after reproject, the gallery's encoder does not follow the new head")
    reopened = edgeclr.Gallery.open(path, model=INT8)
    check(same_bits(reopened.embed(files[:3]), adapted) and len(reopened) == 9, "Gallery.open(model=...) after reproject")
    info = json.loads(cli("gallery", "info", path, "--json").stdout)
    check(info["items"] == 9 and info["head_version"] == "2", f"CLI info after the module's writes: {info}")


def test_adapt(tmp):
    groups = os.path.join(tmp, "groups")
    raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
    labels = gzip.open("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz").read()[8:]
    seen = {}
    for i in range(400):
        c = labels[i]
        if seen.get(c, 0) >= 4:
            continue
        seen[c] = seen.get(c, 0) + 1
        os.makedirs(os.path.join(groups, str(c)), exist_ok=True)
        with open(os.path.join(groups, str(c), f"{i}.pgm"), "wb") as f:
            f.write(b"P5\n28 28\n255\n" + raw[16 + i * 784:16 + (i + 1) * 784])
    ours, theirs = os.path.join(tmp, "module.eclh"), os.path.join(tmp, "cli.eclh")
    report = edgeclr.adapt(INT8, ours, groups=groups, epochs=3, views=2, seed=5)
    r = cli("adapt", INT8, "--groups", groups, "-o", theirs, "--epochs", "3", "--views", "2", "--seed", "5", "--json")
    check(r.returncode == 0, f"cli adapt: {r.stderr!r}")
    cli_report = json.loads(r.stdout) if r.returncode == 0 else {}
    check(set(report) == set(cli_report), f"report keys {sorted(report)} vs {sorted(cli_report)}")
    check(report["accepted"] and report["head"] == ours and report["version"] == 1, f"report {report.get('reason')}")
    for key in ("accepted", "reason", "epochs_run", "best_epoch", "validation", "space", "epochs", "train", "held_out"):
        check(report.get(key) == cli_report.get(key), f"report[{key!r}] differs from the CLI's")
    check(os.path.exists(ours) and open(ours, "rb").read() == open(theirs, "rb").read(), "the heads differ")


with tempfile.TemporaryDirectory() as tmp:
    files, pixels = write_pgms(tmp, 12)
    test_model()
    test_bits(tmp, files, pixels)
    if PHOTO:
        test_photo(tmp)
    test_errors(tmp, files)
    test_threads(files)
    test_gallery(tmp, files)
    test_adapt(tmp)
    print(f"edgeclr {edgeclr.__version__} from {edgeclr.__file__}")
cli_check.finish()
