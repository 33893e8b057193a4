#!/usr/bin/python3
"""Export torchvision classifiers (random weights) to ONNX as converter test models.

usage: /usr/bin/python3 models/zoo/export_torchvision.py OUT_DIR [--models resnet18,...] [--opset 13] [--dynamic]

Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision, python3-onnx).
Nothing is downloaded: every model is built with weights=None and a fixed seed, so the
files are reproducible on one machine and say nothing about accuracy.

The architecture is torchvision's, classifier included; the converter treats the trailing
Linear chain as the projection head.

The weights are not torchvision's initialisation as is: with it every BatchNorm is the
identity (mean 0, var 1, gamma 1, beta 0) and every conv bias is 0, so a converter that
dropped biases would still pass, and the mobilenets' outputs shrink to ~1e-9 (depthwise
convs get kaiming std computed without the groups), the same for any input. So after
torchvision's init each BatchNorm gets a random gamma in [0.5, 1.5] and beta in
[-0.25, 0.25], the other conv biases (the squeeze-excitation convs) random values in
[-0.1, 0.1], and the running statistics are then measured on random images (as after
training), which keeps activations O(1) through the whole network. For each model NAME this writes, in OUT_DIR:

  NAME.onnx                  input "image" [1,3,224,224] NCHW, output "output" [1,1000],
                             opset --opset, constants folded, preprocessing in metadata_props
  NAME.inputs.npy            (3,224,224,3) float32 NHWC (299 for inception_v3), already normalised with mean/std
  NAME.expected.npy          (3,1000) float32, the PyTorch model's output for those inputs
  NAME.expected_feature.npy  (3,D) float32, the input of the final Linear (forward hook)
  NAME.expected_head_input.npy
                             (3,F) float32, the input of the FIRST Linear of the trailing
                             Linear chain (where backbone ends). Same as expected_feature
                             except for mobilenet_v3_*, whose classifier is
                             Linear -> Hardswish -> Dropout -> Linear.
"""
import argparse
import hashlib
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision

MEAN = (0.485, 0.456, 0.406)  # ImageNet, in [0, 1] units, RGB
STD = (0.229, 0.224, 0.225)
SIZE = 224
TEST_IMAGES = 3
CALIBRATION_IMAGES = 16  # random images that set the BatchNorm running statistics

# name -> (constructor, seed). One seed per model so adding or dropping a model from
# --models leaves the others' files unchanged.
MODELS = {
    "resnet18": (torchvision.models.resnet18, 1018),
    "resnet50": (torchvision.models.resnet50, 1050),
    "mobilenet_v2": (torchvision.models.mobilenet_v2, 2002),
    "mobilenet_v3_small": (torchvision.models.mobilenet_v3_small, 3003),
    "mobilenet_v3_large": (torchvision.models.mobilenet_v3_large, 3004),
}

# One model per family of general graphs (--families): concatenations, transposes,
# attention, LayerNorm, GELU, strided slices, ceil-mode pooling.
FAMILIES = {
    "vit_b_32": (torchvision.models.vit_b_32, 4032),
    "swin_t": (torchvision.models.swin_t, 4101),
    "convnext_tiny": (torchvision.models.convnext_tiny, 4201),
    "maxvit_t": (torchvision.models.maxvit_t, 4301),
    "densenet121": (torchvision.models.densenet121, 4401),
    "shufflenet_v2_x1_0": (torchvision.models.shufflenet_v2_x1_0, 4501),
    "squeezenet1_0": (torchvision.models.squeezenet1_0, 4601),
    "googlenet": (torchvision.models.googlenet, 4701),
    "inception_v3": (torchvision.models.inception_v3, 4801),
    "vgg11": (torchvision.models.vgg11, 4901),
    "alexnet": (torchvision.models.alexnet, 5001),
}
SIZES = {"inception_v3": 299}  # input side where it is not SIZE

# --all: every classification model of torchvision (0.14: 80) that Debian's torch exports
# at opset 13 into one file. Left out, with why:
NOT_EXPORTABLE = {
    "swin_v2_t": "aten::zero has no ONNX export in torch 1.13",
    "swin_v2_s": "aten::zero has no ONNX export in torch 1.13",
    "swin_v2_b": "aten::zero has no ONNX export in torch 1.13",
    "vit_h_14": "over 2 GB, the protobuf limit of a single ONNX file",
    "regnet_y_128gf": "over 2 GB, the protobuf limit of a single ONNX file",
}


def all_models():
    """name -> (constructor, seed) for every exportable classification model."""
    out = {}
    for name in torchvision.models.list_models(module=torchvision.models):
        if name not in NOT_EXPORTABLE:
            out[name] = (torchvision.models.get_model_builder(name), 6000 + sum(map(ord, name)))
    return out


