"""The runtimes bench/run measures edgeclr against, one module each, all with one shape.

A peer module has:

  NAME                 the runtime's name as the tables show it ("ONNX Runtime")
  version() -> str     its version, as the package reports it
  convert(job) -> str  makes the runtime's model file for `job` (a Job, below) in
                       job.out_dir and returns its path; raises Unavailable(reason) when
                       the runtime cannot do this precision or model (the reason is
                       printed in the table instead of figures)
  load(path, threads)  -> a Runner: opens the file for `threads` threads, batch 1

A Runner has run(x) -> np.ndarray: x is float32 (1, C, H, W), NCHW, preprocessed (mean
and std applied); the result is the model's output as float32, flattened. Whatever a
runtime needs around its own call (quantizing an int8 input, reordering to NHWC) is
inside run(), so it is timed as an app would pay for it.

convert() runs in a process of its own (bench/convert_peer.py) and load()/run() in
another (bench/measure.py), so a crash or a leak in one runtime touches no other.
"""
import dataclasses
from typing import Callable

import numpy as np


class Unavailable(Exception):
    """This runtime cannot run this model at this precision; str() says why."""


def why(e):
    """An exception as one short line for the tables: its class and first line."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first[:300]}"


def torch_input(image):
    """(C,H,W) -> a (1,C,H,W) float32 torch tensor of its own. A fresh copy: numpy's x[None]
    has stride 0 on the batch axis, which torch keeps and ExecuTorch refuses ("0 in strides")."""
    import torch
    return torch.from_numpy(np.asarray(image, np.float32)[None].copy())


@dataclasses.dataclass
class Job:
    name: str                 # model: resnet18, resnet50, mobilenet_v2, mobilenet_v3_small, photo, fashion,
                              # vit_b_16, dinov2 (bench/models.py)
    precision: str            # "fp32" or "int8"
    onnx: str                 # the model as ONNX: input "image" float32 [1, C, H, W], one output
    torch_module: Callable    # () -> torch.nn.Module, fp32, eval mode, the same function as onnx
    calibration: np.ndarray   # float32 (N, C, H, W): real images, preprocessed (int8; [0] is the example)
    out_dir: str              # where this runtime's files for this job go (exists, empty)
    int8_scheme: str = "static"  # int8 only: "static" (calibrated activation ranges, per-channel
                                 # weights where the runtime has them: the CNNs) or "dynamic"
                                 # (int8 weights, activations quantized when the model runs: the
                                 # transformers; bench/models.py int8_scheme)
