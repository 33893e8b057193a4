"""Google LiteRT (PyPI `ai-edge-litert` 2.3.0, the TFLite interpreter with its default
XNNPACK delegate): .tflite models made from PyTorch by `litert-torch` 0.10.0.

Recipe (convert):
  fp32  litert_torch.convert(module, (example,)).export(model.tflite). The model keeps the
        NCHW float input; the converter puts the transpose to NHWC inside the graph.
  int8  PT2E static post-training quantization with litert-torch's own quantizer:
        torch.export -> prepare_pt2e with litert_torch.quantize PT2EQuantizer and
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False), i.e.
        int8 per-channel symmetric weights, int8 per-tensor activations (HistogramObserver)
        -> feed job.calibration one image at a time -> convert_pt2e(fold_quantize=False)
        -> litert_torch.convert(..., quant_config=QuantConfig(pt2e_quantizer=...)), which
        turns the Q/DQ pairs into integer TFLite ops.
  int8 of a transformer (job.int8_scheme "dynamic"): dynamic-range quantization, the same
        PT2E path with get_symmetric_quantization_config(is_per_channel=True,
        is_dynamic=True): the quantizer annotates weights only (int8, symmetric, per output
        channel) of linear, addmm and conv layers, and litert-torch converts with
        qdq_conversion_mode "DYNAMIC" (QuantConfig sees is_dynamic) into TFLite's
        dynamic-range ops (FULLY_CONNECTED and CONV_2D with float input, int8 weights with
        one scale per output channel, the input quantized when the op runs). No calibration
        (no activation observers); one example run. The model keeps float input and output.

Run (load): ai_edge_litert.interpreter.Interpreter(model_path, num_threads=threads); the
thread count reaches the XNNPACK delegate the interpreter applies by default.

Traps:
  - The int8 .tflite takes int8 input and gives int8 output; run() quantizes x and
    dequantizes the result with the scale/zero point the model carries, so that cost is
    timed as an app would pay it.
  - The exported graph has a fixed batch of 1, so calibration runs image by image.
  - The prepared graph is an exported module: .eval() is refused there; torchao's
    move_exported_model_to_eval() is the way. litert-torch still logs "Your model is
    converted in training mode" for int8, as it reads the module's .training flag, which
    that leaves set: harmless, the graph's ops are the eval ones.
  - Not a failure, but it costs time: the XNNPACK delegate of ai-edge-litert 2.3.0 takes
    neither RELU_0_TO_1 (what litert-torch makes of clamp(x/6 + 0.5, 0, 1), the opset-13
    hardsigmoid of onnx2torch modules) nor int8 HARD_SWISH. Those ops run on TFLite's own
    kernels between XNNPACK partitions: onnx2torch mobilenet_v3_small has 29 partitions
    in fp32 and int8; torchvision's module 1 in fp32, 20 in int8. ResNets: no such op.
  - convert_pt2e(fold_quantize=False) keeps the weights' Q/DQ pairs unfolded, as
    litert-torch's own tests do; its converter makes the integer ops from them.
"""
import importlib.metadata
import os

import numpy as np

from . import Unavailable, torch_input as _tensor, why as _why

NAME = "LiteRT"


def version():
    return importlib.metadata.version("ai-edge-litert")


def convert(job):
    if job.precision not in ("fp32", "int8"):
        raise Unavailable(f"no {job.precision} recipe")
    import torch
    import litert_torch

    module = job.torch_module().eval()
    example = (_tensor(job.calibration[0]),)
    try:
        with torch.no_grad():
            if job.precision == "fp32":
                model = litert_torch.convert(module, example)
            else:
                calibration = job.calibration[:1] if job.int8_scheme == "dynamic" else job.calibration
                quantized, quant_config = _quantize(module, example, calibration,
                                                    dynamic=job.int8_scheme == "dynamic")
                model = litert_torch.convert(quantized, example, quant_config=quant_config)
    except Exception as e:  # export, quantization or conversion refused the model
        raise Unavailable(_why(e)) from e
    path = os.path.join(job.out_dir, f"{job.name}-{job.precision}.tflite")
    model.export(path)
    return path


def _quantize(module, example, calibration, dynamic):
    import torch
    from litert_torch.quantize.pt2e_quantizer import (
        PT2EQuantizer, get_symmetric_quantization_config)
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = PT2EQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic))
    prepared = prepare_pt2e(torch.export.export(module, example).module(), quantizer)
    move_exported_model_to_eval(prepared)
    for image in calibration:
        prepared(_tensor(image))
    quantized = convert_pt2e(prepared, fold_quantize=False)
    move_exported_model_to_eval(quantized)
    return quantized, QuantConfig(pt2e_quantizer=quantizer)


class Runner:
    def __init__(self, interpreter):
        self._it = interpreter
        inp = interpreter.get_input_details()[0]
        out = interpreter.get_output_details()[0]
        self._in, self._out = inp["index"], out["index"]
        # (scale, zero point) of an integer input/output, None for a float one
        self._qin = inp["quantization"] if inp["dtype"] != np.float32 else None
        self._qout = out["quantization"] if out["dtype"] != np.float32 else None
        self._in_dtype = inp["dtype"]
        if self._in_dtype not in (np.float32, np.int8):
            raise Unavailable(f"input type {np.dtype(self._in_dtype).name} not handled")

    def run(self, x):
        if self._qin is not None:
            scale, zero = self._qin
            x = np.clip(np.rint(x / scale) + zero, -128, 127).astype(np.int8)
        self._it.set_tensor(self._in, x)
        self._it.invoke()
        y = self._it.get_tensor(self._out)  # a copy
        if self._qout is not None:
            scale, zero = self._qout
            y = (y.astype(np.float32) - zero) * np.float32(scale)
        return y.astype(np.float32, copy=False).reshape(-1)


def load(path, threads):
    try:
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_path=path, num_threads=int(threads))
        interpreter.allocate_tensors()
    except Exception as e:
        raise Unavailable(_why(e)) from e
    return Runner(interpreter)
