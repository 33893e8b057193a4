#!/usr/bin/env python3
"""Bulk embedding with edgeclr's Python module: a folder or a list of image files,
embedded by worker processes, written as shards of .npy embeddings and their keys.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/bulk_embed.py \
        --model build/photo/photo-int8.eclr --images build/photos/corpus --out build/bulk --workers 2

writes out/shard-00000.npy (float32, n x dim), out/shard-00000.keys (the n file paths,
one per line, in the same order) and out/shard-00000.skipped (files that did not decode,
with why), for every shard of --shard-size files. Each shard is written whole or not at
all (a temp file, then rename), so a killed run is resumed by running it again with the
same arguments: shards already there are skipped (by number: a different file list
needs a fresh --out).

The unit of work is embed_shard(): one process embeds one list of files. Here a
multiprocessing pool runs it; on a cluster it is the map step of Spark
(rdd.mapPartitions) or Ray (ray.data map_batches), unchanged (docs/python.md).
"""
import argparse
import multiprocessing
import os
import pathlib
import sys
import time

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm"}

_encoder = None  # one per worker process, made once


def _open_encoder(model, head, threads):
    global _encoder
    import edgeclr
    _encoder = edgeclr.Encoder(edgeclr.Model(model), threads=threads, head=head)


def embed_files(encoder, paths):
    """(keys, embeddings float32 (n, dim), skipped [(path, why)]) for `paths`, one call per
    file so that one bad file skips itself only."""
    import edgeclr
    keys, rows, skipped = [], [], []
    for path in paths:
        try:
            rows.append(encoder.encode([path])[0])
            keys.append(path)
        except edgeclr.Error as e:
            skipped.append((path, str(e)))
    embeddings = np.stack(rows) if rows else np.zeros((0, encoder.embedding_dim), np.float32)
    return keys, embeddings.astype(np.float32, copy=False), skipped


def _write_atomically(path, write):
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


def embed_shard(job):
    """Embeds one shard: job = (index, paths, out_dir). Returns (index, count, skipped)."""
    index, paths, out = job
    stem = pathlib.Path(out) / f"shard-{index:05d}"
    keys, embeddings, skipped = embed_files(_encoder, paths)
    for path in keys:
        if "\n" in path:
            raise ValueError(f"a key with a newline cannot go in a .keys file: {path!r}")
    _write_atomically(stem.with_suffix(".skipped"), lambda f: f.write("".join(f"{p}\t{w}\n" for p, w in skipped).encode()))
    _write_atomically(stem.with_suffix(".keys"), lambda f: f.write("".join(k + "\n" for k in keys).encode()))
    _write_atomically(stem.with_suffix(".npy"), lambda f: np.save(f, embeddings))  # last: marks the shard done
    return index, len(keys), skipped


def list_images(images, listing):
    if listing:
        return [line.rstrip("\n") for line in open(listing) if line.strip()]
    return sorted(str(p) for p in pathlib.Path(images).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def read_shards(out):
    """(keys, embeddings) of every shard in `out`, in shard order."""
    keys, parts = [], []
    for npy in sorted(pathlib.Path(out).glob("shard-*.npy")):
        shard_keys = npy.with_suffix(".keys").read_text().splitlines()
        embeddings = np.load(npy)
        if len(shard_keys) != len(embeddings):
            raise ValueError(f"{npy}: {len(embeddings)} embeddings for {len(shard_keys)} keys")
        keys += shard_keys
        parts.append(embeddings)
    return keys, (np.concatenate(parts) if parts else np.zeros((0, 0), np.float32))


def run(model, head, files, out, workers, shard_size, threads=1):
    """Embeds `files` into shards under `out` with `workers` processes; returns the count."""
    os.makedirs(out, exist_ok=True)
    jobs = [(i, files[s:s + shard_size], out) for i, s in enumerate(range(0, len(files), shard_size))]
    todo = [j for j in jobs if not (pathlib.Path(out) / f"shard-{j[0]:05d}.npy").exists()]
    done = 0
    # A model or head that does not open fails here, once: in a worker's initializer the
    # pool would start a new worker after each failure, for ever.
    _open_encoder(model, head, threads)
    with multiprocessing.get_context("spawn").Pool(workers, _open_encoder, (model, head, threads)) as pool:
        for index, count, skipped in pool.imap_unordered(embed_shard, todo):
            done += 1
            for path, why in skipped:
                print(f"skipped {path}: {why}", file=sys.stderr)
            print(f"  shard {index}: {count} images ({done}/{len(todo)} shards)", file=sys.stderr)
    return len(jobs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--head", help="an adapted head (.eclh)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="a folder, read recursively")
    source.add_argument("--list", help="a file of image paths, one per line")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--shard-size", type=int, default=1000)
    args = parser.parse_args()
    files = list_images(args.images, args.list)
    start = time.monotonic()
    import edgeclr
    try:
        shards = run(args.model, args.head, files, args.out, args.workers, args.shard_size)
    except edgeclr.Error as e:
        sys.exit(f"bulk_embed: {e}")
    seconds = time.monotonic() - start
    print(f"bulk: {len(files)} files in {shards} shards by {args.workers} worker processes, {seconds:.1f} s")


if __name__ == "__main__":
    main()