def trailing_linears(model):
    """The Linear modules of the classifier chain at the end of the model, in order.

    torchvision's resnets end in `fc`, mobilenets in `classifier` (a Sequential of
    Dropout/Linear/activation). Everything after the global pool is in there."""
    if isinstance(model, torchvision.models.SqueezeNet):
        return [model.classifier[1]]  # a 1x1 conv classifier: its input is the "feature"
    for attr in ("fc", "heads", "head", "classifier"):
        tail = getattr(model, attr, None)
        if isinstance(tail, nn.Module):
            break
    linears = [m for m in tail.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise SystemExit(f"no Linear in the classifier of {type(model).__name__}")
    return linears


def make_inputs(seed, count):
    """(count,224,224,3) float32 NHWC: random integer pixels in [0,255], normalised per channel."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(count, SIZE, SIZE, 3), dtype=np.uint8)
    mean = np.asarray(MEAN, dtype=np.float32)
    std = np.asarray(STD, dtype=np.float32)
    return ((pixels.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)


def randomise_weights(model, seed, images=None):
    """Gives BatchNorm affine parameters and zero-initialised conv biases random values,
    then sets the BatchNorm running statistics from `images` ((N,224,224,3) float32 NHWC,
    normalised; random images when None; see the docstring)."""
    generator = torch.Generator().manual_seed(seed)
    batch_norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in batch_norms:
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=generator) + 0.5)
            bn.bias.copy_((torch.rand(bn.bias.shape, generator=generator) - 0.5) * 0.5)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        for conv in model.modules():
            if isinstance(conv, nn.Conv2d) and conv.bias is not None:
                conv.bias.copy_((torch.rand(conv.bias.shape, generator=generator) - 0.5) * 0.2)
        # Transformers: LayerNorm is the identity at init (gamma 1, beta 0), ViT's head and
        # some biases start at zero, ConvNeXt's layer scale at 1e-6: a converter that
        # dropped any of them would still pass. Random values make each one count.
        for module in model.modules():
            if isinstance(module, nn.LayerNorm) and module.elementwise_affine:
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_((torch.rand(module.bias.shape, generator=generator) - 0.5) * 0.5)
            if isinstance(module, nn.Linear):
                if module.weight.abs().max() == 0:
                    bound = 1.0 / module.in_features ** 0.5
                    module.weight.copy_((torch.rand(module.weight.shape, generator=generator) * 2 - 1) * bound)
                if module.bias is not None:
                    module.bias.copy_((torch.rand(module.bias.shape, generator=generator) - 0.5) * 0.2)
        for name, parameter in model.named_parameters():
            if name.endswith("layer_scale"):
                parameter.copy_(torch.rand(parameter.shape, generator=generator) * 0.5 + 0.25)
        model.train()
        if images is None:
            images = make_inputs(seed + 1, CALIBRATION_IMAGES)
        for i in range(0, len(images), 8):
            model(torch.from_numpy(images[i:i + 8]).permute(0, 3, 1, 2).contiguous())
    model.eval()


def add_metadata(model_proto):
    for key, value in {
        "edgeclr.input_size": f"{SIZE}x{SIZE}",
        "edgeclr.channels": "3",
        "edgeclr.mean": ",".join(str(v) for v in MEAN),
        "edgeclr.std": ",".join(str(v) for v in STD),
        "edgeclr.resize": "stretch",
    }.items():
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value


def op_counts(model_proto):
    counts = {}
    for node in model_proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


# --dynamic: the same model also exported as other tools write it, with symbolic axes.
DYNAMIC_AXES = {
    "dyn-batch": {"image": {0: "N"}, "output": {0: "N"}},
    "dyn-nhw": {"image": {0: "N", 2: "H", 3: "W"}, "output": {0: "N"}},
}


def export_one(name, out_dir, opset, dynamic=False):
    global SIZE
    SIZE = SIZES.get(name, 224)
    known = {**MODELS, **FAMILIES}
    constructor, seed = known[name] if name in known else all_models()[name]
    timings = {}
    start = time.time()
    torch.manual_seed(seed)
    model = constructor(weights=None)
    randomise_weights(model, seed)
    timings["build"] = time.time() - start

    # Reference outputs: float32, eval mode, exactly as the model runs.
    start = time.time()
    inputs = make_inputs(seed, TEST_IMAGES)
    linears = trailing_linears(model)
    captured = {}

    def capture(key):
        def hook(_module, args, _output):
            captured[key] = args[0].detach().clone()
        return hook

    hooks = [linears[-1].register_forward_hook(capture("feature")),
             linears[0].register_forward_hook(capture("head_input"))]
    with torch.no_grad():
        output = model(torch.from_numpy(inputs).permute(0, 3, 1, 2).contiguous())
    for h in hooks:
        h.remove()
    arrays = {
        "inputs": inputs,
        "expected": output.numpy().astype(np.float32),
        "expected_feature": captured["feature"].numpy().astype(np.float32),
        "expected_head_input": captured["head_input"].numpy().astype(np.float32),
    }
    for suffix, array in arrays.items():
        np.save(os.path.join(out_dir, f"{name}.{suffix}.npy"), array)
    timings["reference"] = time.time() - start

    start = time.time()
    path = os.path.join(out_dir, f"{name}.onnx")
    # nn.MultiheadAttention (ViT) takes a fused fast path without an ONNX export under
    # no_grad in eval mode; with grad enabled it takes the plain path (same function).
    with torch.enable_grad() if name.startswith("vit_") else torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), path, input_names=["image"],
                          output_names=["output"], opset_version=opset, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL)
    if dynamic:
        for suffix, axes in DYNAMIC_AXES.items():
            dynamic_path = os.path.join(out_dir, f"{name}.{suffix}.onnx")
            with torch.no_grad():
                torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), dynamic_path, input_names=["image"],
                                  output_names=["output"], opset_version=opset, do_constant_folding=True,
                                  training=torch.onnx.TrainingMode.EVAL, dynamic_axes=axes)
            dynamic_proto = onnx.load(dynamic_path)
            add_metadata(dynamic_proto)
            onnx.checker.check_model(dynamic_proto)
            onnx.save(dynamic_proto, dynamic_path)
    timings["export"] = time.time() - start

    start = time.time()
    proto = onnx.load(path)
    add_metadata(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    timings["check"] = time.time() - start

    ranges = ", ".join(f"{k} std {v.std():.3g}" for k, v in arrays.items() if k != "inputs")
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())
    params = sum(p.numel() for p in model.parameters())
    total = sum(timings.values())
    print(f"{name}: {params} parameters, {len(linears)} trailing Linear(s); {shapes}", flush=True)
    print(f"  {ranges}", flush=True)
    print(f"  {path}: {os.path.getsize(path)} bytes, {len(proto.graph.node)} nodes", flush=True)
    print("  ops: " + ", ".join(f"{op} x{n}" for op, n in op_counts(proto).items()), flush=True)
    print("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) + f", total {total:.1f}",
          flush=True)
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated subset of: " + ", ".join({**MODELS, **FAMILIES}))
    parser.add_argument("--keep-existing", action="store_true",
                        help="skip a model whose files a run of this same script (its sha256 in "
                             "NAME.stamp) already wrote into OUT_DIR, so several builds share one export")
    parser.add_argument("--all", action="store_true",
                        help="every torchvision classification model that exports (models/zoo/sweep.py)")
    parser.add_argument("--families", action="store_true",
                        help="the one-per-family general graphs instead: " + ", ".join(FAMILIES))
    parser.add_argument("--opset", type=int, default=13)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--dynamic", action="store_true",
                        help="also write NAME.dyn-batch.onnx (symbolic batch) and NAME.dyn-nhw.onnx "
                             "(symbolic batch, height and width), as torch.onnx.export(dynamic_axes=...) does")
    args = parser.parse_args()
    names = list(FAMILIES) if args.families else [n for n in args.models.split(",") if n]
    if args.all:
        names = list(all_models())
    unknown = [n for n in names if n not in MODELS and n not in FAMILIES and n not in all_models()]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    torch.set_num_threads(args.threads)
    os.makedirs(args.out_dir, exist_ok=True)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, onnx {onnx.__version__}, "
          f"opset {args.opset}, {torch.get_num_threads()} threads", flush=True)
    start = time.time()
    with open(os.path.abspath(__file__), "rb") as script:
        # Not the torch version: the Debian 13 build reads the files Debian 12's torch wrote
        # (as it does the photo model), so both builds are checked on the same graphs.
        stamp = hashlib.sha256(script.read()).hexdigest() + f" opset {args.opset}\n"
    for name in names:
        stamp_path = os.path.join(args.out_dir, f"{name}.stamp")
        if args.keep_existing and os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
            print(f"{name}: kept (exported by this script before)", flush=True)
            continue
        export_one(name, args.out_dir, args.opset, args.dynamic)
        with open(stamp_path, "w") as f:
            f.write(stamp)
    print(f"done: {len(names)} model(s) in {time.time() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
