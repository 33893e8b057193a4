#!/usr/bin/python3
"""Export small PyTorch models, one per operator or exporter pattern, as converter tests.

usage: /usr/bin/python3 models/zoo/export_ops.py OUT_DIR

Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx). Nothing is downloaded;
weights come from a fixed seed. Each model NAME is a 3x3 conv stem (3 -> 8 channels on a
16x16 image) followed by what it tests, and writes in OUT_DIR:

  NAME.onnx           input "image" [1,3,16,16] (the batch dynamic for dyn_* models)
  NAME.inputs.npy     (3,16,16,3) float32 NHWC inputs
  NAME.expected.npy   (3,K) float32: PyTorch's output per input, a feature map flattened
                      in NHWC order (H, W, C), as edgeclr flattens a spatial feature

The list of names is written to OUT_DIR/ops.txt. The converter test converts each file,
runs it through edgeclr's runtime and compares with PyTorch.
"""
import argparse
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

SIZE = 16
TEST_IMAGES = 3


class Stem(nn.Module):
    """Two 3x3 convs of the image, so that binary ops see two different tensors."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(3, 8, 3, padding=1)


class Sub(Stem):
    def forward(self, x):
        return self.a(x) - self.b(x)


class SubConstantFirst(Stem):
    def forward(self, x):
        return 1.5 - self.a(x)


class Div(Stem):
    def forward(self, x):
        return self.a(x) / (torch.sigmoid(self.b(x)) + 0.5)


class DivConstantFirst(Stem):
    def forward(self, x):
        return 2.0 / (torch.sigmoid(self.a(x)) + 0.5)


class MaxMin(Stem):
    def forward(self, x):
        a, b = self.a(x), self.b(x)
        return torch.maximum(a, b) + 0.5 * torch.minimum(a, b)


class PReluChannel(Stem):
    def __init__(self):
        super().__init__()
        self.act = nn.PReLU(8)
        with torch.no_grad():
            self.act.weight.copy_(torch.linspace(-0.5, 0.8, 8))

    def forward(self, x):
        return self.act(self.a(x))


class PReluSingle(Stem):
    def __init__(self):
        super().__init__()
        self.act = nn.PReLU(1, init=0.2)

    def forward(self, x):
        return self.act(self.a(x))


class Elu(Stem):
    def forward(self, x):
        return F.elu(self.a(x), alpha=0.7)


class SiLU(Stem):  # exported as x * Sigmoid(x)
    def forward(self, x):
        return F.silu(self.a(x))


class HardSigmoidSpelled(Stem):  # Add, Clip(0, 6), Div by 6, as exporters write it
    def forward(self, x):
        a = self.a(x)
        return F.relu6(a + 3.0) / 6.0 * self.b(x)


class StandaloneBatchNorm(Stem):  # a BatchNormalization with no Conv before it
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(8)
        with torch.no_grad():
            self.bn.running_mean.copy_(torch.linspace(-0.2, 0.3, 8))
            self.bn.running_var.copy_(torch.linspace(0.5, 2.0, 8))
            self.bn.weight.copy_(torch.linspace(0.7, 1.3, 8))
            self.bn.bias.copy_(torch.linspace(-0.1, 0.1, 8))

    def forward(self, x):
        return self.bn(self.a(x) + self.b(x))


class FlattenView(Stem):  # x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = F.adaptive_avg_pool2d(F.relu(self.a(x)), 1)
        return self.fc(y.view(y.size(0), -1))


class ConcatChannels(Stem):  # torch.cat on the channel axis of NCHW maps (DenseNet, Inception)
    def forward(self, x):
        return torch.cat([self.a(x), F.relu(self.b(x))], 1)


class ChannelShuffle(Stem):  # ShuffleNetV2: reshape to 5-D, transpose, reshape back
    def forward(self, x):
        y = self.a(x)
        n, c, h, w = y.shape
        return y.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


class MaxPoolCeil(Stem):  # ceil_mode: 16 -> 8 with a window that starts on the last pixel
    def forward(self, x):
        return F.max_pool2d(self.a(x), 3, 2, ceil_mode=True)


class StridedSlice(Stem):  # Swin's patch merging: x[..., 0::2, 1::2] and friends
    def forward(self, x):
        y = self.a(x)
        return torch.cat([y[:, :, 0::2, 1::2], y[:, :, 1::2, 0::2]], 1)


class LayerNormNHWC(Stem):  # ConvNeXt: permute to NHWC, LayerNorm over C, permute back
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        with torch.no_grad():
            self.norm.weight.copy_(torch.linspace(0.5, 1.5, 8))
            self.norm.bias.copy_(torch.linspace(-0.3, 0.3, 8))

    def forward(self, x):
        return self.norm(self.a(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class GeluErf(Stem):
    def forward(self, x):
        return F.gelu(self.a(x))


class GeluTanh(Stem):
    def forward(self, x):
        return F.gelu(self.a(x), approximate="tanh")


class Attention(Stem):  # one head over the 256 pixels as tokens, then the mean token
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        t = self.a(x).flatten(2).transpose(1, 2)  # [N, 256, 8]
        weights = torch.softmax(self.q(t) @ self.k(t).transpose(1, 2) / 8 ** 0.5, dim=-1)
        return (weights @ self.v(t)).mean(1)


class AttentionEinsum(Stem):  # two heads, batched products as Einsum (MaxViT's spelling)
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(8, 24)

    def forward(self, x):
        t = self.a(x).flatten(2).transpose(1, 2)  # [N, 256, 8]
        q, k, v = self.qkv(t).reshape(t.shape[0], 256, 3, 2, 4).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(torch.einsum("bhid,bhjd->bhij", q, k), dim=-1)
        return torch.einsum("bhij,bhjd->bhid", weights, v).mean(2).flatten(1)


class ClassToken(Stem):  # ViT: a class token before the patches, position embeddings, token 0
    def __init__(self):
        super().__init__()
        self.cls = nn.Parameter(torch.linspace(-1, 1, 8).reshape(1, 1, 8))
        self.pos = nn.Parameter(torch.randn(1, 257, 8) * 0.1)
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        t = self.a(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos
        return self.norm(t)[:, 0]


class ResizedEmbedding(Stem):  # DINOv2: position embeddings resized in the graph, folded to a constant
    MODE = "bicubic"

    def __init__(self):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(1, 8, 5, 7))

    def forward(self, x):
        kwargs = {} if self.MODE == "nearest" else {"align_corners": False}
        return self.a(x) + F.interpolate(self.pos, size=x.shape[2:], mode=self.MODE, **kwargs)


class ResizedEmbeddingLinear(ResizedEmbedding):
    MODE = "bilinear"


class ResizedEmbeddingNearest(ResizedEmbedding):
    MODE = "nearest"


class LayerNormOp17(LayerNormNHWC):  # exported at opset 17: ONNX's own LayerNormalization op
    OPSET = 17


# name -> (module class, dynamic batch, initializers as Constant nodes)
MODELS = {
    "sub": (Sub, False, False),
    "sub_constant_first": (SubConstantFirst, False, False),
    "div": (Div, False, False),
    "div_constant_first": (DivConstantFirst, False, False),
    "max_min": (MaxMin, False, False),
    "prelu_channel": (PReluChannel, False, False),
    "prelu_single": (PReluSingle, False, False),
    "elu": (Elu, False, False),
    "silu": (SiLU, False, False),
    "hard_sigmoid_spelled": (HardSigmoidSpelled, False, False),
    "standalone_batch_norm": (StandaloneBatchNorm, False, False),
    "dyn_flatten_view": (FlattenView, True, False),
    "constant_nodes_prelu": (PReluChannel, False, True),  # weights as TF/Paddle exports write them
    # General graphs: these need XNNPACK 2024 to run (a Debian 12 build checks the refusal).
    "concat_channels": (ConcatChannels, False, False),
    "channel_shuffle": (ChannelShuffle, False, False),
    "maxpool_ceil": (MaxPoolCeil, False, False),
    "strided_slice": (StridedSlice, False, False),
    "layer_norm_nhwc": (LayerNormNHWC, False, False),
    "gelu_erf": (GeluErf, False, False),
    "gelu_tanh": (GeluTanh, False, False),
    "attention": (Attention, False, False),
    "attention_einsum": (AttentionEinsum, False, False),
    "class_token": (ClassToken, False, False),
    "resize_cubic": (ResizedEmbedding, False, False),
    "resize_linear": (ResizedEmbeddingLinear, False, False),
    "resize_nearest": (ResizedEmbeddingNearest, False, False),
    "layer_norm_op17": (LayerNormOp17, False, False),
}


def initializers_to_constants(model):
    """Moves every initializer into a Constant node at the front of the graph."""
    nodes = []
    for init in model.graph.initializer:
        nodes.append(onnx.helper.make_node("Constant", [], [init.name], value=init, name=f"const_{init.name}"))
    del model.graph.initializer[:]
    graph_nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes + graph_nodes)


def export(name, out_dir):
    cls, dynamic, constant_nodes = MODELS[name]
    torch.manual_seed(sum(map(ord, name)))
    model = cls().eval()
    inputs = torch.rand(TEST_IMAGES, 3, SIZE, SIZE) * 4.0 - 2.0
    with torch.no_grad():
        expected = model(inputs)
    if expected.dim() == 4:
        expected = expected.permute(0, 2, 3, 1)
    path = os.path.join(out_dir, f"{name}.onnx")
    axes = {"image": {0: "N"}, "output": {0: "N"}} if dynamic else None
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), path, input_names=["image"], output_names=["output"],
                      opset_version=getattr(cls, "OPSET", 13), do_constant_folding=not dynamic, dynamic_axes=axes,
                      training=torch.onnx.TrainingMode.EVAL)
    proto = onnx.load(path)
    if constant_nodes:
        initializers_to_constants(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    np.save(os.path.join(out_dir, f"{name}.inputs.npy"), inputs.permute(0, 2, 3, 1).contiguous().numpy())
    np.save(os.path.join(out_dir, f"{name}.expected.npy"), expected.reshape(TEST_IMAGES, -1).numpy())
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"{name}: {len(proto.graph.node)} nodes ({', '.join(ops)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for name in MODELS:
        export(name, args.out_dir)
    with open(os.path.join(args.out_dir, "ops.txt"), "w") as f:
        f.write("\n".join(MODELS) + "\n")


if __name__ == "__main__":
    main()
