#!/usr/bin/python3
"""The photo demo's folder: real photos with near-duplicates hidden among them.

usage: /usr/bin/python3 models/photo/demo_folder.py BUILD OUT

OUT/ gets 24 photos of the corpus (and its Elephants) (BUILD/photos/corpus, symlinked), edited copies of four
of them (a crop of 60% of the area, JPEG quality 30, a text banner, a mirror image; made
with Pillow as models/photo/near_duplicates.py makes its edits), and two other sizes of
one photo (mate-backgrounds' Elephants at 1920 and 3840 px beside the 5640 px corpus
one). Prints the query photos for `edgeclr search`, one per line.
"""
import os
import sys

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from near_duplicates import edit  # noqa: E402

build, out = sys.argv[1], sys.argv[2]
corpus = [l.strip() for l in open(os.path.join(build, "photos", "corpus.txt")) if l.strip()]
chosen = corpus[::max(1, len(corpus) // 24)][:24]
chosen += [p for p in corpus if os.path.basename(p).startswith("mate-Elephants") and p not in chosen]
os.makedirs(out, exist_ok=True)
for path in chosen:
    link = os.path.join(out, os.path.basename(path))
    if not os.path.lexists(link):
        os.symlink(os.path.abspath(os.path.realpath(path)), link)
rng = np.random.default_rng(7)
for path, kind in zip(chosen[1::6], ("crop60", "jpeg30", "text", "mirror")):
    with Image.open(path) as source:
        im = ImageOps.exif_transpose(source).convert("RGB")
    im.thumbnail((1600, 1600), Image.BOX)
    edited, quality = edit(im, kind, rng)
    stem = os.path.splitext(os.path.basename(path))[0]
    edited.save(os.path.join(out, f"{stem}.{kind}.jpg"), "JPEG", quality=quality)
mate = os.path.join(build, "photos/root/usr/share/backgrounds/mate/abstract")
for name in ("Elephants.jpg", "Elephants_3840x2160.jpg"):
    link = os.path.join(out, "mate-" + name)
    if not os.path.lexists(link):
        os.symlink(os.path.abspath(os.path.join(mate, name)), link)
for path in chosen[1::6][:3]:
    print(os.path.join(out, os.path.basename(path)))
