// Which operators each XNNPACK generation runs, at all and in int8, as measured by
// tests/unit/test_backbone_ops.cpp and test_backbone_tensor_ops.cpp against Debian 12's
// (2022-02-16) and Debian 13's (2024-11-08) builds.
#include "backbone/backbone.h"

namespace edgeclr {

uint32_t fp32_since_xnnpack(const schema::Operator& op) {
  switch (op.options_type()) {
    case schema::OpOptions_ConcatOptions:
    case schema::OpOptions_SliceOptions:
    case schema::OpOptions_TransposeOptions:
    case schema::OpOptions_BatchMatMulOptions:
    case schema::OpOptions_MeanOptions:
    case schema::OpOptions_LayerNormOptions:  // built from reduce, binary and unary nodes
    case schema::OpOptions_GeluOptions:
      return 2024;
    case schema::OpOptions_FullyConnectedOptions: {  // qdint8 inputs came after 2022
      const auto* o = op.options_as_FullyConnectedOptions();
      return o->input_quantization() == schema::InputQuantization_DYNAMIC_PER_ROW ? 2024 : 2022;
    }
    default:  // softmax has been in XNNPACK since before 2022
      return 2022;
  }
}

uint32_t int8_since_xnnpack(const schema::Operator& op, const std::vector<TensorInfo>& tensors) {
  switch (op.options_type()) {
    case schema::OpOptions_Conv2DOptions:
    case schema::OpOptions_MaxPool2DOptions:
    case schema::OpOptions_GlobalAveragePoolOptions:
    case schema::OpOptions_ClampOptions:
    case schema::OpOptions_PadOptions:
    case schema::OpOptions_ReshapeOptions:
    case schema::OpOptions_SigmoidOptions:  // output quantization fixed at 1/256, -128
      return 2022;
    case schema::OpOptions_FullyConnectedOptions:  // 2022: per-tensor weights only
      return tensors[op.inputs()->Get(1)].per_channel ? 2024 : 2022;
    case schema::OpOptions_AddOptions:
    case schema::OpOptions_MultiplyOptions:  // both operands computed, not constants
      return tensors[op.inputs()->Get(0)].is_constant || tensors[op.inputs()->Get(1)].is_constant ? 0 : 2022;
    case schema::OpOptions_HardSwishOptions:
    case schema::OpOptions_LeakyReluOptions:
      return 2024;
    default:  // average pooling (qu8 only, even in 2024), the rest of the elementwise ops
      return 0;
  }
}

}  // namespace edgeclr
