#!/usr/bin/python3
"""PyTorch reference of edgeclr's on-device head adaptation (backbone frozen).

usage:
  /usr/bin/python3 models/fashion/adapt_reference.py train CACHE --out DIR
  /usr/bin/python3 models/fashion/adapt_reference.py metrics --head DIR \
      (--gallery-cache CACHE | --gallery G.npy --gallery-labels GL.npy) \
      --test T.npy --test-labels TL.npy

Run it with Debian's /usr/bin/python3 (python3-torch 1.13, numpy). One thread. It checks
edgeclr's implementation: the same head, trained here on edgeclr's own feature cache
(`edgeclr adapt --groups DIR --save-cache CACHE`), must reach the same metrics.

`train` reads CACHE/ as `edgeclr adapt --save-cache` writes it:
  features.npy   float32 (rows, 256)  backbone features, computed once by edgeclr
  labels.npy     float32 (rows, 1)    group (class) of each row
  split.npy      float32 (rows, 1)    0 = training image, 1 = an augmented view of the
                                      training image before it, 2 = held-out image,
                                      3 = a view of a held-out image (unused)
  head_w1.npy head_b1.npy head_w2.npy head_b2.npy
                 float32              the shipped head, PyTorch Linear layout (out, in)
  options.json   temperature, lr, epochs, weight_decay, pull, batch, seed, patience,
                 min_improvement (and optionally freeze_first, for experiments)
and writes DIR/head_{w1,b1,w2,b2}.npy (the accepted head: the shipped one when the
adaptation is rejected) and DIR/log.json (per-epoch validation, best epoch, accepted).

The algorithm, as runtime/src/adapt/adapt_trainer.cpp (only the random order differs):
  * Training items (an image, split 0, and its views) are shuffled each epoch and packed
    whole into batches of at most `batch` rows. Per batch: z = normalize(W2 relu(W1 f +
    b1) + b2); SupCon (Khosla L_out, temperature T).
  * Adam (PyTorch rule); each gradient gets weight_decay * w + pull * (w - w_shipped)
    added first. Learning rate lr * 0.5 * (1 + cos(pi * step / (total - 1))), total =
    epochs * batches per epoch.
  * Validation after every epoch (and for the shipped head, "epoch 0"): each held-out
    image (split 2) against the class means of the training images (split 0):
    val_loss = cross-entropy of cosine / T, val_acc = nearest mean is right.
  * Best = lowest val_loss, by at least min_improvement of the best so far, among epochs
    whose val_acc >= the shipped head's; stop after `patience` epochs without a new
    best; accept the best if there is one, else keep the shipped head.

`metrics` prints JSON {nn1, prototype, recall_at_1} for a head (DIR/head_*.npy) on
gallery/test features (float32 (n,256)) and labels (int): nn1 = label of the most
similar gallery embedding; prototype = nearest class mean of the normalised gallery
embeddings; recall_at_1 = the nearest other test embedding has the same label.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

NAMES = ("w1", "b1", "w2", "b2")


def load_head(directory, prefix="head_"):
    """Biases may be stored as (out, 1) columns (edgeclr's --save-cache) or (out,)."""
    head = []
    for n in NAMES:
        t = np.load(os.path.join(directory, f"{prefix}{n}.npy")).astype(np.float32)
        head.append(torch.from_numpy(t.reshape(-1) if n.startswith("b") else t))
    return head


def column(path):
    """An integer column: edgeclr writes labels and split as float32 (rows, 1)."""
    return np.load(path).reshape(-1).astype(np.int64)


def save_head(head, directory):
    os.makedirs(directory, exist_ok=True)
    for n, t in zip(NAMES, head):
        np.save(os.path.join(directory, f"head_{n}.npy"), t.detach().numpy().astype(np.float32))


def embed(head, features):
    w1, b1, w2, b2 = head
    return F.normalize(F.linear(F.relu(F.linear(features, w1, b1)), w2, b2), dim=1)


def supcon(z, labels, temperature, anchors=None, contrast=None):
    """Khosla L_out. anchors/contrast: boolean masks (default all rows). Anchors are the
    anchor rows with at least one other contrast row of their label; mean over them."""
    n = len(z)
    anchors = torch.ones(n, dtype=torch.bool) if anchors is None else anchors
    contrast = torch.ones(n, dtype=torch.bool) if contrast is None else contrast
    logits = (z @ z.t()) / temperature
    valid = contrast[None, :] & ~torch.eye(n, dtype=torch.bool)
    logits = logits.masked_fill(~valid, float("-inf"))
    positive = (labels[:, None] == labels[None, :]) & valid
    count = positive.sum(1)
    use = anchors & (count > 0)
    if not use.any():
        return z.sum() * 0.0
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    per_anchor = -(log_prob.masked_fill(~positive, 0.0).sum(1)) / count.clamp(min=1)
    return per_anchor[use].mean()


def prototypes(z, labels, classes):
    return F.normalize(torch.stack([z[labels == c].mean(0) for c in classes]), dim=1)


@torch.no_grad()
def validate(head, features, labels, split, temperature):
    """As edgeclr's validate_groups: each held-out original (split 2) against the class
    means of the training originals (split 0); loss = cross-entropy of cosine / T,
    acc = the nearest mean is its class."""
    z = embed(head, features)
    held, orig = split == 2, split == 0
    classes = torch.unique(labels[orig])
    protos = prototypes(z[orig], labels[orig], classes)
    logits = z[held] @ protos.t() / temperature
    target = torch.searchsorted(classes, labels[held])
    loss = F.cross_entropy(logits.double(), target).item()
    acc = (logits.argmax(1) == target).float().mean().item()
    return loss, acc


def item_batches(split, batch, generator):
    """As edgeclr's supcon_steps: training items (an original, split 0, and the views that
    follow it, split 1) shuffled and packed whole into batches of at most `batch` rows."""
    starts = torch.nonzero(split == 0).flatten().tolist()
    items = []
    for s in starts:
        e = s + 1
        while e < len(split) and split[e] == 1:
            e += 1
        items.append(list(range(s, e)))
    order = torch.randperm(len(items), generator=generator).tolist()
    batches, current = [], []
    for i in order:
        if current and len(current) + len(items[i]) > batch:
            batches.append(current)
            current = []
        current = current + items[i]
    batches.append(current)
    return [torch.tensor(b) for b in batches]


def train_head(features, labels, split, shipped, options, on_epoch=None):
    """features (rows,256) float32, labels (rows,) int, split (rows,) uint8, shipped: 4
    tensors. Returns (accepted head as 4 tensors, log dict). on_epoch(epoch, head, entry):
    optional hook for experiments (e.g. to watch test metrics)."""
    torch.manual_seed(options["seed"])
    generator = torch.Generator().manual_seed(options["seed"])
    features = torch.as_tensor(features, dtype=torch.float32)
    labels = torch.as_tensor(labels).long()
    split = torch.as_tensor(split).long()
    T = options["temperature"]
    shipped = [t.clone() for t in shipped]
    params = [t.clone().requires_grad_(True) for t in shipped]
    trainable = params[2:] if options.get("freeze_first", False) else params
    references = {id(p): r for p, r in zip(params, shipped)}
    optimizer = torch.optim.Adam(trainable, lr=options["lr"], weight_decay=options["weight_decay"])
    rows = int((split <= 1).sum())
    batches = len(item_batches(split, options["batch"], torch.Generator().manual_seed(0)))
    total = options["epochs"] * batches
    margin = 1.0 - options.get("min_improvement", 0.0)
    has_val = bool((split == 2).any())

    start = time.time()
    val0 = validate(params, features, labels, split, T) if has_val else (float("nan"), float("nan"))
    log = {"rows": rows, "batches_per_epoch": batches, "epochs": [{"epoch": 0, "val_loss": val0[0], "val_acc": val0[1]}]}
    best, best_loss, best_epoch, wait, step = None, val0[0], 0, 0, 0
    for epoch in range(1, options["epochs"] + 1):
        total_loss = 0.0
        for index in item_batches(split, options["batch"], generator):
            loss = supcon(embed(params, features[index]), labels[index], T)
            optimizer.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in trainable:
                    p.grad.add_(p - references[id(p)], alpha=options["pull"])
            for group in optimizer.param_groups:
                group["lr"] = options["lr"] * (0.5 * (1 + math.cos(math.pi * step / (total - 1))) if total > 1 else 1.0)
            optimizer.step()
            step += 1
            total_loss += loss.item()
        entry = {"epoch": epoch, "train_loss": total_loss / batches}
        if has_val:
            entry["val_loss"], entry["val_acc"] = validate(params, features, labels, split, T)
            if entry["val_loss"] < best_loss * margin and entry["val_acc"] >= val0[1]:
                best, best_loss, best_epoch, wait = [p.detach().clone() for p in params], entry["val_loss"], epoch, 0
            else:
                wait += 1
        log["epochs"].append(entry)
        if on_epoch is not None:
            on_epoch(epoch, params, entry)
        if has_val and wait >= options["patience"]:
            break
    if not has_val:  # nothing to validate on: take the last epoch (the C++ should refuse instead)
        best, best_epoch = [p.detach().clone() for p in params], options["epochs"]
    log.update(best_epoch=best_epoch, accepted=best is not None, seconds=round(time.time() - start, 3))
    return (best if best is not None else shipped), log


@torch.no_grad()
def metrics(head, gallery, gallery_labels, test, test_labels):
    gallery_labels = torch.as_tensor(gallery_labels).long()
    test_labels = torch.as_tensor(test_labels).long()
    g = embed(head, torch.as_tensor(gallery, dtype=torch.float32))
    t = embed(head, torch.as_tensor(test, dtype=torch.float32))
    nn1 = (gallery_labels[(t @ g.t()).argmax(1)] == test_labels).float().mean().item()
    classes = torch.unique(gallery_labels)
    proto = (classes[(t @ prototypes(g, gallery_labels, classes).t()).argmax(1)] == test_labels).float().mean().item()
    hits = 0
    for i in range(0, len(t), 1000):
        sim = t[i:i + 1000] @ t.t()
        sim[torch.arange(len(sim)), torch.arange(i, i + len(sim))] = float("-inf")
        hits += (test_labels[sim.argmax(1)] == test_labels[i:i + 1000]).sum().item()
    return {"nn1": nn1, "prototype": proto, "recall_at_1": hits / len(t)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("train")
    p.add_argument("cache")
    p.add_argument("--out", required=True)
    p = sub.add_parser("metrics")
    p.add_argument("--head", required=True)
    p.add_argument("--gallery-cache", help="use the images (not the views) of an edgeclr cache as the gallery")
    p.add_argument("--gallery")
    p.add_argument("--gallery-labels")
    for name in ("--test", "--test-labels"):
        p.add_argument(name, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.mode == "train":
        c = args.cache
        with open(os.path.join(c, "options.json")) as f:
            options = json.load(f)
        head, log = train_head(np.load(os.path.join(c, "features.npy")), column(os.path.join(c, "labels.npy")),
                               column(os.path.join(c, "split.npy")), load_head(c), options)
        save_head(head, args.out)
        log["options"] = options
        with open(os.path.join(args.out, "log.json"), "w") as f:
            json.dump(log, f, indent=2)
        print(json.dumps({k: log[k] for k in ("rows", "best_epoch", "accepted", "seconds")}))
    else:
        if args.gallery_cache:
            split = column(os.path.join(args.gallery_cache, "split.npy"))
            images = (split == 0) | (split == 2)
            gallery = np.load(os.path.join(args.gallery_cache, "features.npy"))[images]
            gallery_labels = column(os.path.join(args.gallery_cache, "labels.npy"))[images]
        else:
            gallery, gallery_labels = np.load(args.gallery), column(args.gallery_labels)
        print(json.dumps(metrics(load_head(args.head), gallery, gallery_labels, np.load(args.test),
                                 column(args.test_labels))))


if __name__ == "__main__":
    main()
