#!/usr/bin/python3
"""Export the pretrained photo encoder to ONNX: MobileNetV2 + a projection head that starts as PCA.

usage: /usr/bin/python3 models/photo/export_onnx.py BUILD/photo --corpus BUILD/photos/corpus
                                                    [--views 8] [--seed 0] [--components 256]
                                                    [--whiten] [--threads 2]

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-torchvision, python3-onnx,
python3-pil, python3-numpy), after `mobilenet_v2.py fetch BUILD/photo` (the weights) and
scripts/fetch-photos (the corpus).

The encoder: image [1,3,224,224] (RGB, ImageNet mean/std, shorter side to 224 then centre
crop) -> MobileNetV2 -> global average pool -> 1280-d feature -> Gemm(1280->512) -> Relu ->
Gemm(512->128) = the embedding (edgeclr's converter makes the trailing Gemm/Relu chain the
fp32 head and L2-normalises the embedding itself).

The head's start is PCA of the corpus: every photo's centre crop plus --views augmented
views (random resized crop of 35-100% of the area, aspect 3/4-4/3, horizontal flip,
brightness, contrast and saturation jitter; numpy generator seeded with --seed) go through
the backbone; P (components x 1280) holds the top principal directions of those features
(divided by the square root of their variance with --whiten), mean their mean. Then

  W1 = [P; -P] (512x1280), b1 = [-P mean; +P mean]   so Relu(W1 x + b1) = [relu(p), relu(-p)],
  W2 = [I_128 0 | -I_128 0] (128x512), b2 = 0         so W2 relu(...) = relu(p) - relu(-p) = p[:128],

with p = P (x - mean): an MLP that starts as the first 128 PCA coordinates and that
adaptation can bend (the other 128 directions of each half are there for it to use). The
script checks that identity on every feature it computed and stops if it does not hold.

Writes, in BUILD/photo:
  photo.onnx            opset 13, input "image", output "embedding", preprocessing in
                        metadata_props (edgeclr.input_size, .channels, .mean, .std, .resize)
  head-start.npz        W1, b1, W2, b2, mean, components, variances, whiten (for make_fixture.py)
  export-log.json       settings, seconds per step, variance explained, the identity check
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision.transforms.functional as TF
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mobilenet_v2 import FEATURE_DIM, MEAN, SIZE, STD, WEIGHTS_NAME, build_model  # noqa: E402

HIDDEN = 512
EMBEDDING_DIM = 128
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm")
# Photos are shrunk so that their shorter side is this before views are cut from them: a
# 35% crop of it is still ~265 px, above the 224 px the network sees.
WORKING_SIDE = 448


class PhotoEncoder(nn.Module):
    """(1,3,224,224) -> (1,128): backbone feature, then the head (Linear, ReLU, Linear)."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x):
        return self.head(self.backbone(x))


def make_head(w1, b1, w2, b2):
    head = nn.Sequential(nn.Linear(FEATURE_DIM, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, EMBEDDING_DIM))
    with torch.no_grad():
        for layer, w, b in ((head[0], w1, b1), (head[2], w2, b2)):
            layer.weight.copy_(torch.from_numpy(np.asarray(w, dtype=np.float32)))
            layer.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float32)))
    return head.eval()


def corpus_files(corpus):
    """The corpus's image files, sorted by name (the order edgeclr reads a folder in)."""
    names = sorted(n for n in os.listdir(corpus) if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith("."))
    if not names:
        raise SystemExit(f"export_onnx.py: no images in {corpus}; run scripts/fetch-photos first")
    return [os.path.join(corpus, n) for n in names]


def open_photo(path, side=WORKING_SIDE):
    """RGB PIL image, EXIF orientation applied, shrunk (box filter) so its shorter side is `side`."""
    with Image.open(path) as im:
        im.draft("RGB", (side, side))  # JPEG: decode at a reduced DCT scale, never below `side`
        im = ImageOps.exif_transpose(im).convert("RGB")
    scale = side / min(im.size)
    if scale < 1:
        im = im.resize((max(side, round(im.size[0] * scale)), max(side, round(im.size[1] * scale))), Image.BOX)
    return im


