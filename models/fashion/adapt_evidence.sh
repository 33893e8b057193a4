#!/usr/bin/env bash
# The adaptation evidence of the model card (models/fashion/README.md), from scratch:
#   1. personalisation: galleries of K = 5 and K = 20 training images per class
#      (--groups, default settings); queries: the 10,000 test images against the gallery;
#   2. a shifted domain (inverted intensities): unlabeled adaptation on 5,000 inverted
#      training images; kNN and recall@1 of the 10,000 inverted test images, bank = the
#      same 5,000 inverted training images with their labels;
#   3. the same head trained in PyTorch on edgeclr's own feature cache and split
#      (adapt_reference.py), scored on the same features: the implementation check;
#   4. cost: wall time and peak memory of each adaptation (1 thread).
# Prints one JSON line per measurement and a Markdown table at the end.
#
# usage: models/fashion/adapt_evidence.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
build=${1:-build}
out=${2:-$build/adapt-evidence}
model=models/fashion/fashion-int8.eclr
data=/usr/share/datasets/fashion-mnist
edgeclr="$build/tools/edgeclr"
export_images="$build/tools/edgeclr-export-images"
mkdir -p "$out"
log="$out/results.jsonl"
: > "$log"

record() {  # NAME JSON
  /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d["name"]=sys.argv[1]; print(json.dumps(d))' "$1" "$2" >> "$log"
}

test_set=(--data "$data/t10k-images-idx3-ubyte.gz" --labels "$data/t10k-labels-idx1-ubyte.gz")

for k in 5 20; do
  gallery="$out/gallery-k$k"
  rm -rf "$gallery"
  "$export_images" "$data/train-images-idx3-ubyte.gz" "$data/train-labels-idx1-ubyte.gz" "$gallery" \
    --first 0 --count 60000 --per-class "$k" > /dev/null
  echo "== K=$k: before" >&2
  record "k$k-before" "$("$edgeclr" eval "$model" "${test_set[@]}" --bank "$gallery" --json)"
  echo "== K=$k: adapt --groups" >&2
  record "k$k-adapt" "$("$edgeclr" adapt "$model" --groups "$gallery" -o "$out/k$k.eclh" --save-cache "$out/cache-k$k" --json)"
  echo "== K=$k: after" >&2
  record "k$k-after" "$("$edgeclr" eval "$model" "${test_set[@]}" --bank "$gallery" --head "$out/k$k.eclh" --json)"
done

echo "== PyTorch reference on edgeclr's caches" >&2
rm -rf "$out/test"
"$export_images" "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz" "$out/test" \
  --first 0 --count 10000 > /dev/null
find "$out/test" -name '*.png' | sort > "$out/test-files.txt"
mapfile -t test_files < "$out/test-files.txt"
"$edgeclr" embed "$model" "${test_files[@]}" --feature --npy "$out/test-features.npy"
/usr/bin/python3 -c 'import sys, numpy as np; np.save(sys.argv[2], np.array([int(l.split("/")[-2]) for l in open(sys.argv[1])]))' \
  "$out/test-files.txt" "$out/test-labels.npy"
for k in 5 20; do
  /usr/bin/python3 models/fashion/adapt_reference.py train "$out/cache-k$k" --out "$out/torch-k$k" > /dev/null
  record "k$k-torch" "$(/usr/bin/python3 models/fashion/adapt_reference.py metrics --head "$out/torch-k$k" \
    --gallery-cache "$out/cache-k$k" --test "$out/test-features.npy" --test-labels "$out/test-labels.npy")"
done

echo "== shifted domain: inverted images" >&2
rm -rf "$out/inverted-train" "$out/inverted-test"
"$export_images" "$data/train-images-idx3-ubyte.gz" "$data/train-labels-idx1-ubyte.gz" "$out/inverted-train" \
  --first 0 --count 5000 --invert > /dev/null
"$export_images" "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz" "$out/inverted-test" \
  --first 0 --count 10000 --invert > /dev/null
record "shift-before" "$("$edgeclr" eval "$model" --data "$out/inverted-test" --bank "$out/inverted-train" --json)"
record "shift-adapt" "$("$edgeclr" adapt "$model" --unlabeled "$out/inverted-train" -o "$out/shift.eclh" --json)"
record "shift-after" "$("$edgeclr" eval "$model" --data "$out/inverted-test" --bank "$out/inverted-train" \
  --head "$out/shift.eclh" --json)"

/usr/bin/python3 - "$log" <<'PY'
import json, sys
r = {d["name"]: d for d in map(json.loads, open(sys.argv[1]))}
def pct(x): return f"{100 * x:.1f}"
print("| scenario | metric | before | after |")
print("|---|---|---|---|")
for k in (5, 20):
    b, a = r[f"k{k}-before"], r[f"k{k}-after"]
    for key, name in (("nn1_accuracy", "1-NN"), ("prototype_accuracy", "prototype"), ("recall_at_1", "recall@1 (test set)")):
        print(f"| K={k} gallery | {name} | {pct(b[key])} | {pct(a[key])} |")
b, a = r["shift-before"], r["shift-after"]
for key, name in (("knn_accuracy", "kNN (k=20)"), ("recall_at_1", "recall@1")):
    print(f"| inverted images | {name} | {pct(b[key])} | {pct(a[key])} |")
print()
print("| K | edgeclr 1-NN / prototype / recall@1 | PyTorch on edgeclr's cache |")
print("|---|---|---|")
for k in (5, 20):
    a, t = r[f"k{k}-after"], r[f"k{k}-torch"]
    print(f"| {k} | {pct(a['nn1_accuracy'])} / {pct(a['prototype_accuracy'])} / {pct(a['recall_at_1'])} | "
          f"{pct(t['nn1'])} / {pct(t['prototype'])} / {pct(t['recall_at_1'])} |")
print()
print("| adaptation | accepted | epochs (best) | seconds | peak RSS MB | reason |")
print("|---|---|---|---|---|---|")
for name in ("k5-adapt", "k20-adapt", "shift-adapt"):
    d = r[name]
    print(f"| {name[:-6]} | {d['accepted']} | {d['epochs_run']} ({d['best_epoch']}) | {d['seconds']:.2f} | {d['peak_rss_mb']:.1f} | {d['reason']} |")
PY
