"""The models and images bench/run measures, made once into build/bench/models.

Run by bench/run with the benchmark's venv (build/bench-venv: its torch and torchvision).

Models, each an ONNX file with input "image" float32 [1, C, H, W] and one output:
  resnet18, resnet50, mobilenet_v2, mobilenet_v3_small
      torchvision's, random weights (seeded; the converter tests' recipe,
      models/zoo/export_torchvision.py: random BatchNorm affine terms), with the BatchNorm
      running statistics measured on the real photo views below, as after training:
      random-init MobileNets otherwise give outputs of about 1e-9. Opset 13 (Debian 12's
      converter reads up to 17), the torchscript exporter. The classifier stays: it is
      the projection head edgeclr runs in fp32.
  photo     the repo's pretrained photo encoder (build/photo/photo.onnx, real weights).
  fashion   the Fashion-MNIST reference model (models/fashion/fashion.onnx).
  tiny      (smoke test only) two conv layers and a Linear on 28x28 grey, random weights,
            BatchNorm statistics from the Fashion-MNIST images below.

Images (real, the same for every runtime):
  calib-224/NNN.png   RGB 224x224 views of the photo corpus (build/photos/corpus): per
                      photo its centre crop and three random crops (30-100% of the area,
                      seeded), some flipped; the last photo is held out.
  calib-28/NNN.pgm    the first Fashion-MNIST training images.
  input-224.png, input-28.pgm
                      the timed input: the held-out photo's centre crop, a Fashion-MNIST
                      test image.
Images [0, CALIBRATION) of a folder calibrate every runtime's int8 model (edgeclr reads
the folder itself, the peers the same pixels normalised); edgeclr's converter measures
its fidelity on the rest. The images are already the model's input size, so every
runtime's input is the same tensor: (pixel / 255 - mean) / std.

For each model NAME: NAME.onnx, NAME.json (mean, std, size, channels, image set), and
NAME.reference.npy: PyTorch's output for the timed input (torchvision's module, or
onnx2torch's translation of the ONNX file for photo and fashion).
"""
import gzip
import inspect
import json
import os
import sys

import numpy as np
import onnx
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "models/zoo"))
import export_torchvision as zoo  # noqa: E402  (MODELS, randomise_weights, add_metadata)

CALIBRATION = 200   # images each int8 model is calibrated on
VIEWS_PER_PHOTO = 4
FASHION_IMAGES = 300
ZOO = ("resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small")
ALL = ZOO + ("photo", "fashion")
SMOKE = "tiny"  # a 28x28 grey CNN for bench/run's smoke test (tests/bench), not in ALL
# torch 2.9+ exports through torch.export by default (opset 18+); Debian 12's converter
# reads opsets up to 17, so the torchscript exporter. Debian's torch 1.13 (the smoke test)
# has only that one and no `dynamo` argument.
EXPORT_ARGS = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def onnx_preprocessing(path):
    meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    height, width = (int(v) for v in meta["edgeclr.input_size"].split("x"))
    return {"mean": [float(v) for v in meta["edgeclr.mean"].split(",")],
            "std": [float(v) for v in meta["edgeclr.std"].split(",")],
            "size": [height, width], "channels": int(meta["edgeclr.channels"])}


def normalise(pixels, spec):
    """uint8 (N, H, W, C) -> float32 (N, C, H, W), (p / 255 - mean) / std."""
    mean = np.asarray(spec["mean"], np.float32)
    std = np.asarray(spec["std"], np.float32)
    x = (pixels.astype(np.float32) / 255.0 - mean) / std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def read_folder(folder, count=None):
    """uint8 (N, H, W, C) of the folder's images in name order ([0, count))."""
    names = sorted(os.listdir(folder))[:count]
    arrays = [np.asarray(Image.open(os.path.join(folder, n))) for n in names]
    return np.stack([a if a.ndim == 3 else a[:, :, None] for a in arrays])


def read_image(path):
    a = np.asarray(Image.open(path))
    return (a if a.ndim == 3 else a[:, :, None])[None]


def centre_crop(image, side):
    scale = side / min(image.size)
    image = image.resize((max(side, round(image.width * scale)), max(side, round(image.height * scale))),
                         Image.BILINEAR)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def random_view(image, rng, side):
    area = image.width * image.height * rng.uniform(0.3, 1.0)
    crop = int(min(np.sqrt(area), image.width, image.height))
    left = int(rng.integers(0, image.width - crop + 1))
    top = int(rng.integers(0, image.height - crop + 1))
    view = image.crop((left, top, left + crop, top + crop)).resize((side, side), Image.BILINEAR)
    return view.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else view


