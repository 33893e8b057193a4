#!/usr/bin/env python3
"""`edgeclr bench-search` runs end to end and its answers are right, not its speed (speed
is the benchmark's, docs/benchmarks.md): FAISS's exact search (when the CLI has it) finds
the same neighbours as ours; int8 and HNSW recall on clustered data; the gallery timings.

usage: test_bench_search.py EDGECLR_BINARY SOURCE_DIR
"""
import json
import os
import sys

import cli_check
from cli_check import check

BINARY, SOURCE = sys.argv[1:3]
MODEL = os.path.join(SOURCE, "models", "fashion", "fashion-fp32.eclr")

r = cli_check.run(BINARY, "bench-search", "--items", "5000", "--int8", "--hnsw", "--threads", "2", "--queries", "30",
                  "--rounds", "1", "--model", MODEL, "--json")
check(r.returncode == 0, f"bench-search: {r.stderr!r}")
out = json.loads(r.stdout) if r.returncode == 0 else {"methods": []}
methods = {m["name"]: m for m in out["methods"]}
check(out.get("items") == 5000 and out.get("clusters") == 50, f"settings {out}")
check(all(m["p50_us"] > 0 for m in methods.values()), f"times {methods}")
check(methods.get("edgeclr int8 + rescoring", {}).get("recall", 0) >= 0.99, f"int8 recall {methods}")
check(methods.get("edgeclr HNSW (hnswlib)", {}).get("recall", 0) >= 0.95, f"HNSW recall {methods}")
if out.get("faiss"):
    # FAISS's exact inner-product search is an independent reference for ours.
    check(methods.get("FAISS IndexFlatIP", {}).get("recall") == 1.0, f"FAISS flat disagrees with exact: {methods}")
    check("FAISS IndexHNSWFlat" in methods, "FAISS HNSW missing")
else:
    print("bench-search: this CLI was built without FAISS; the comparison is not checked")
check(out.get("add_10k_s") == -1 and 0 < out.get("reproject_s", 0) < 60, f"gallery times {out}")

# Uniform directions: the same settings run (recall is low for any graph there, not checked).
r = cli_check.run(BINARY, "bench-search", "--items", "2000", "--clusters", "0", "--queries", "10", "--rounds", "1")
check(r.returncode == 0 and "uniform directions" in r.stdout and "edgeclr exact fp32" in r.stdout, f"uniform: {r.stdout!r}")

for bad, words in ((["--items", "0"], "--items"), (["--clusters", "9"], "--clusters"), (["extra"], "no positional")):
    args = ["bench-search", "--items", "5", *bad] if bad[0] == "--clusters" else ["bench-search", *bad]
    r = cli_check.run(BINARY, *args)
    check(r.returncode == 2 and words in r.stderr, f"bench-search {bad}: {r.returncode} {r.stderr!r}")
r = cli_check.run(BINARY, "bench-search", "--items", "100", "--model", "/no/such/model.eclr")
lines = r.stderr.strip().splitlines()
check(r.returncode == 1 and lines and lines[-1].startswith("edgeclr: ") and "/no/such/model.eclr" in r.stderr,
      f"bench-search --model missing: {r.returncode} {r.stderr!r}")
r = cli_check.run(BINARY, "bench-search", "--help")
check(r.returncode == 0 and "IndexFlatIP" in r.stdout, "bench-search --help")
cli_check.finish()
