#!/usr/bin/env bash
# Converts the reference model's ONNX file into the two committed .eclr models.
# usage: models/fashion/convert.sh [BUILD_DIR]   (after `make build`)
set -euo pipefail
build=${1:-build}
here=$(dirname "$0")
train=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
"$build/tools/edgeclr" convert "$here/fashion.onnx" -o "$here/fashion-fp32.eclr"
# Calibrated on the first 1000 training images; fidelity measured on the next 500.
"$build/tools/edgeclr" convert "$here/fashion.onnx" -o "$here/fashion-int8.eclr" --int8 \
  --calibration "$train" --calibration-count 1000 --holdout 500 --method minmax
