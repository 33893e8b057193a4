"""MNN (Alibaba, CPU backend, the pip `MNN` package) as a peer.

fp32: MNNConvert -f ONNX --modelFile job.onnx --MNNModel name.mnn --bizCode MNN
  (input stays NCHW: keepInputFormat is the default).
int8: MNN's offline quantization tool (quantized.out) on that fp32 .mnn: KL calibration of
  activations (feature_quantize_method "KL"), weights MAX_ABS symmetric, per output
  channel (what the tool does for Convolution/ConvolutionDepthwise in KL mode; ops it does
  not quantize stay float). Calibration: the tool's raw-input mode, "input_type":
  "sequence": path/<NNNN>/<input name>.txt holds one job.calibration tensor as text
  (NCHW order, %.9g, float32-exact) plus an input.json with its shape. No image decoding,
  resizing, mean or normal is applied, so the tool sees exactly our preprocessed tensors
  (its image mode would need them squeezed into 8-bit files). The text files are deleted
  afterwards.
int8 of a transformer (job.int8_scheme "dynamic"): MNN's weight quantization, the int8
  mode its LLM and transformer tooling uses: MNNConvert ... --weightQuantBits 8 (int8
  weights, symmetric, one scale per output channel: --weightQuantBlock is unset; every
  Convolution and MatMul by constant weights: dinov2's file shrinks from 88.5 to 24.5 MB) ->
  NAME.wq8.mnn, run with the runtime's memory mode "low" (MNN_LOW_MEMORY is built into the
  wheel: BackendConfig::Memory_Low), in which the CPU backend keeps the weights int8 and
  quantizes each layer's input when it runs (its DynamicQuant path, int8 GEMM). In the
  default memory mode MNN dequantizes such weights to fp32 when it loads the model
  (then it runs at fp32 speed: a smaller file, not int8 arithmetic). No calibration.
load: MNN.nn.create_runtime_manager({"backend": "CPU", "numThread": threads,
  "precision": "high"}) and load_module_from_file(..., shape_mutable=False) (the shape is
  fixed, batch 1). "high" because it means fp32 on every CPU; "normal" allows fp16
  arithmetic where the CPU has it (ARMv8.2). On this x86 build the two (and "low") give
  bit-identical outputs, as MNN reports "fp16:0". A .wq8.mnn file adds "memory": 2
  (Memory_Low; the Python binding takes the enum's value).

Traps:
  - MNN 3.6.1's Python tools (the mnnconvert/mnnquant console scripts, anything that
    imports MNN.tools) import MNN/tools/utils/log.py, which at import time runs
    os.system("pip install -U aliyun-log-python-sdk") with whatever pip is first on PATH
    (here pyenv's global one) and fetches an upload token from an Alibaba Cloud URL, and
    after each conversion or quantization posts a usage log (machine-id, model uuid,
    arguments, sizes). There is no opt-out switch. So the tools run here as the C++
    extension `_tools` alone (a top-level module, not MNN.tools._tools), in a child process
    where importing MNN.tools is made to fail and pip is told not to reach any index.
  - `_tools.mnnquant` takes one argv list; MNN's own wrapper passes three strings, and that
    aborts with std::length_error (the mnnquant console script cannot work).
  - In sequence mode each sample folder needs its input.json, or the tool segfaults.
  - The C++ tools abort or segfault on bad input, hence the child process.
  - The PyPI wheel's x86 kernels stop at AVX2 (no AVX512/VNNI int8 backend), so its int8
    models ran slower than its fp32 ones on this Xeon (CPU time, 1 thread: resnet18 ~40 vs
    ~31 ms, mobilenet_v3_small ~9 vs ~3 ms); that is MNN's result here, not a recipe bug.
    The same holds for the dynamic path (dinov2, 1 thread, a busy machine: ~170 ms in
    memory "low" against ~125 ms for the fp32 file and for the .wq8.mnn in the default mode).
  - `import MNN` prints "The device supports: ..." to stdout.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from . import Unavailable

sys.modules.setdefault("MNN.tools", None)   # see Traps: nothing in this process may import it

import MNN  # noqa: E402  (MNN/__init__ does not import MNN.tools)

NAME = "MNN"
WEIGHT_QUANTIZED = ".wq8.mnn"   # the file name's end for a --weightQuantBits 8 model (run in memory "low")
MEMORY_LOW = 2                  # MNN::BackendConfig::Memory_Low

_CHILD = ("import sys; sys.modules['MNN.tools'] = None; import _tools; "
          "_tools.{fn}(['{prog}'] + sys.argv[1:])")


def version():
    return MNN.version()


def _tool(fn, prog, args, log, product):
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run([sys.executable, "-c", _CHILD.format(fn=fn, prog=prog), *args], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace")
    with open(log, "w") as f:
        f.write(r.stdout)
    if r.returncode != 0 or not os.path.exists(product):
        tail = " | ".join(line[-160:] for line in r.stdout.strip().splitlines()[-3:])
        raise Unavailable(f"MNN {prog} failed (exit {r.returncode}): {tail}")


def _onnx_input(path):
    import onnx
    g = onnx.load(path, load_external_data=False).graph
    inits = {i.name for i in g.initializer}
    i = [i for i in g.input if i.name not in inits][0]
    return i.name, [d.dim_value for d in i.type.tensor_type.shape.dim]


def convert(job):
    if job.precision not in ("fp32", "int8"):
        raise Unavailable(f"no {job.precision} recipe for MNN")
    stem = os.path.join(job.out_dir, job.name)
    if job.precision == "int8" and job.int8_scheme == "dynamic":
        weights8 = stem + WEIGHT_QUANTIZED
        _tool("mnnconvert", "MNNConvert",
              ["-f", "ONNX", "--modelFile", job.onnx, "--MNNModel", weights8, "--bizCode", "MNN",
               "--weightQuantBits", "8"], stem + ".convert.log", weights8)
        return weights8
    fp32 = stem + ".mnn"
    _tool("mnnconvert", "MNNConvert",
          ["-f", "ONNX", "--modelFile", job.onnx, "--MNNModel", fp32, "--bizCode", "MNN"],
          stem + ".convert.log", fp32)
    if job.precision == "fp32":
        return fp32
    if job.calibration is None or len(job.calibration) == 0:
        raise Unavailable("int8 needs calibration inputs")
    name, dims = _onnx_input(job.onnx)
    calib = np.ascontiguousarray(job.calibration, dtype=np.float32)
    if list(calib.shape[1:]) != dims[1:]:
        raise Unavailable(f"calibration shape {calib.shape} does not fit input {dims}")
    data = tempfile.mkdtemp(prefix="calibration.", dir=job.out_dir)
    shape = {"inputs": [{"name": name, "shape": [1, *dims[1:]]}]}
    for i, x in enumerate(calib):
        d = os.path.join(data, f"{i:04d}")
        os.mkdir(d)
        x.tofile(os.path.join(d, name + ".txt"), sep=" ", format="%.9g")
        with open(os.path.join(d, "input.json"), "w") as f:
            json.dump(shape, f)
    config = stem + ".quant.json"
    with open(config, "w") as f:
        json.dump({"path": data + "/", "used_sample_num": len(calib), "input_type": "sequence",
                   **shape, "feature_quantize_method": "KL",
                   "weight_quantize_method": "MAX_ABS", "feature_clamp_value": 127,
                   "weight_clamp_value": 127, "quant_bits": 8}, f, indent=1)
    int8 = stem + ".int8.mnn"
    try:
        _tool("mnnquant", "quantized.out", [fp32, int8, config], stem + ".quant.log", int8)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return int8


class Runner:
    def __init__(self, path, threads):
        import MNN.expr as F
        import MNN.nn as nn
        self._F = F
        config = {"backend": "CPU", "numThread": threads, "precision": "high"}
        if path.endswith(WEIGHT_QUANTIZED):
            config["memory"] = MEMORY_LOW
        rt = nn.create_runtime_manager((config,))
        self._net = nn.load_module_from_file(path, [], [], runtime_manager=rt,
                                             shape_mutable=False)
        if self._net is None:
            raise Unavailable(f"MNN could not load {path}")

    def run(self, x):
        F = self._F
        y = self._net.forward(F.const(x, list(x.shape), F.NCHW))
        if y.data_format == F.NC4HW4:
            y = F.convert(y, F.NCHW)
        return np.array(y.read(), dtype=np.float32).reshape(-1)


def load(path, threads):
    return Runner(path, threads)
