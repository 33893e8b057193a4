#!/usr/bin/env python3
"""Every write path of the edgeclr CLI, with a fault injected at each step it takes: the
head checkpoint (adapt -o), the adaptation cache (adapt --save-cache), embeddings
(embed --npy), the converter's output (convert -o) and a gallery's commits (gallery add,
SQLite); and the converter when it cannot start its shape-inference child (fork
fails). Faults: a full disk (ENOSPC), an I/O error (EIO) and a short write followed by
ENOSPC, on every write, every fsync and every rename that touches the output, one at a
time (the real binary under LD_PRELOAD=fault_inject.so; how many steps there are is
counted in a run without a fault first).

After each failed run: exit code 1, one error line naming the file and the cause, the
previous output byte for byte as it was and still loadable, no temporary file left.
A fault the program may ignore (a gallery's post-commit checkpoint) must leave either
the old or the new state, and a gallery that opens.

usage: test_faults.py EDGECLR EXPORT_IMAGES FAULT_LIBRARY SOURCE_DIR
"""
import json
import os
import subprocess
import shutil
import sys
import tempfile

import cli_check
from cli_check import check

BINARY, EXPORT, LIBRARY, SOURCE = sys.argv[1:5]
MODEL = os.path.join(SOURCE, "models", "fashion", "fashion-int8.eclr")
ONNX = os.path.join(SOURCE, "models", "fashion", "fashion.onnx")
D = "/usr/share/datasets/fashion-mnist"
CAUSES = {"ENOSPC": "No space left on device", "EIO": "Input/output error", "SHORT": "No space left on device"}


