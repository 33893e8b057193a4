#!/usr/bin/python3
"""bench/run's code path, short: the smoke test of the benchmark (the real run is not part
of make test: it needs bench/setup's 7 GB venv and about an hour).

usage: test_bench_smoke.py REPO BUILD_DIR WORK_DIR

Runs bench/run with Debian's python3 (no peers installed: each must be reported as
unavailable with its reason, not crash the run) on the smoke model `tiny`, 1 thread, 1
round, against BUILD_DIR's edgeclr, writing its section into a scratch copy of a Markdown
file. Checks the section: its markers, the CPU line, a row per runtime and precision,
edgeclr's latencies and memory present and positive, its cosines to PyTorch (an
independent implementation: torch runs the model, edgeclr runs its conversion) above
0.9999 in fp32 and 0.99 in int8, the peers' reasons, the packages check, and that the
text around the section is kept.
"""
import os
import re
import subprocess
import sys

from_dir = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(from_dir, "..", "cli"))
from cli_check import check, finish  # noqa: E402


def main():
    repo, build, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    doc = os.path.join(work, "doc.md")
    with open(doc, "w") as f:
        f.write("# before\n\n<!-- bench/run: begin -->\nold\n<!-- bench/run: end -->\n\n# after\n")
    env = dict(os.environ, EDGECLR_BENCH_PYTHON="/usr/bin/python3")
    r = subprocess.run([os.path.join(repo, "bench/run"), "--models", "tiny", "--runtimes",
                        "edgeclr-d12,onnxruntime,mnn", "--threads", "1", "--rounds", "1", "--seconds", "0.05",
                        "--no-peak", "--edgeclr-build", build, "--work", work, "--doc", doc],
                       capture_output=True, text=True, env=env, timeout=900)
    check(r.returncode == 0, f"bench/run exit {r.returncode}: {r.stderr[-2000:]}")
    text = open(doc).read()
    check(text.startswith("# before\n\n<!-- bench/run: begin -->") and text.rstrip().endswith("# after"),
          f"section not replaced in place: {text[:200]!r} ... {text[-200:]!r}")
    check("\nold\n" not in text, "the old section is still there")
    check(re.search(r"- CPU: .+, \d+ cores; flags: ", text) is not None, "no CPU line")
    check("unchanged by the run" in text, "no packages check")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1] in ("fp32", "int8"):
            rows[(cells[0], cells[1])] = cells
    for precision, floor in (("fp32", 0.9999), ("int8", 0.99)):
        mine = next((cells for (runtime, p), cells in rows.items() if runtime.startswith("edgeclr (") and p == precision),
                    None)
        check(mine is not None, f"no edgeclr {precision} row in {sorted(rows)}")
        if mine is None:
            continue
        # runtime, precision, p50 / p90, load + first, start to first, RSS, cosine, MAC/s
        p50, p90 = (float(v) for v in mine[2].split(" / "))
        check(0 < p50 <= p90, f"edgeclr {precision} latencies {mine[2]}")
        check(all(float(mine[i]) > 0 for i in (3, 4, 5)), f"edgeclr {precision} load/start/RSS {mine[3:6]}")
        check(float(mine[6]) >= floor, f"edgeclr {precision} cosine {mine[6]} < {floor}")
        for peer in ("ONNX Runtime", "MNN"):
            theirs = rows.get((peer, precision))
            check(theirs is not None, f"no {peer} {precision} row")
            if theirs is not None:
                reported = theirs[2].startswith("unavailable: ") and len(theirs[2]) > 20
                measured = re.match(r"[0-9.]+ / [0-9.]+$", theirs[2]) is not None
                check(reported or measured, f"{peer} {precision}: neither a reason nor figures: {theirs[2]!r}")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
