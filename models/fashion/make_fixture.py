#!/usr/bin/python3
"""Write the test fixture of the reference model: 16 test images and PyTorch's outputs for them.

usage: /usr/bin/python3 models/fashion/make_fixture.py [--weights models/fashion/fashion.pt]
                                                       [--out tests/fixtures/fashion]

Run with Debian's /usr/bin/python3. Takes the first 16 images of the Fashion-MNIST TEST
set (never seen in training, which used the training set) and writes, in OUT:

  images.npy              (16,28,28) uint8, the raw pixels
  labels.npy              (16,) uint8, their classes (0-9)
  inputs.npy              (16,28,28,1) float32 NHWC, (pixel/255 - 0.2860) / 0.3530
  expected_feature.npy    (16,256) float32, the backbone's output
  expected_embedding.npy  (16,128) float32, the head's output, NOT L2-normalised

The outputs come from train.py's Encoder with fashion.pt in eval mode, float32.
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from train import DATA, MEAN, STD, Encoder, read_idx  # noqa: E402

COUNT = 16


def main():
    root = os.path.dirname(os.path.dirname(HERE))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=os.path.join(HERE, "fashion.pt"))
    parser.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "fashion"))
    args = parser.parse_args()
    if not os.path.exists(args.weights):
        sys.exit(f"make_fixture.py: no weights at {args.weights}; run models/fashion/train.py first")

    model = Encoder()
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    model.eval()

    images = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")[:COUNT].copy()  # frombuffer is read-only
    labels = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")[:COUNT].copy()
    # The same arithmetic as train.py's embed_all, in float32.
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    x = (x - MEAN) / STD
    with torch.no_grad():
        feature = model.backbone(x)
        embedding = model.head(feature)

    arrays = {
        "images": images.astype(np.uint8),
        "labels": labels.astype(np.uint8),
        "inputs": x.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32),
        "expected_feature": feature.numpy().astype(np.float32),
        "expected_embedding": embedding.numpy().astype(np.float32),
    }
    os.makedirs(args.out, exist_ok=True)
    for name, array in arrays.items():
        path = os.path.join(args.out, f"{name}.npy")
        np.save(path, array)
        print(f"wrote {path}: {array.dtype} {array.shape}, {os.path.getsize(path)} bytes")
    print("labels:", " ".join(str(v) for v in labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