def make_photo_views(corpus, out):
    folder = os.path.join(out, "calib-224")
    if os.path.isdir(folder):
        return
    photos = sorted(f for f in os.listdir(corpus) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if len(photos) < 2:
        sys.exit(f"bench/models.py: {corpus} has {len(photos)} photos; run make photo-model first")
    rng = np.random.default_rng(15)
    os.makedirs(folder + ".tmp", exist_ok=True)
    views = []
    for name in photos[:-1]:
        image = Image.open(os.path.join(corpus, name)).convert("RGB")
        views.append(centre_crop(image, 224))
        views.extend(random_view(image, rng, 224) for _ in range(VIEWS_PER_PHOTO - 1))
    order = rng.permutation(len(views))  # calibration and held-out images from every photo
    for i, v in enumerate(order):
        views[v].save(os.path.join(folder + ".tmp", f"{i:03d}.png"))
    centre_crop(Image.open(os.path.join(corpus, photos[-1])).convert("RGB"), 224).save(
        os.path.join(out, "input-224.png"))
    os.rename(folder + ".tmp", folder)


def read_idx_images(path, count):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, count * rows * cols, 16).reshape(min(n, count), rows, cols)


def make_fashion_images(datasets, out):
    folder = os.path.join(out, "calib-28")
    if os.path.isdir(folder):
        return
    os.makedirs(folder + ".tmp", exist_ok=True)
    for i, image in enumerate(read_idx_images(os.path.join(datasets, "train-images-idx3-ubyte.gz"), FASHION_IMAGES)):
        Image.fromarray(image, "L").save(os.path.join(folder + ".tmp", f"{i:03d}.pgm"))
    Image.fromarray(read_idx_images(os.path.join(datasets, "t10k-images-idx3-ubyte.gz"), 1)[0], "L").save(
        os.path.join(out, "input-28.pgm"))
    os.rename(folder + ".tmp", folder)


def image_set(name):
    return ("calib-28", "input-28.pgm") if name in ("fashion", SMOKE) else ("calib-224", "input-224.png")


def make_images(name, out):
    """The image set `name` is calibrated and timed on, made once."""
    if image_set(name)[0] == "calib-28":
        make_fashion_images("/usr/share/datasets/fashion-mnist", out)
    else:
        make_photo_views(os.path.join(REPO, "build/photos/corpus"), out)


def tiny_module(seed=28):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))


FASHION_SPEC = {"mean": [0.286], "std": [0.353], "size": [28, 28], "channels": 1}


def export_tiny(out):
    model = tiny_module()
    views = normalise(read_folder(os.path.join(out, "calib-28")), FASHION_SPEC).transpose(0, 2, 3, 1)
    zoo.randomise_weights(model, 28, np.ascontiguousarray(views))
    path = os.path.join(out, f"{SMOKE}.onnx")
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, input_names=["image"], output_names=["output"],
                          opset_version=13, **EXPORT_ARGS)
    proto = onnx.load(path)
    for key, value in {"edgeclr.input_size": "28x28", "edgeclr.channels": "1", "edgeclr.mean": "0.286",
                       "edgeclr.std": "0.353", "edgeclr.resize": "stretch"}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)
    torch.save(model.state_dict(), os.path.join(out, f"{SMOKE}.pt"))


def export_zoo(name, out):
    """torchvision's NAME with BatchNorm statistics from the real views; returns the module."""
    constructor, seed = zoo.MODELS[name]
    torch.manual_seed(seed)
    model = constructor(weights=None)
    spec = {"mean": list(zoo.MEAN), "std": list(zoo.STD)}
    views = normalise(read_folder(os.path.join(out, "calib-224")), spec).transpose(0, 2, 3, 1)
    zoo.randomise_weights(model, seed, np.ascontiguousarray(views))
    path = os.path.join(out, f"{name}.onnx")
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path + ".tmp", input_names=["image"],
                          output_names=["output"], opset_version=13, do_constant_folding=True, **EXPORT_ARGS)
    proto = onnx.load(path + ".tmp")
    zoo.add_metadata(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, path + ".tmp")
    os.replace(path + ".tmp", path)
    torch.save(model.state_dict(), os.path.join(out, f"{name}.pt"))
    return model


