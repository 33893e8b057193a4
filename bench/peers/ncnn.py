"""ncnn (Tencent, CPU, the pip `ncnn` package) as a peer; models converted with pnnx.

fp32: `pnnx model.onnx inputshape=[1,C,H,W]f32 fp16=0` -> model.ncnn.param + .ncnn.bin.
  pnnx is fed the ONNX file, not a TorchScript trace of job.torch_module(): from ONNX it
  emits the graph ncnn wants (HardSwish and HardSigmoid layers, Conv+ReLU fused, SE blocks
  as InnerProduct: 123 layers for mobilenet_v3_small), while a trace of the onnx2torch
  module comes out as 218 layers (hard-sigmoid split into BinaryOp+Clip, pooling as
  Reduction), and torch.jit.trace is deprecated. fp16=0 keeps the weights fp32 in the .bin
  (pnnx's default is fp16 weights).
int8: Unavailable. ncnn's int8 path is ncnn2table (calibration) + ncnn2int8 (rewrites
  Convolution/InnerProduct with int8 weights and scales); neither is in the ncnn wheel
  (only the runtime: Option.use_int8_inference, quantize_to_int8 for a Mat) nor in the
  pnnx wheel (pnnx's options are fp16=0/1 only; it reads PyTorch-quantized modules into its
  own IR but its ncnn writer has no int8 layers). The same for the transformers: ncnn has
  no weight-only or run-time-quantized int8 mode that works without ncnn2int8 rewriting
  the weights first, so they are fp32 only here too.
load: net.opt.num_threads = threads, set before load_param; fp16/bf16 storage, packing and
  arithmetic off, so the fp32 row is fp32 throughout (ncnn turns fp16 storage, packing and
  arithmetic on by default; on this CPU that moved resnet18's output by up to 6.6e-4,
  against 2.7e-6 from PyTorch with them off); no Vulkan.

Traps: pnnx writes its IR, a simplified ONNX and two .py scripts next to its input, so
it runs on a copy inside out_dir with every output named there, and all but the
.ncnn.param/.ncnn.bin (and pnnx's log) are deleted afterwards. This
module is peers/ncnn.py, so `import ncnn` must resolve to the package: never put
bench/peers itself on sys.path.
"""
import os
import shutil
import subprocess

import numpy as np
import ncnn

from . import Unavailable

NAME = "ncnn"


def version():
    return ncnn.__version__


def _pnnx_exe():
    # the pnnx package's own executable, found without importing the package (that imports torch)
    import importlib.util
    spec = importlib.util.find_spec("pnnx")
    if spec is None:
        raise Unavailable("the pnnx package is not installed")
    return os.path.join(spec.submodule_search_locations[0], "pnnx")


def convert(job):
    if job.precision == "int8":
        raise Unavailable("ncnn's int8 tools (ncnn2table, ncnn2int8) are in neither the ncnn "
                          "nor the pnnx PyPI wheel, and pnnx has no int8 option"
                          + ("; without them ncnn has no dynamic or weight-only int8 either"
                             if job.int8_scheme == "dynamic" else ""))
    if job.precision != "fp32":
        raise Unavailable(f"no {job.precision} recipe for ncnn")
    import onnx
    dims = [d.dim_value for d in onnx.load(job.onnx, load_external_data=False)
            .graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or not all(dims):
        raise Unavailable(f"pnnx needs a fixed 4-D input shape, the ONNX has {dims}")
    stem = os.path.join(job.out_dir, job.name)
    src = stem + ".onnx"
    shutil.copyfile(job.onnx, src)
    cmd = [_pnnx_exe(), src, "inputshape=[%s]f32" % ",".join(map(str, dims)), "fp16=0",
           "pnnxparam=" + stem + ".pnnx.param", "pnnxbin=" + stem + ".pnnx.bin",
           "pnnxpy=" + stem + "_pnnx.py", "pnnxonnx=" + stem + ".pnnx.onnx",
           "ncnnparam=" + stem + ".ncnn.param", "ncnnbin=" + stem + ".ncnn.bin",
           "ncnnpy=" + stem + "_ncnn.py"]
    r = subprocess.run(cmd, cwd=job.out_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    with open(stem + ".pnnx.log", "w") as f:
        f.write(r.stdout)
    param = stem + ".ncnn.param"
    if r.returncode != 0 or not os.path.exists(param) or not os.path.exists(stem + ".ncnn.bin"):
        tail = r.stdout.strip().splitlines()[-3:]
        raise Unavailable(f"pnnx failed (exit {r.returncode}): {' | '.join(tail)}")
    for leftover in (src, stem + ".pnnx.param", stem + ".pnnx.bin", stem + ".pnnx.onnx",
                     stem + ".pnnxsim.onnx", stem + "_pnnx.py", stem + "_ncnn.py"):
        if os.path.exists(leftover):
            os.remove(leftover)   # pnnx's IR, weight copies and scripts: nothing loads them
    return param


class Runner:
    def __init__(self, param, threads):
        net = ncnn.Net()
        opt = net.opt
        opt.num_threads = threads
        opt.use_vulkan_compute = False
        for flag in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic",
                     "use_bf16_storage", "use_bf16_packed"):
            setattr(opt, flag, False)
        if net.load_param(param) != 0 or net.load_model(param[:-len(".param")] + ".bin") != 0:
            raise Unavailable(f"ncnn could not load {param}")
        self._net = net
        self._in = net.input_names()[0]
        self._out = net.output_names()[0]

    def run(self, x):
        ex = self._net.create_extractor()
        ex.input(self._in, ncnn.Mat(np.ascontiguousarray(x[0])))
        ret, y = ex.extract(self._out)
        if ret != 0:
            raise RuntimeError(f"ncnn extract {self._out} returned {ret}")
        return np.array(y, dtype=np.float32).reshape(-1)


def load(path, threads):
    return Runner(path, threads)
