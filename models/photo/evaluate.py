#!/usr/bin/python3
"""Measure photo-model spaces on the corpus: view, near-duplicate and stereo-pair retrieval.

usage: /usr/bin/python3 models/photo/evaluate.py BUILD MODEL[:HEAD] [MODEL[:HEAD]...]
                                                [--views 4] [--seed 1000] [--feature] [--json]

Run with Debian's /usr/bin/python3 after models/photo/build.sh (scripts/fetch-photos made
BUILD/photos). Every vector comes from edgeclr itself (`edgeclr embed --npy`, with
`--head HEAD` when given, `--feature` for the backbone's space); the metrics are computed
here, cosine throughout:

  views->photo   each of --views augmented 224x224 views of every corpus photo (PNG
                 files, seed --seed: not the views export_onnx.py fitted PCA on, nor
                 those edgeclr adapt trained on) finds its own photo as the most similar
                 of the corpus photos (1-NN accuracy)
  view recall@1  the most similar OTHER view is a view of the same photo
  view gap       mean cosine of same-photo view pairs minus that of different-photo pairs
  shot->photo    plasma's contents/screenshot.* (400x250 copies, not in the corpus) find
                 their wallpaper among the corpus photos
  stereo         the second view of a stereo pair (aloeR, leuvenB, graf3, rubberwhale2,
                 motorcycle_right, basketball2, right) finds the first as the most similar
                 OTHER corpus photo
  photo cosine   mean cosine between different corpus photos (lower: more spread)
  eff. rank      effective rank (Roy & Vetterli) of the corpus photos' vectors

--pca-split also measures the choice export_onnx.py makes (PCA whitened or not) on photos
the PCA did NOT see: the corpus is split in random halves (3 seeds, both ways); PCA (128
directions) is fitted on one half's features (edgeclr's, of the photos and their views)
and views->photo and view recall@1 are measured on the other half, against the raw
feature, PCA, and whitened PCA.

The views are written once to BUILD/photo/eval/views-SEED-N/ and reused. The photos were
all seen by PCA (and 80% of them by adapt), so this measures invariance to views of known
photos more than generalisation to new ones.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_onnx import augmented_view, corpus_files, open_photo  # noqa: E402

STEREO = [("opencv-aloeL.jpg", "opencv-aloeR.jpg"), ("opencv-leuvenA.jpg", "opencv-leuvenB.jpg"),
          ("opencv-graf1.png", "opencv-graf3.png"), ("opencv-rubberwhale1.png", "opencv-rubberwhale2.png"),
          ("skimage-motorcycle_left.png", "skimage-motorcycle_right.png"),
          ("opencv-basketball1.png", "opencv-basketball2.png"), ("opencv-left.jpg", "opencv-right.jpg")]


def write_views(files, out, views, seed):
    """out/NNN-K.png: `views` augmented views of each photo; returns [(path, photo index)]."""
    done = os.path.join(out, ".complete")
    rows = [(os.path.join(out, f"{i:03d}-{k}.png"), i) for i in range(len(files)) for k in range(views)]
    if os.path.exists(done):
        return rows
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, path in enumerate(files):
        im = open_photo(path)
        for k in range(views):
            augmented_view(im, rng).save(os.path.join(out, f"{i:03d}-{k}.png"))
    open(done, "w").close()
    return rows


def embed(edgeclr, spec, paths, feature, out):
    model, _, head = spec.partition(":")
    command = [edgeclr, "embed", model, *paths, "--npy", out]
    if head:
        command += ["--head", head]
    if feature:
        command.append("--feature")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    v = np.load(out).astype(np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def effective_rank(v):
    s = np.linalg.svd(v - v.mean(axis=0), compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def metrics(photos, views, view_labels, shots, shot_labels, names):
    out = {}
    sim = views @ photos.T
    out["views_to_photo"] = float((sim.argmax(axis=1) == view_labels).mean())
    vv = views @ views.T
    np.fill_diagonal(vv, -np.inf)
    out["view_recall_at_1"] = float((view_labels[vv.argmax(axis=1)] == view_labels).mean())
    same = view_labels[:, None] == view_labels[None, :]
    off = ~np.eye(len(view_labels), dtype=bool)
    vv = views @ views.T
    out["view_gap"] = float(vv[same & off].mean() - vv[~same].mean())
    out["shot_to_photo"] = float(((shots @ photos.T).argmax(axis=1) == shot_labels).mean())
    pp = photos @ photos.T
    np.fill_diagonal(pp, -np.inf)
    hits = [int(pp[names.index(b)].argmax() == names.index(a)) for a, b in STEREO]
    out["stereo"] = float(np.mean(hits))
    np.fill_diagonal(pp, np.nan)
    out["photo_cosine"] = float(np.nanmean(pp))
    out["effective_rank"] = effective_rank(photos)
    return out


def pca_split(photos, views, view_labels, seeds=3, k=128):
    """{space: (views->photo, view recall@1)} on held-out halves, averaged (see --pca-split)."""
    def unit(z):
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    def project(fit, whiten):
        x = np.concatenate([photos[fit], views[np.isin(view_labels, fit)]])
        mean = x.mean(axis=0)
        values, vectors = np.linalg.eigh(np.cov(x - mean, rowvar=False))
        order = np.argsort(values)[::-1][:k]
        p = vectors[:, order].T
        if whiten:
            p = p / np.sqrt(values[order])[:, None]
        return lambda z: unit((z - mean) @ p.T)

    def score(f, test):
        mask = np.isin(view_labels, test)
        q, labels, g = f(views[mask]), view_labels[mask], f(photos[test])
        nn = np.asarray(test)[(q @ g.T).argmax(axis=1)]
        qq = q @ q.T
        np.fill_diagonal(qq, -np.inf)
        return (nn == labels).mean(), (labels[qq.argmax(axis=1)] == labels).mean()

    sums = {"feature": np.zeros(2), "pca": np.zeros(2), "pca_whitened": np.zeros(2)}
    rng = np.random.default_rng(0)
    for _ in range(seeds):
        order = rng.permutation(len(photos))
        halves = [np.sort(order[:len(order) // 2]), np.sort(order[len(order) // 2:])]
        for fit, test in (halves, halves[::-1]):
            sums["feature"] += score(unit, test)
            sums["pca"] += score(project(fit, False), test)
            sums["pca_whitened"] += score(project(fit, True), test)
    return {key: (float(v[0] / (2 * seeds)), float(v[1] / (2 * seeds))) for key, v in sums.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build")
    parser.add_argument("models", nargs="+", help="MODEL.eclr or MODEL.eclr:HEAD.eclh")
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--feature", action="store_true", help="also the first model's feature space")
    parser.add_argument("--pca-split", action="store_true", help="PCA whitened or not, on held-out photos")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    edgeclr = os.path.join(args.build, "tools", "edgeclr")
    photos_dir = os.path.join(args.build, "photos")
    files = corpus_files(os.path.join(photos_dir, "corpus"))
    names = [os.path.basename(f) for f in files]
    shots = []
    with open(os.path.join(photos_dir, "screenshots.txt")) as f:
        for line in f:
            shot, photo = line.split()
            shots.append((shot, names.index(os.path.basename(photo))))
    eval_dir = os.path.join(args.build, "photo", "eval")
    views = write_views(files, os.path.join(eval_dir, f"views-{args.seed}-{args.views}"), args.views, args.seed)
    view_labels = np.array([i for _, i in views])
    shot_labels = np.array([i for _, i in shots])
    paths = files + [p for p, _ in views] + [p for p, _ in shots]

    runs = [(spec, False) for spec in args.models]
    if args.feature or args.pca_split:
        runs.insert(0, (args.models[0], True))
    results = []
    for spec, feature in runs:
        v = embed(edgeclr, spec, paths, feature, os.path.join(eval_dir, "vectors.npy"))
        n, m = len(files), len(views)
        r = metrics(v[:n], v[n:n + m], view_labels, v[n + m:], shot_labels, names)
        if feature and args.pca_split:
            split = pca_split(v[:n], v[n:n + m], view_labels)
        r["model"] = spec
        r["space"] = "feature" if feature else "embedding"
        results.append(r)
    if args.json:
        print(json.dumps({"results": results, "pca_split": split if args.pca_split else None}, indent=1))
        return 0
    print(f"{len(files)} photos, {len(views)} views (seed {args.seed}), {len(shots)} screenshots, "
          f"{len(STEREO)} stereo pairs")
    print(f"{'model':60s} {'space':9s} views->photo recall@1 gap   shot->photo stereo photo-cos eff.rank")
    for r in results:
        print(f"{r['model'][-60:]:60s} {r['space']:9s} {r['views_to_photo']:12.3f} {r['view_recall_at_1']:8.3f} "
              f"{r['view_gap']:5.3f} {r['shot_to_photo']:11.3f} {r['stereo']:6.3f} {r['photo_cosine']:9.3f} "
              f"{r['effective_rank']:8.1f}")
    if args.pca_split:
        print("held-out halves (PCA fitted on the other half; 3 splits, both ways): views->photo, view recall@1")
        for key, (nn, recall) in split.items():
            print(f"  {key:14s} {nn:.3f} {recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
