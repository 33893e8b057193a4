"""edgeclr for servers and notebooks: the device's contrastive image encoders, from Python.

The same C++ runtime as the edgeclr CLI and C API, so a server's embeddings are the
device's, bit for bit at int8 (docs/python.md)::

    import edgeclr
    model = edgeclr.Model("photo-int8.eclr")           # verified; .input, .backbone_hash, ...
    encoder = edgeclr.Encoder(model, threads=2)         # head="user.eclh" for an adapted head
    e = encoder.encode(["a.jpg", "b.jpg"])              # float32 (2, embedding_dim)
    e = encoder.encode(pixels)                          # uint8 (H, W, C) or (N, H, W, C), C 1/3/4
    f = encoder.encode(pixels, features=True)           # the backbone's features instead

    g = edgeclr.Gallery.create("g.db", "photo-int8.eclr")
    g.add(["a.jpg", "b.jpg"])                           # {'added': 2, 'skipped': []}
    g.search(e, k=5)                                    # [[(key, cosine), ...] per query]
    embeddings, keys = g.export()

    report = edgeclr.adapt("photo-int8.eclr", groups="mine/", out="user.eclh", epochs=20)

Errors raise edgeclr.Error (a RuntimeError) with the runtime's one-line message and
.code ('invalid_argument', 'invalid_model', 'unsupported', 'io_error', ...). The GIL is
released while encoding, searching, adding and adapting.
"""
from ._edgeclr import Encoder, Error, Gallery, Model, __version__, format_version, xnnpack_version
from . import _edgeclr

__all__ = ["Model", "Encoder", "Gallery", "Error", "adapt", "__version__", "xnnpack_version", "format_version"]

_ADAPT_OPTIONS = ("pairs", "groups", "unlabeled", "head", "epochs", "loss", "lr", "temperature", "pull", "seed",
                  "views", "limit", "threads", "save_cache")


def adapt(model, out, **options):
    """Trains `model`'s projection head on your data and writes it to `out` (.eclh) if it
    beats the current head on held-out data: `edgeclr adapt MODEL -o OUT ...` in-process,
    with the same options (one of pairs=CSV, groups=DIR, unlabeled=DIR; head, epochs,
    loss, lr, temperature, pull, seed, views, limit, threads, save_cache) and the same
    report, the CLI's --json as a dict ('accepted', 'reason', 'validation', 'space',
    'epochs', 'head', 'version', ...)."""
    unknown = set(options) - set(_ADAPT_OPTIONS)
    if unknown:
        raise TypeError(f"adapt: unknown option(s) {sorted(unknown)}; known: {', '.join(_ADAPT_OPTIONS)}")
    import os
    args = [os.fspath(model), "--out", os.fspath(out)]
    for name in _ADAPT_OPTIONS:
        value = options.get(name)
        if value is not None:
            args += ["--" + name.replace("_", "-"), os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return _edgeclr.adapt(args)