def torch_module(name, out):
    """The model as a PyTorch module (fp32, eval): torchvision's with its saved weights, or
    onnx2torch's translation of the ONNX file."""
    if name in ZOO or name == SMOKE:
        model = zoo.MODELS[name][0](weights=None) if name in ZOO else tiny_module()
        model.load_state_dict(torch.load(os.path.join(out, f"{name}.pt")))
        return model.eval()
    import onnx2torch
    return onnx2torch.convert(os.path.join(out, f"{name}.onnx")).eval()


def make(out, names, log=print):
    """Makes what is missing for `names` in `out`; returns {name: spec dict}."""
    os.makedirs(out, exist_ok=True)
    specs = {}
    for name in names:
        path = os.path.join(out, f"{name}.onnx")
        spec_path = os.path.join(out, f"{name}.json")
        if not os.path.exists(spec_path):
            log(f"  making {name}")
            make_images(name, out)
            if name in ZOO:
                export_zoo(name, out)
            elif name == SMOKE:
                export_tiny(out)
            else:
                source = os.path.join(REPO, "build/photo/photo.onnx" if name == "photo" else "models/fashion/fashion.onnx")
                onnx.save(onnx.load(source), path)
            spec = onnx_preprocessing(path)
            spec["images"], spec["input"] = image_set(name)
            x = normalise(read_image(os.path.join(out, spec["input"])), spec)
            with torch.no_grad():
                reference = torch_module(name, out)(torch.from_numpy(x)).numpy().reshape(-1)
            np.save(os.path.join(out, f"{name}.reference.npy"), reference.astype(np.float32))
            with open(spec_path, "w") as f:
                json.dump(spec, f)
        with open(spec_path) as f:
            specs[name] = json.load(f)
    return specs


def calibration(out, spec):
    """float32 (CALIBRATION, C, H, W): the calibration images, normalised for the model."""
    return normalise(read_folder(os.path.join(out, spec["images"]), CALIBRATION), spec)


def timed_input(out, spec):
    """float32 (1, C, H, W): the timed input, normalised for the model."""
    return normalise(read_image(os.path.join(out, spec["input"])), spec)


def macs(path):
    """Multiply-accumulates of one inference: Conv, Gemm and MatMul, from ONNX's shapes."""
    proto = onnx.shape_inference.infer_shapes(onnx.load(path))
    shapes = {}
    for value in list(proto.graph.input) + list(proto.graph.value_info) + list(proto.graph.output):
        shapes[value.name] = [d.dim_value for d in value.type.tensor_type.shape.dim]
    for init in proto.graph.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in proto.graph.node:
        if node.op_type == "Conv":
            weight = shapes[node.input[1]]  # [O, I/group, kh, kw]
            total += int(np.prod(shapes[node.output[0]])) * int(np.prod(weight[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            a, out = shapes[node.input[0]], shapes[node.output[0]]
            total += int(np.prod(out)) * a[-1]
    return total


def make_peak(out):
    """peak.onnx: a 4x4 stride-4 stem to 56x56x256, then four 1x1 convolutions 256 -> 256
    with ReLU (each a GEMM of 3136 x 256 x 256 in XNNPACK), average pool, a small Linear:
    0.86 GMAC, 96% of it in the 1x1 convolutions. The machine's "peak" is what XNNPACK's
    GEMM kernels achieve on it: the denominator of every model's MAC/s fraction."""
    path = os.path.join(out, "peak.onnx")
    if os.path.exists(os.path.join(out, "peak.json")):
        return
    make_images("peak", out)
    torch.manual_seed(5)
    layers = [torch.nn.Conv2d(3, 256, 4, stride=4), torch.nn.ReLU()]
    for _ in range(4):
        layers += [torch.nn.Conv2d(256, 256, 1), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(256, 16))
    with torch.no_grad():
        torch.onnx.export(model.eval(), torch.zeros(1, 3, 224, 224), path, input_names=["image"],
                          output_names=["output"], opset_version=13, **EXPORT_ARGS)
    proto = onnx.load(path)
    zoo.add_metadata(proto)
    onnx.save(proto, path)
    with open(os.path.join(out, "peak.json"), "w") as f:
        json.dump({"mean": list(zoo.MEAN), "std": list(zoo.STD), "size": [224, 224], "channels": 3,
                   "images": "calib-224", "input": "input-224.png"}, f)
