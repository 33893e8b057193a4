"""ONNX Runtime (CPU execution provider) as a peer.

fp32: the job's ONNX file as it is (copied into out_dir); ORT optimizes it when loading.
int8: static post-training quantization with ORT's own tool:
  1. onnxruntime.quantization.quant_pre_process (symbolic + ONNX shape inference and
     ORT's graph optimizations, the step ORT recommends before quantize_static);
  2. quantize_static, QDQ format, MinMax calibration on job.calibration, weights QInt8
     per channel (symmetric), activations QUInt8 (asymmetric), reduce_range off.
  Why QUInt8 activations (U8S8): quantize_static's docstring recommends it for x86 with
  VNNI (this machine has AVX512-VNNI and AVX-VNNI, so no 16-bit saturation, no need for
  reduce_range's 7-bit weights), and with QInt8 activations (S8S8, the generic docs'
  "default") ORT 1.32's CPU provider fuses only part of the graph into QLinearConv: on
  resnet18 11 of 20 Convs and on mobilenet_v3_small 24 of 52 stay float between
  DequantizeLinear/QuantizeLinear, about 3x slower than U8S8 here (1 thread, short check).
  quant_pre_process changes nothing on the zoo models (BatchNorm is already folded) and is
  kept for models that need its shape inference.
int8 of a transformer (job.int8_scheme "dynamic"): dynamic quantization, which ORT's
  quantization guide recommends for transformer-based models (static for CNNs):
  1. quant_pre_process with skip_symbolic_shape=True: its symbolic shape inference fails on
     vit_b_16 (AssertionError in symbolic_shape_infer.py _infer_Reshape, `assert
     is_literal(shape_rank)`, on the attention's reshapes); the models have fixed shapes, so
     ONNX's own shape inference and ORT's graph optimizations (the rest of the step) do;
  2. quantize_dynamic(per_channel=True, reduce_range=False, weight_type=QInt8) with ORT's
     defaults otherwise: every MatMul by constant weights (MatMulConstBOnly) gets int8
     weights, symmetric, per output channel (MatMulInteger), and the Conv (the patch
     embedding) int8 weights per tensor (ConvInteger takes one weight zero point, so
     per_channel does not reach it); their inputs are quantized when the model runs
     (DynamicQuantizeLinear: uint8, asymmetric, one scale and zero point per tensor, not
     per token). QInt8 is quantize_dynamic's default weight type, and uint8 x int8 (U8S8)
     is the form ORT's x86 integer GEMM takes to the VNNI dot-product instructions (other
     pairs are sign-flipped into it). reduce_range (7-bit weights) is for x86 without VNNI,
     whose U8S8 instruction can saturate; the machines bench/run was run on have VNNI (its
     CPU line lists the flags). The CPU provider fuses the quantize + MatMulInteger
     + scale into DynamicQuantizeMatMul / MatMulIntegerToFloat when it loads the model.
     No calibration: nothing is static.
load: intra_op_num_threads=threads, inter_op_num_threads=1, sequential execution,
ORT_ENABLE_ALL graph optimizations, CPU provider only.

Traps: this module is named onnxruntime.py inside the peers package, so `import
onnxruntime` works only because peers is a package with absolute imports (never put
bench/peers itself on sys.path).
"""
import os
import shutil

import numpy as np
import onnxruntime as ort

from . import Unavailable

NAME = "ONNX Runtime"


def version():
    return ort.__version__


class _Calibration:
    """onnxruntime.quantization.CalibrationDataReader over job.calibration, one image a call."""

    def __init__(self, images, input_name):
        self._images = np.ascontiguousarray(images, dtype=np.float32)
        self._name = input_name
        self._i = 0

    def get_next(self):
        if self._i >= len(self._images):
            return None
        x = self._images[self._i:self._i + 1]
        self._i += 1
        return {self._name: x}

    def rewind(self):
        self._i = 0


def convert(job):
    if job.precision == "fp32":
        path = os.path.join(job.out_dir, job.name + ".onnx")
        shutil.copyfile(job.onnx, path)
        return path
    if job.precision != "int8":
        raise Unavailable(f"no {job.precision} recipe for ONNX Runtime")
    if job.calibration is None or len(job.calibration) == 0:
        raise Unavailable("int8 needs calibration inputs")
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quantize_dynamic, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = os.path.join(job.out_dir, job.name + ".pre.onnx")
    dynamic = job.int8_scheme == "dynamic"
    quant_pre_process(job.onnx, pre, skip_symbolic_shape=dynamic)
    if dynamic:
        path = os.path.join(job.out_dir, job.name + ".int8-dynamic.onnx")
        quantize_dynamic(pre, path, per_channel=True, reduce_range=False, weight_type=QuantType.QInt8)
        os.remove(pre)
        return path
    input_name = ort.InferenceSession(pre, providers=["CPUExecutionProvider"]).get_inputs()[0].name
    path = os.path.join(job.out_dir, job.name + ".int8.onnx")
    quantize_static(pre, path, _Calibration(job.calibration, input_name),
                    quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=False,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    os.remove(pre)
    return path


class Runner:
    def __init__(self, path, threads):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def run(self, x):
        (y,) = self._session.run(None, {self._input: x})
        return np.asarray(y, dtype=np.float32).reshape(-1)


def load(path, threads):
    return Runner(path, threads)
