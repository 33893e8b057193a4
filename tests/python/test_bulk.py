#!/usr/bin/python3
"""The bulk example end to end on a small folder: examples/python/bulk_demo.py embeds it
with two worker processes into shards, builds a FAISS index from them, embeds queries
through the C API, and compares FAISS's top-k with an edgeclr gallery's. On the photo
model and real photos when they are built, else on the Fashion-MNIST model and images.

usage: test_bulk.py SOURCE_DIR DEVICE_EMBED [PHOTO_BUILD]   (PYTHONPATH: build/python)
"""
import gzip
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
import cli_check  # noqa: E402
from cli_check import check  # noqa: E402

SOURCE, DEVICE = sys.argv[1], sys.argv[2]
PHOTO = sys.argv[3] if len(sys.argv) > 3 else ""

with tempfile.TemporaryDirectory() as tmp:
    queries = []
    if PHOTO:  # queries: edited copies the demo makes with Pillow
        model = os.path.join(PHOTO, "photo", "photo-int8.eclr")
        images = os.path.join(PHOTO, "photos", "corpus")
    else:
        model = os.path.join(SOURCE, "models", "fashion", "fashion-int8.eclr")
        images = os.path.join(tmp, "images")
        queries = ["--queries", images]
        os.makedirs(images)
        raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
        for i in range(60):
            with open(os.path.join(images, f"{i:03d}.pgm"), "wb") as f:
                f.write(b"P5\n28 28\n255\n" + raw[16 + i * 784:16 + (i + 1) * 784])
    demo = os.path.join(SOURCE, "examples", "python", "bulk_demo.py")
    r = subprocess.run([sys.executable, demo, "--model", model, "--images", images, *queries,
                        "--device-embed", DEVICE, "--out", os.path.join(tmp, "bulk"), "--workers", "2",
                        "--shard-size", "25", "--limit", "20", "--k", "5"], capture_output=True, text=True, timeout=900)
    print(r.stdout)
    check(r.returncode == 0, f"bulk_demo: exit {r.returncode}: {r.stderr[-1000:]!r}")
    check("equal to the server's embeddings bit for bit: 20/20" in r.stdout, "device and server embeddings differ")
    check("20/20 the same up to ties" in r.stdout, "FAISS and the gallery disagree")
    shards = sorted(n for n in os.listdir(os.path.join(tmp, "bulk", "shards")) if n.endswith(".npy"))
    check(len(shards) >= 2, f"shards {shards}")
    # A model that does not open is an error at once, not a pool restarting workers for ever.
    missing = os.path.join(tmp, "missing.eclr")
    r = subprocess.run([sys.executable, os.path.join(SOURCE, "examples", "python", "bulk_embed.py"), "--model", missing,
                        "--images", images, "--out", os.path.join(tmp, "never"), "--workers", "2"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 1 and "missing.eclr" in r.stderr and "cannot open" in r.stderr,
          f"bulk_embed with a missing model: exit {r.returncode}: {r.stderr[-500:]!r}")
cli_check.finish()
