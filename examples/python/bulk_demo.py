#!/usr/bin/env python3
"""The fleet's path end to end on real photos (`make bulk-demo`):

  1. server: a folder of photos embedded by worker processes (bulk_embed.py), sharded;
  2. server: a FAISS index built from the shards (exact inner product: the embeddings are
     unit length, so the scores are cosines);
  3. device: query photos (edited copies of some of the photos: cropped, brightened,
     re-encoded, made here with Pillow unless --queries names a folder) embedded through
     the C API (examples/c/embed), compared with the server's embeddings of the same
     files, bit for bit;
  4. FAISS's top-k for each query compared with an edgeclr gallery of the same photos.

usage: bulk_demo.py [--model M] [--images DIR] [--queries DIR] [--device-embed BIN]
                    [--out DIR] [--workers N] [--k K] [--limit N]
(defaults: the photo model and photos of `make photo-model` under build/)
"""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bulk_embed  # noqa: E402


def device_embeddings(binary, model, files, dim):
    """Embeddings printed by the C example (path, then `dim` %.9g floats: exact for float32)."""
    out = subprocess.run([binary, model, *files], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        fields = line.rsplit(" ", dim)  # the path may hold spaces; the last `dim` fields are numbers
        rows[fields[0]] = np.array([float(v) for v in fields[1:]], np.float32)
    return np.stack([rows[f] for f in files])


def make_queries(photos, out, count):
    """Edited copies of the first `count` photos: the middle 80%, 20% brighter, JPEG q85."""
    from PIL import Image, ImageEnhance
    os.makedirs(out, exist_ok=True)
    queries = []
    for path in photos[:count]:
        image = Image.open(path).convert("RGB")
        w, h = image.size
        image = image.crop((w // 10, h // 10, w - w // 10, h - h // 10))
        query = os.path.join(out, pathlib.Path(path).stem + ".edit.jpg")
        ImageEnhance.Brightness(image).enhance(1.2).save(query, "JPEG", quality=85)
        queries.append(query)
    return queries


def compare(faiss_hits, gallery_hits, tie):
    """(same order, same set, score differences) of two top-k lists of (key, score); keys
    whose scores differ by less than `tie` may swap places."""
    same_order = [k for k, _ in faiss_hits] == [k for k, _ in gallery_hits]
    fs, gs = dict(faiss_hits), dict(gallery_hits)
    diffs = [abs(fs[k] - gs[k]) for k in fs if k in gs]
    swaps_are_ties = all(abs(f[1] - g[1]) < tie for f, g in zip(faiss_hits, gallery_hits))
    return same_order, set(fs) == set(gs) or swaps_are_ties, diffs


def main():
    build = pathlib.Path(__file__).resolve().parents[2] / "build"
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(build / "photo" / "photo-int8.eclr"))
    parser.add_argument("--images", default=str(build / "photos" / "corpus"))
    parser.add_argument("--queries", help="a folder of query images (default: edited copies of the photos)")
    parser.add_argument("--device-embed", default=str(build / "examples" / "c" / "embed"))
    parser.add_argument("--out", default=str(build / "bulk"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-size", type=int, default=25)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--limit", type=int, default=40, help="query photos")
    args = parser.parse_args()

    import edgeclr
    import faiss

    shutil.rmtree(args.out, ignore_errors=True)
    files = bulk_embed.list_images(args.images, None)
    start = time.monotonic()
    shards = bulk_embed.run(args.model, None, files, os.path.join(args.out, "shards"), args.workers, args.shard_size)
    seconds = time.monotonic() - start
    keys, embeddings = bulk_embed.read_shards(os.path.join(args.out, "shards"))
    print(f"server: {len(keys)} photos embedded in {shards} shards by {args.workers} worker processes, "
          f"{seconds:.1f} s")

    index = faiss.IndexFlatIP(embeddings.shape[1])
    index.add(embeddings)
    print(f"server: FAISS {faiss.__version__} IndexFlatIP of {index.ntotal} x {index.d} from the shards")

    if args.queries:
        queries = bulk_embed.list_images(args.queries, None)[:args.limit]
    else:
        queries = make_queries(files, os.path.join(args.out, "queries"), args.limit)
    if not queries:
        sys.exit(f"bulk_demo: no query images in {args.queries}")
    server = edgeclr.Encoder(edgeclr.Model(args.model)).encode(queries)
    device = device_embeddings(args.device_embed, args.model, queries, server.shape[1])
    equal = sum(np.array_equal(d.view(np.uint32), s.view(np.uint32)) for d, s in zip(device, server))
    print(f"device: {len(queries)} query photos embedded through the C API; equal to the server's embeddings "
          f"bit for bit: {equal}/{len(queries)}")

    gallery = edgeclr.Gallery.create(os.path.join(args.out, "gallery.db"), args.model)
    added = gallery.add(files)
    scores, rows = index.search(device, args.k)
    found = gallery.search(device, k=args.k)
    same_order = same_set = 0
    diffs = []
    for q in range(len(queries)):
        faiss_hits = [(keys[r], float(s)) for r, s in zip(rows[q], scores[q])]
        order, tied, d = compare(faiss_hits, found[q], tie=1e-3)
        same_order += order
        same_set += tied
        diffs += d
    print(f"gallery: an edgeclr gallery of the same {added['added']} photos (features stored as half floats)")
    print(f"agreement (top-{args.k}): {same_order}/{len(queries)} queries with the same photos in the same order, "
          f"{same_set}/{len(queries)} the same up to ties within 1e-3; largest score difference "
          f"{max(diffs) if diffs else 0:.2e}")
    return 0 if equal == len(queries) and same_set == len(queries) else 1


if __name__ == "__main__":
    sys.exit(main())
