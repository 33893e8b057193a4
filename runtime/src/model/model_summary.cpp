#include "model/model_summary.h"

#include "model/op_checks.h"

namespace edgeclr {
namespace {

// Multiply-accumulates of one operator for a batch of one.
uint64_t op_macs(const schema::Operator& op, const std::vector<TensorInfo>& tensors) {
  const TensorInfo& out = tensors[op.outputs()->Get(0)];
  if (op.options_type() == schema::OpOptions_Conv2DOptions) {
    const TensorInfo& w = tensors[op.inputs()->Get(1)];
    return out.elements * w.dims[1] * w.dims[2] * w.dims[3];
  }
  if (op.options_type() == schema::OpOptions_FullyConnectedOptions) {
    return out.elements * tensors[op.inputs()->Get(1)].dims[1];
  }
  if (op.options_type() == schema::OpOptions_BatchMatMulOptions) {  // each output sums K products
    const TensorInfo& a = tensors[op.inputs()->Get(0)];
    return out.elements * a.dims[a.rank - 1];
  }
  return 0;
}

}  // namespace

ModelSummary summarize(const Model& model) {
  ModelSummary s;
  for (const TensorInfo& t : model.tensors()) {
    if (t.dtype == schema::DType_INT8) s.precision = "int8";
    if (t.is_constant) s.backbone_params += t.elements;
  }
  for (const schema::Operator* op : *model.backbone().operators()) {
    ++s.op_counts[op_type_name(*op, model.tensors())];
    s.backbone_macs += op_macs(*op, model.tensors());
  }
  if (const auto* layers = model.head().layers()) {
    for (const schema::DenseLayer* layer : *layers) {
      const uint64_t macs = uint64_t{layer->in_dim()} * layer->out_dim();
      s.head_macs += macs;
      s.head_params += macs + (layer->bias() ? layer->bias()->size() : 0);
    }
  }
  return s;
}

}  // namespace edgeclr