def centre_view(im):
    """Shorter side to 224, centre crop: what edgeclr's `crop` resize policy does."""
    scale = SIZE / min(im.size)
    w, h = max(SIZE, round(im.size[0] * scale)), max(SIZE, round(im.size[1] * scale))
    im = im.resize((w, h), Image.BOX if scale < 1 else Image.BILINEAR)
    left, top = (w - SIZE) // 2, (h - SIZE) // 2
    return im.crop((left, top, left + SIZE, top + SIZE))


def augmented_view(im, rng):
    """Random resized crop (area 35-100%, aspect 3/4-4/3), flip, brightness/contrast/saturation."""
    w, h = im.size
    for _ in range(10):
        area = rng.uniform(0.35, 1.0) * w * h
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = int(round(np.sqrt(area * ratio))), int(round(np.sqrt(area / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            break
    else:
        cw = ch = min(w, h)
    left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    view = im.resize((SIZE, SIZE), Image.BILINEAR, box=(left, top, left + cw, top + ch))
    if rng.random() < 0.5:
        view = TF.hflip(view)
    view = TF.adjust_brightness(view, rng.uniform(0.75, 1.25))
    view = TF.adjust_contrast(view, rng.uniform(0.6, 1.4))
    view = TF.adjust_saturation(view, rng.uniform(0.6, 1.4))
    return view


def to_input(view):
    """224x224 PIL RGB -> (3,224,224) float32, (pixel / 255 - mean) / std."""
    pixels = np.asarray(view, dtype=np.float32) / 255.0
    x = (pixels - np.asarray(MEAN, dtype=np.float32)) / np.asarray(STD, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


@torch.no_grad()
def features_of(model, views, batch=32):
    """(N,1280) float32 features of a list of 224x224 PIL views."""
    out = []
    for i in range(0, len(views), batch):
        x = torch.stack([to_input(v) for v in views[i:i + batch]]).contiguous(memory_format=torch.channels_last)
        out.append(model(x))
    return torch.cat(out).numpy().astype(np.float32)


def corpus_views(files, views, seed):
    """[(image index, view)]: each photo's centre view, then `views` augmented ones."""
    rng = np.random.default_rng(seed)
    out = []
    for index, path in enumerate(files):
        im = open_photo(path)
        out.append((index, centre_view(im)))
        out.extend((index, augmented_view(im, rng)) for _ in range(views))
    return out


def pca(features, components):
    """mean (1280,), directions (components,1280) with unit rows, variances (components,), all variance."""
    x = features.astype(np.float64)
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False)
    values, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(values)[::-1][:components]
    directions = vectors[:, order].T
    # Sign convention (eigh's is arbitrary): the largest entry of each direction is positive.
    signs = np.sign(directions[np.arange(components), np.abs(directions).argmax(axis=1)])
    return mean, directions * signs[:, None], values[order], float(values.sum())


def pca_head(mean, directions, variances, whiten):
    """W1, b1, W2, b2 of the head that outputs the first 128 PCA coordinates (see the docstring)."""
    p = directions / np.sqrt(variances)[:, None] if whiten else directions
    k = p.shape[0]
    w1 = np.concatenate([p, -p])
    b1 = np.concatenate([-p @ mean, p @ mean])
    w2 = np.zeros((EMBEDDING_DIM, 2 * k))
    w2[:, :EMBEDDING_DIM] = np.eye(EMBEDDING_DIM)
    w2[:, k:k + EMBEDDING_DIM] = -np.eye(EMBEDDING_DIM)
    return w1, b1, w2, np.zeros(EMBEDDING_DIM), p


def check_head_is_pca(head, features, mean, p):
    """Largest |head(x) - P[:128](x - mean)| over the features, and the largest |coordinate|."""
    with torch.no_grad():
        actual = head(torch.from_numpy(features)).double().numpy()
    expected = (features.astype(np.float64) - mean) @ p[:EMBEDDING_DIM].T
    return float(np.abs(actual - expected).max()), float(np.abs(expected).max())


def export(model, path):
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), path, input_names=["image"],
                          output_names=["embedding"], opset_version=13, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL)
    proto = onnx.load(path)
    for key, value in {
        "edgeclr.input_size": f"{SIZE}x{SIZE}",
        "edgeclr.channels": "3",
        "edgeclr.mean": ",".join(str(v) for v in MEAN),
        "edgeclr.std": ",".join(str(v) for v in STD),
        "edgeclr.resize": "crop",
    }.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    ops = {}
    for node in proto.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    tail = [node.op_type for node in proto.graph.node][-3:]
    if tail != ["Gemm", "Relu", "Gemm"]:
        raise SystemExit(f"{path}: the graph ends in {tail}, expected Gemm, Relu, Gemm (the head)")
    return dict(sorted(ops.items())), len(proto.graph.node)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="BUILD/photo: has the weights, receives photo.onnx")
    parser.add_argument("--corpus", required=True, help="BUILD/photos/corpus")
    parser.add_argument("--weights", help=f"default: OUT_DIR/{WEIGHTS_NAME}")
    parser.add_argument("--views", type=int, default=8, help="augmented views per photo (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--components", type=int, default=256, help="PCA directions in the head (default 256)")
    parser.add_argument("--whiten", action="store_true", help="divide each direction by its standard deviation")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    if not EMBEDDING_DIM <= args.components <= HIDDEN // 2:
        parser.error(f"--components must be in [{EMBEDDING_DIM}, {HIDDEN // 2}]")
    torch.set_num_threads(args.threads)
    weights = args.weights or os.path.join(args.out_dir, WEIGHTS_NAME)
    if not os.path.exists(weights):
        raise SystemExit(f"export_onnx.py: no weights at {weights}; run mobilenet_v2.py fetch {args.out_dir}")
    seconds = {}

    start = time.time()
    model = build_model(weights).to(memory_format=torch.channels_last)
    files = corpus_files(args.corpus)
    views = corpus_views(files, args.views, args.seed)
    seconds["views"] = time.time() - start
    print(f"{len(files)} photos, {len(views)} views ({args.views} augmented per photo, seed {args.seed}): "
          f"{seconds['views']:.1f} s", flush=True)

    start = time.time()
    features = features_of(model, [v for _, v in views])
    seconds["features"] = time.time() - start
    print(f"features {features.shape}: {seconds['features']:.1f} s "
          f"({1000 * seconds['features'] / len(views):.1f} ms per view, {args.threads} threads)", flush=True)

    start = time.time()
    mean, directions, variances, total = pca(features, args.components)
    w1, b1, w2, b2, p = pca_head(mean, directions, variances, args.whiten)
    head = make_head(w1, b1, w2, b2)
    error, scale = check_head_is_pca(head, features, mean, p)
    # float32 head vs float64 projection: rounding of a 1280-long dot product, plus the
    # float32 rounding of the bias (b1 = -P mean, of the order of |P mean|).
    tolerance = 1e-5 * (scale + float(np.abs(b1).max())) * 4
    if not error <= tolerance:
        raise SystemExit(f"the head is not PCA: max |head(x) - P(x - mean)| {error:.3g} > {tolerance:.3g}")
    seconds["pca"] = time.time() - start
    explained = variances / total
    print(f"PCA ({'whitened' if args.whiten else 'not whitened'}): the first 128 directions hold "
          f"{explained[:EMBEDDING_DIM].sum():.3f} of the variance, the {args.components} {explained.sum():.3f}; "
          f"head == PCA to {error:.2g} (largest coordinate {scale:.3g})", flush=True)

    start = time.time()
    os.makedirs(args.out_dir, exist_ok=True)
    onnx_path = os.path.join(args.out_dir, "photo.onnx")
    encoder = PhotoEncoder(build_model(weights), head).eval()
    ops, nodes = export(encoder, onnx_path)
    np.savez(os.path.join(args.out_dir, "head-start.npz"), w1=w1.astype(np.float32), b1=b1.astype(np.float32),
             w2=w2.astype(np.float32), b2=b2.astype(np.float32), mean=mean, components=directions,
             variances=variances, whiten=np.asarray(args.whiten))
    seconds["export"] = time.time() - start
    print(f"{onnx_path}: {os.path.getsize(onnx_path)} bytes, {nodes} nodes: "
          + ", ".join(f"{op} x{n}" for op, n in ops.items()), flush=True)

    log = {
        "photos": len(files), "views_per_photo": args.views, "seed": args.seed, "features": len(views),
        "components": args.components, "whiten": args.whiten, "threads": torch.get_num_threads(),
        "variance_explained_128": float(explained[:EMBEDDING_DIM].sum()),
        "variance_explained_components": float(explained.sum()),
        "head_pca_max_error": error, "head_pca_largest_coordinate": scale,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "torch": torch.__version__, "onnx": onnx.__version__,
    }
    with open(os.path.join(args.out_dir, "export-log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()) + f", total {sum(seconds.values()):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
