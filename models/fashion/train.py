#!/usr/bin/python3
"""Train edgeclr's reference encoder on Fashion-MNIST without labels (SimCLR, NT-Xent).

usage: /usr/bin/python3 models/fashion/train.py [--epochs 10] [--out models/fashion]

Uses Debian's python3-torch, python3-torchvision and python3-onnx (run it with Debian's
own /usr/bin/python3) and the images of Debian's dataset-fashion-mnist. Labels are read
only to print a kNN accuracy at the end, as a sanity check; training never sees them.

Writes OUT/fashion.onnx (backbone + head, batch 1, input NCHW [1,1,28,28]; the exporter
folds BatchNorm into the convolutions) with the preprocessing in its metadata_props, OUT/fashion.pt (the
weights) and OUT/train-log.json (settings, per-epoch loss and seconds, machine).
"""
import argparse
import gzip
import json
import os
import platform
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # of the training images, in [0, 1] units


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project; residual when shapes match."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class Encoder(nn.Module):
    """28x28 gray -> 256-d feature (backbone) -> 128-d embedding (head)."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(),  # 14x14
            InvertedResidual(32, 32, 1, 2),
            InvertedResidual(32, 64, 2, 3),  # 7x7
            InvertedResidual(64, 64, 1, 3),
            InvertedResidual(64, 96, 1, 3),
            InvertedResidual(96, 96, 1, 3),
            nn.Conv2d(96, 256, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU6(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 128))

    def forward(self, x):
        return self.head(self.backbone(x))


def augment(x, generator):
    """Two SimCLR-style views of a batch (N,1,28,28) in [0,1]: random resized crop
    (area 0.35-1, aspect 3/4-4/3), horizontal flip, brightness/contrast jitter, noise."""
    n = x.shape[0]
    area = torch.empty(n).uniform_(0.35, 1.0, generator=generator)
    log_ratio = torch.empty(n).uniform_(np.log(3 / 4), np.log(4 / 3), generator=generator)
    ratio = torch.exp(log_ratio)
    sw = torch.sqrt(area * ratio).clamp(max=1.0)
    sh = torch.sqrt(area / ratio).clamp(max=1.0)
    tx = (torch.rand(n, generator=generator) * 2 - 1) * (1 - sw)
    ty = (torch.rand(n, generator=generator) * 2 - 1) * (1 - sh)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = sw * flip
    theta[:, 0, 2] = tx
    theta[:, 1, 1] = sh
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    brightness = torch.empty(n, 1, 1, 1).uniform_(-0.25, 0.25, generator=generator)
    contrast = torch.empty(n, 1, 1, 1).uniform_(0.6, 1.4, generator=generator)
    mean = y.mean(dim=(2, 3), keepdim=True)
    y = (y - mean) * contrast + mean + brightness
    y = y + torch.randn(y.shape, generator=generator) * 0.03
    return ((y.clamp(0, 1) - MEAN) / STD).contiguous(memory_format=torch.channels_last)


def nt_xent(z1, z2, temperature):
    """NT-Xent of SimCLR: each view's positive is the other view of the same image."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    n = z1.shape[0]
    sim.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, targets)


@torch.no_grad()
def embed_all(model, images, part):
    model.eval()
    out = []
    for i in range(0, len(images), 1000):
        x = torch.from_numpy(images[i:i + 1000]).float().div(255).unsqueeze(1)
        x = ((x - MEAN) / STD).contiguous(memory_format=torch.channels_last)
        f = model.backbone(x)
        out.append(F.normalize(f if part == "feature" else model.head(f), dim=1))
    return torch.cat(out)


def knn_accuracy(bank, bank_labels, queries, query_labels, k=20, temperature=0.07):
    """Weighted kNN (InstDisc): vote of the k most similar bank items, weight exp(sim/T)."""
    correct = 0
    bank_labels = torch.from_numpy(bank_labels.astype(np.int64))
    for i in range(0, len(queries), 500):
        sim = queries[i:i + 500] @ bank.t()
        top, index = sim.topk(k, dim=1)
        votes = torch.zeros(len(top), 10).scatter_add_(1, bank_labels[index], torch.exp(top / temperature))
        correct += (votes.argmax(1).numpy() == query_labels[i:i + 500]).sum()
    return float(correct) / len(queries)


def export_onnx(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, input_names=["image"], output_names=["embedding"], opset_version=13,
                      do_constant_folding=False)
    import onnx
    m = onnx.load(path)
    for key, value in {"edgeclr.input_size": "28x28", "edgeclr.channels": "1", "edgeclr.mean": str(MEAN),
                       "edgeclr.std": str(STD), "edgeclr.resize": "stretch"}.items():
        entry = m.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    train = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")
    images = torch.from_numpy(train).float().div(255).unsqueeze(1)
    model = Encoder().to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {params} (backbone {sum(p.numel() for p in model.backbone.parameters())})", flush=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    log = {"settings": vars(args), "parameters": params, "epochs": [],
           "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads,
                       "torch": torch.__version__}}
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        total, steps, epoch_start = 0.0, 0, time.time()
        for i in range(0, len(order) - args.batch + 1, args.batch):
            x = images[order[i:i + args.batch]]
            loss = nt_xent(model(augment(x, generator)), model(augment(x, generator)), args.temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
            if steps % 50 == 0:
                print(f"epoch {epoch + 1} step {steps} loss {total / steps:.4f} "
                      f"({time.time() - epoch_start:.0f} s)", flush=True)
        seconds = time.time() - epoch_start
        log["epochs"].append({"epoch": epoch + 1, "loss": total / steps, "seconds": round(seconds, 1)})
        print(f"epoch {epoch + 1}: loss {total / steps:.4f}, {seconds:.0f} s", flush=True)
        torch.save(model.state_dict(), os.path.join(args.out, "fashion.pt"))
    log["train_seconds"] = round(time.time() - start, 1)

    test = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    train_labels = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    test_labels = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    for part in ("feature", "embedding"):
        acc = knn_accuracy(embed_all(model, train, part), train_labels, embed_all(model, test, part), test_labels)
        log[f"pytorch_knn_{part}"] = acc
        print(f"kNN accuracy (k=20, PyTorch, {part}): {acc:.4f}", flush=True)
    export_onnx(model, os.path.join(args.out, "fashion.onnx"))
    with open(os.path.join(args.out, "train-log.json"), "w") as f:
        json.dump(log, f, indent=2)
    print("wrote", os.path.join(args.out, "fashion.onnx"), flush=True)


if __name__ == "__main__":
    main()
