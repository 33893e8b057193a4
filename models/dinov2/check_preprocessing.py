#!/usr/bin/env python3
"""edgeclr's whole path from an image file to the DINOv2 embedding, against ONNX Runtime
on the same file preprocessed by Pillow, on real photos of the sizes and aspects users
have: 16:9 5640x3172 and 16:10 2560x1600 JPEGs, 4:3 and square PNGs, grey, a 3:4
portrait crop, and a JPEG whose pixels are stored rotated with EXIF orientation 6.

tests/convert/test_dinov2.py checks the model alone (both sides get the same tensor);
this checks the preprocessing as well: edgeclr decodes (libjpeg-turbo with DCT scaling),
applies EXIF orientation, scales the shorter side to 224 and cuts the centre; the
reference decodes fully, transposes by EXIF, resizes with Pillow's bilinear filter and
cuts the same centre. Different resampling moves the token a little; a wrong orientation,
crop or aspect moves it far.

usage (after make dinov2-model; a Python with onnxruntime, numpy and Pillow, e.g. the venv
tests/convert/test_dinov2.py makes, and the Debian 13 CLI through the trixie root):
  build/ort-venv-py3.11/bin/python models/dinov2/check_preprocessing.py build \
      scripts/trixie-root build/trixie/build/tools/edgeclr
Prints the cosine per photo, mean and min.
"""
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
CORPUS_PHOTOS = ("mate-Elephants_5640x3172.jpg", "plasma-Path-2560x1600.jpg", "opencv-messi5.jpg",
                 "opencv-chicky_512.png", "skimage-camera.png", "skimage-astronaut.png", "opencv-baboon.jpg",
                 "mate-Aqua.jpg", "skimage-coffee.png", "opencv-starry_night.jpg")


def derived_photos(corpus, out):
    """A 3:4 portrait crop, and a photo stored rotated with EXIF orientation 6."""
    portrait = os.path.join(out, "portrait-3x4.jpg")
    with Image.open(os.path.join(corpus, "mate-Elephants_5640x3172.jpg")) as im:
        im.crop((2000, 0, 2000 + 2379, 3172)).save(portrait, quality=92)
    rotated = os.path.join(out, "exif6.jpg")
    with Image.open(os.path.join(corpus, "opencv-messi5.jpg")) as im:
        exif = im.getexif()
        exif[0x0112] = 6  # display = stored pixels turned 90 degrees clockwise
        im.rotate(90, expand=True).save(rotated, exif=exif, quality=92)
    return [portrait, rotated]


def reference_embeddings(onnx, files):
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    rows = []
    for path in files:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        scale = 224 / min(im.size)
        im = im.resize((max(224, round(im.width * scale)), max(224, round(im.height * scale))), Image.BILINEAR)
        left, top = (im.width - 224) // 2, (im.height - 224) // 2
        x = (np.asarray(im.crop((left, top, left + 224, top + 224)), np.float32) / 255 - MEAN) / STD
        x = x.transpose(2, 0, 1)[None].astype(np.float32)
        rows.append(session.run(None, {session.get_inputs()[0].name: x})[0][0])
    return np.array(rows, np.float64)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    build, edgeclr = sys.argv[1], sys.argv[2:]
    corpus, out = os.path.join(build, "photos", "corpus"), os.path.join(build, "dinov2", "preprocessing")
    os.makedirs(out, exist_ok=True)
    files = [os.path.join(corpus, p) for p in CORPUS_PHOTOS] + derived_photos(corpus, out)
    # build.sh's dinov2.onnx (the class token and the PCA start head, 256-d) and the model
    # edgeclr converted from it (step 6).
    want = reference_embeddings(os.path.join(build, "dinov2", "dinov2.onnx"), files)
    npy = os.path.join(out, "edgeclr.npy")
    subprocess.run([*edgeclr, "embed", os.path.join(build, "dinov2", "dinov2-start-fp32.eclr"), *files,
                    "--npy", npy], check=True)
    got = np.load(npy).astype(np.float64)
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    for path, c in zip(files, cos):
        print(f"{c:.5f}  {os.path.basename(path)}")
    print(f"embedding, edgeclr from the file vs Pillow + ONNX Runtime: mean {cos.mean():.5f}, min {cos.min():.5f}")


if __name__ == "__main__":
    main()
