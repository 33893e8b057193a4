"""ExecuTorch (PyPI `executorch` 1.5.1): .pte programs lowered to the XNNPACK backend.

Recipe (convert):
  fp32  torch.export(module, example) -> to_edge_transform_and_lower(XnnpackPartitioner)
        -> to_executorch() -> model.pte
  int8  PT2E static post-training quantization before lowering: export -> prepare_pt2e
        with XNNPACKQuantizer(get_symmetric_quantization_config(is_per_channel=True)),
        i.e. int8 per-channel symmetric weights, int8 per-tensor affine activations
        (HistogramObserver) -> feed job.calibration one image at a time -> convert_pt2e
        -> export again -> lower as fp32. The .pte keeps float input and output: the
        quantize/dequantize at the edges are ops inside the delegate.
  int8 of a transformer (job.int8_scheme "dynamic"): the same path with
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True), ExecuTorch's
        recipe for XNNPACK's dynamically quantized linear layers: int8 weights, symmetric,
        per output channel, and each linear (and conv) input quantized when the model runs
        (a choose_qparams + quantize in the graph, which the XNNPACK delegate lowers to
        per-token dynamic quantization: qd8 x qc8w kernels, fp32 out). No calibration (the
        activation observer is a placeholder); one example run. The eval-mode dropouts (the
        identity) are taken out of the exported graph first: see Traps.

Run (load): executorch.runtime's Program/Method; XNNPACK takes its threads from
ExecuTorch's one process-wide threadpool, which has no public setter: load() sets it with
the pybindings' _unsafe_reset_threadpool(threads) (experimental API), BEFORE the program
is loaded, because an XNNPACK runtime keeps the pool it was created with ("unsafe": a
reset after loading leaves loaded methods with a freed pool).

Traps:
  - The exported graph has a fixed batch of 1, so calibration runs image by image.
  - The prepared graph is an exported module: .eval() is refused there; torchao's
    move_exported_model_to_eval() is the way (it matters for dropout/batch norm).
  - torch.from_numpy keeps numpy's stride 0 on an axis added by x[None], and the export
    then fails with "RuntimeError: 0 in strides is not supported for ExecuTorch": the
    example and calibration tensors are fresh copies (_tensor).
  - Not a failure, but it costs time: onnx2torch modules from opset-13 ONNX spell
    hardswish/hardsigmoid as add/clamp/mul/div, which XNNPACKQuantizer leaves in float,
    so the int8 mobilenet_v3 .pte has dequantize -> fp32 -> quantize islands inside the
    one XNNPACK delegate (torchvision's nn.Hardswish module does not have them).
  - Not a failure, but it costs time: on the transformers XnnpackPartitioner (1.5.1) leaves
    part of each block on ExecuTorch's portable kernels between XNNPACK partitions: for
    dinov2 (onnx2torch: LayerNorm spelled out, GELU by erf) 87 partitions with aten mean,
    pow, erf and expand_copy between them; for vit_b_16 (torchvision's module) 86, with
    native_layer_norm and nn.MultiheadAttention's mask handling (eq, logical_not, any,
    where, full_like) outside.
  - Dynamic int8 of torchvision's vit_b_16 fails in convert_pt2e as the recipe stands:
    "An error occurred when running the 'PortNodeMetaForQDQ' pass after the following
    passes: []", from "ValueError: No chose qparams node found for linear_3" (torchao's
    metadata pass; linear_3 is the MLP's second linear, whose input is an
    aten.dropout.default(x, 0.0, False) node that torch.export keeps in eval mode;
    move_exported_model_to_eval before prepare_pt2e does not remove it). The dropout is the
    identity there, so _without_eval_dropout() takes such nodes out before prepare_pt2e
    (dynamic only: the static recipe of the CNNs is as it was) and the conversion works.
  - Not a failure, but it costs time: dynamic int8 of dinov2 has 99 XNNPACK partitions, the
    same ops as fp32's (aten mean, pow, erf, expand_copy) on the portable kernels between.
  - This file is peers/executorch.py: `import executorch` still finds the real package
    (absolute imports), unless bench/peers itself is put on sys.path.
"""
import importlib.metadata
import os

import numpy as np

from . import Unavailable, torch_input as _tensor, why as _why

NAME = "ExecuTorch"


def version():
    return importlib.metadata.version("executorch")


def convert(job):
    if job.precision not in ("fp32", "int8"):
        raise Unavailable(f"no {job.precision} recipe")
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    module = job.torch_module().eval()
    example = (_tensor(job.calibration[0]),)
    try:
        with torch.no_grad():
            program = torch.export.export(module, example)
            if job.precision == "int8":
                dynamic = job.int8_scheme == "dynamic"
                calibration = job.calibration[:1] if dynamic else job.calibration
                program = torch.export.export(_quantize(program, calibration, dynamic), example)
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        pte = lowered.to_executorch()
    except Exception as e:  # export, quantization or lowering refused the model
        raise Unavailable(_why(e)) from e
    path = os.path.join(job.out_dir, f"{job.name}-{job.precision}.pte")
    with open(path, "wb") as f:
        pte.write_to_file(f)
    return path


def _quantize(program, calibration, dynamic):
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic))
    module = program.module()
    if dynamic:
        _without_eval_dropout(module)
    prepared = prepare_pt2e(module, quantizer)
    move_exported_model_to_eval(prepared)
    for image in calibration:
        prepared(_tensor(image))
    quantized = convert_pt2e(prepared)
    move_exported_model_to_eval(quantized)
    return quantized


def _without_eval_dropout(module):
    """Removes from the exported module (a torch.fx GraphModule) every dropout in eval mode,
    aten.dropout.default(x, p, train=False): the identity, which torchao's metadata pass
    cannot see through when the op after it is dynamically quantized (Traps)."""
    import torch
    for node in list(module.graph.nodes):
        if (node.op == "call_function" and node.target == torch.ops.aten.dropout.default
                and len(node.args) >= 3 and node.args[2] is False):
            node.replace_all_uses_with(node.args[0])
            module.graph.erase_node(node)
    module.recompile()


class Runner:
    def __init__(self, method):
        import torch
        self._method = method
        self._tensor = torch.from_numpy

    def run(self, x):
        out = self._method.execute((self._tensor(x),))[0]
        return out.numpy().astype(np.float32).reshape(-1).copy()


def load(path, threads):
    try:
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime
        portable_lib._unsafe_reset_threadpool(int(threads))
        if portable_lib._threadpool_get_thread_count() != int(threads):
            raise Unavailable(f"threadpool has {portable_lib._threadpool_get_thread_count()} "
                              f"threads after a reset to {threads}")
        method = Runtime.get().load_program(path).load_method("forward")
    except Unavailable:
        raise
    except Exception as e:
        raise Unavailable(_why(e)) from e
    return Runner(method)