def run(*args, fault=None):
    """Runs edgeclr; `fault`: (path substring, call, nth, errno name) or (substring, call, 0) to count."""
    env = dict(os.environ)
    if fault:
        env.update(LD_PRELOAD=LIBRARY, EDGECLR_FAULT_PATH=fault[0], EDGECLR_FAULT_CALL=fault[1],
                   EDGECLR_FAULT_NTH=str(fault[2]), EDGECLR_FAULT_ERRNO=fault[3] if len(fault) > 3 else "ENOSPC",
                   # A preloaded library comes before the sanitizer's runtime in the ASan build.
                   ASAN_OPTIONS=env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    return subprocess.run([*cli_check.EMULATOR, BINARY, *args], capture_output=True, text=True,
                                    timeout=600, env=env)


def steps(args, substring, tmp, reset=lambda: None):
    """How many writes, fsyncs and renames touching `substring` a clean run makes
    (`reset` puts the files back as they were before each run)."""
    counts = {}
    for call in ("write", "fsync", "rename"):
        reset()
        counter = os.path.join(tmp, "fault-count")
        os.environ["EDGECLR_FAULT_COUNT"] = counter
        r = run(*args, fault=(substring, call, 0))
        del os.environ["EDGECLR_FAULT_COUNT"]
        check(r.returncode == 0, f"clean run {args}: {r.stderr!r}")
        counts[call] = int(open(counter).read()) if os.path.exists(counter) else -1
        check(counts[call] >= 0, f"{call}: the fault library did not report (LD_PRELOAD not applied?)")
    return counts


def faults(counts):
    """Every (call, nth, errno) to inject."""
    for call, n in counts.items():
        for nth in range(1, n + 1):
            for name in ("ENOSPC", "EIO", "SHORT") if call == "write" else ("ENOSPC", "EIO"):
                yield call, nth, name


def error_line_ok(r, names, cause, what):
    lines = r.stderr.strip().splitlines()
    last = lines[-1] if lines else ""
    check(r.returncode == 1, f"{what}: exit {r.returncode}, want 1 ({r.stderr!r})")
    check(last.startswith("edgeclr: ") and any(n in last for n in names) and cause in last,
          f"{what}: error {last!r} should name {names} and say {cause!r}")


def listing(folder):
    return sorted(os.listdir(folder))


def snapshot(paths):
    return {p: open(p, "rb").read() for p in paths if os.path.exists(p)}


def file_case(label, args, output, substring, previous_ok, tmp):
    """A command that writes files whose names contain `substring` in `output`'s folder."""
    folder = os.path.dirname(output)
    counts = steps(args, substring, tmp)
    check(counts["write"] >= 1 and counts["rename"] >= 1, f"{label}: steps {counts}")
    before_files = [os.path.join(folder, n) for n in listing(folder)]
    before, names = snapshot(before_files), listing(folder)
    runs = 0
    for call, nth, name in faults(counts):
        what = f"{label}: {call} #{nth} {name}"
        r = run(*args, fault=(substring, call, nth, name))
        runs += 1
        if call == "fsync" and r.returncode == 0:
            check(False, f"{what}: a failed fsync was ignored")
            continue
        error_line_ok(r, [os.path.basename(output), substring], CAUSES[name], what)
        check(listing(folder) == names, f"{what}: files {listing(folder)}, want {names} (a temp file left?)")
        check(snapshot(before_files) == before, f"{what}: a previous file changed")
        previous_ok(what)
    print(f"{label}: {counts}, {runs} runs with a fault")


with tempfile.TemporaryDirectory() as tmp:
    groups = os.path.join(tmp, "groups")
    r = cli_check.run(EXPORT, f"{D}/train-images-idx3-ubyte.gz", f"{D}/train-labels-idx1-ubyte.gz", groups,
                      "--first", "0", "--count", "2000", "--per-class", "4")
    check(r.returncode == 0, f"export: {r.stderr!r}")
    images = sorted(os.path.join(groups, c, f) for c in os.listdir(groups) for f in os.listdir(os.path.join(groups, c)))

    # Head checkpoint: a second adaptation over the first one's head, failing at each step.
    out = os.path.join(tmp, "head", "user.eclh")
    os.makedirs(os.path.dirname(out))
    adapt = ["adapt", MODEL, "--groups", groups, "-o", out, "--epochs", "3", "--views", "2", "--seed", "1"]
    check(run(*adapt).returncode == 0 and os.path.exists(out), "first adaptation")
    check(run(*adapt).returncode == 0 and os.path.exists(out + ".prev"), "second adaptation (keeps .prev)")

    def head_loads(what):
        r = run("embed", MODEL, images[0], "--head", out, "--json")
        check(r.returncode == 0, f"{what}: the previous head does not load: {r.stderr!r}")

    file_case("adapt -o", adapt, out, "user.eclh", head_loads, tmp)

    # The adaptation cache: eight files in a folder, each replaced atomically.
    cache = os.path.join(tmp, "cache")
    cached = adapt + ["--save-cache", cache]
    check(run(*cached).returncode == 0 and len(os.listdir(cache)) == 8, "adapt --save-cache")
    reference = snapshot([os.path.join(cache, n) for n in listing(cache)])

    def cache_whole(what):
        # Every run computes the same cache (same seed): each file is the reference, whole.
        check(snapshot(list(reference)) == reference, f"{what}: a cache file is not whole")

    file_case("adapt --save-cache", cached, os.path.join(cache, "features.npy"), "cache/", cache_whole, tmp)

    # embed --npy over an earlier, different result.
    npy = os.path.join(tmp, "npy", "embeddings.npy")
    os.makedirs(os.path.dirname(npy))
    check(run("embed", MODEL, *images[:3], "--npy", npy).returncode == 0, "embed --npy (first)")

    def npy_loads(what):
        check(open(npy, "rb").read(6) == b"\x93NUMPY", f"{what}: {npy} is not a .npy any more")

    file_case("embed --npy", ["embed", MODEL, *images[3:9], "--npy", npy], npy, "embeddings.npy", npy_loads, tmp)

    # convert -o over an existing model.
    if os.path.exists(ONNX) and run("convert", "--help").returncode == 0:
        converted = os.path.join(tmp, "convert", "model.eclr")
        os.makedirs(os.path.dirname(converted))
        shutil.copy(MODEL, converted)

        def model_loads(what):
            check(run("inspect", converted).returncode == 0, f"{what}: the previous model does not open")

        convert = ["convert", ONNX, "-o", converted, "--input-size", "28x28", "--channels", "1"]
        file_case("convert -o", convert, converted, "model.eclr", model_loads, tmp)

        # ONNX shape inference runs in a child process; when none can be started, the
        # conversion fails with the cause and the previous model stays.
        before = open(converted, "rb").read()
        r = run(*convert, fault=("", "fork", 1, "EAGAIN"))
        error_line_ok(r, [ONNX], "cannot start shape inference: fork: Resource temporarily unavailable",
                      "convert when fork fails")
        check(open(converted, "rb").read() == before, "convert when fork fails: the previous model changed")

    # A gallery's commit (SQLite, WAL): the add fails as a whole, or it went through.
    db_dir = os.path.join(tmp, "gallery")
    os.makedirs(db_dir)
    db = os.path.join(db_dir, "g.db")
    check(run("gallery", "create", db, "--model", MODEL).returncode == 0, "gallery create")
    check(run("gallery", "add", db, *images[:4]).returncode == 0, "gallery add (first)")
    add = ["gallery", "add", db, *images[4:10]]

    def gallery_count():
        r = run("gallery", "info", db, "--json")
        check(r.returncode == 0, f"gallery info: {r.stderr!r}")
        return json.loads(r.stdout)["items"] if r.returncode == 0 else -1

    pristine = os.path.join(tmp, "pristine.db")
    shutil.copy(db, pristine)
    counts = steps(add, "g.db", tmp, reset=lambda: shutil.copy(pristine, db))
    check(counts["write"] >= 2 and counts["fsync"] >= 1, f"gallery add: steps {counts}")
    ignored = 0
    for call, nth, name in faults(counts):
        for suffix in ("-wal", "-shm"):
            check(not os.path.exists(db + suffix), "a closed gallery left its WAL behind")
        shutil.copy(pristine, db)
        what = f"gallery add: {call} #{nth} {name}"
        r = run(*add, fault=("g.db", call, nth, name))
        if r.returncode == 0:
            ignored += 1  # after the commit: SQLite's checkpoint or WAL reset; the data is durable in the WAL
            check(gallery_count() == 10, f"{what}: exit 0 but not all items are there")
        else:
            error_line_ok(r, ["g.db"], "", what)
            check(any(w in r.stderr for w in ("disk is full", "disk I/O error", "No space left", "Input/output")),
                  f"{what}: the cause is missing: {r.stderr!r}")
            check(gallery_count() == 4, f"{what}: failed, yet the gallery changed")
        check(listing(db_dir) == ["g.db"], f"{what}: files {listing(db_dir)}")
    print(f"gallery add: {counts}, {ignored} faults after the commit (data kept)")

    # Checked before the work: a missing folder, a file where a folder should be.
    missing = os.path.join(tmp, "no", "such", "dir", "h.eclh")
    r = run("adapt", MODEL, "--groups", groups, "-o", missing)
    error_line_ok(r, [missing], "does not exist", "adapt -o into a missing folder")
    check("training" not in r.stderr, "adapt -o into a missing folder trained first")
    r = run("embed", MODEL, images[0], "--npy", os.path.join(out, "x.npy"))
    error_line_ok(r, ["user.eclh"], "is not a folder", "embed --npy under a file")
    r = run("adapt", MODEL, "--groups", groups, "-o", os.path.join(tmp, "h2.eclh"), "--save-cache", os.path.join(out, "c"))
    error_line_ok(r, ["user.eclh"], "is not a folder", "adapt --save-cache under a file")
    r = run("gallery", "create", os.path.join(tmp, "nowhere", "g.db"), "--model", MODEL)
    error_line_ok(r, ["nowhere"], "does not exist", "gallery create in a missing folder")

cli_check.finish()
