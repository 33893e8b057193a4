#include "model/backbone_hash.h"

#include <cstring>

#include "core/content_hash.h"

namespace edgeclr {
namespace {

void put(ContentHash& h, uint64_t v) { h.update_u64(v); }

void put_float(ContentHash& h, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  h.update_u64(bits);
}

template <typename T>
void put_vector(ContentHash& h, const flatbuffers::Vector<T>* v) {
  put(h, v ? v->size() : 0);
  if (v == nullptr) return;
  for (T x : *v) {
    if constexpr (std::is_floating_point_v<T>) {
      put_float(h, x);
    } else {
      put(h, static_cast<uint64_t>(x));
    }
  }
}

void put_input_spec(ContentHash& h, const schema::InputSpec& in) {
  for (uint64_t v : {uint64_t{in.height()}, uint64_t{in.width()}, uint64_t{in.channels()},
                     uint64_t(in.color()), uint64_t(in.layout()), uint64_t(in.resize()),
                     uint64_t{in.resize_shorter_side()}}) {
    put(h, v);
  }
  put_vector(h, in.mean());
  put_vector(h, in.std());
}

void put_tensor(ContentHash& h, const schema::Tensor& t, const TensorInfo& info) {
  put(h, static_cast<uint64_t>(info.dtype));
  put_vector(h, t.shape());
  const auto* q = t.quantization();
  put(h, q != nullptr);
  if (q != nullptr) {
    put(h, static_cast<uint64_t>(static_cast<int64_t>(q->axis())));
    put_vector(h, q->scale());
    put_vector(h, q->zero_point());
  }
  put(h, info.is_constant);
  if (info.is_constant) h.update(info.data, info.elements * dtype_size(info.dtype));
}

void put_options(ContentHash& h, const schema::Operator& op) {
  if (op.options() == nullptr) return;
  switch (op.options_type()) {
    case schema::OpOptions_Conv2DOptions: {
      const auto& o = *op.options_as_Conv2DOptions();
      for (uint64_t v : {o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(), o.dilation_h(),
                         o.dilation_w(), o.pad_top(), o.pad_bottom(), o.pad_left(), o.pad_right(),
                         o.groups()}) {
        put(h, v);
      }
      put(h, o.activation());
      break;
    }
    case schema::OpOptions_FullyConnectedOptions:
      put(h, op.options_as_FullyConnectedOptions()->activation());
      // Hashed only when set, so the hashes of models written before format 4 stay.
      if (op.options_as_FullyConnectedOptions()->input_quantization() != schema::InputQuantization_NONE) {
        put(h, op.options_as_FullyConnectedOptions()->input_quantization());
      }
      break;
    case schema::OpOptions_AddOptions: put(h, op.options_as_AddOptions()->activation()); break;
    case schema::OpOptions_MultiplyOptions: put(h, op.options_as_MultiplyOptions()->activation()); break;
    case schema::OpOptions_AveragePool2DOptions:
    case schema::OpOptions_MaxPool2DOptions: {
      const auto& o = *static_cast<const schema::Pool2DOptions*>(op.options());
      for (uint64_t v : {o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(), o.pad_top(),
                         o.pad_bottom(), o.pad_left(), o.pad_right()}) {
        put(h, v);
      }
      put(h, o.activation());
      break;
    }
    case schema::OpOptions_ClampOptions:
      put_float(h, op.options_as_ClampOptions()->min());
      put_float(h, op.options_as_ClampOptions()->max());
      break;
    case schema::OpOptions_LeakyReluOptions: put_float(h, op.options_as_LeakyReluOptions()->alpha()); break;
    case schema::OpOptions_SubtractOptions: put(h, op.options_as_SubtractOptions()->activation()); break;
    case schema::OpOptions_DivideOptions: put(h, op.options_as_DivideOptions()->activation()); break;
    case schema::OpOptions_EluOptions: put_float(h, op.options_as_EluOptions()->alpha()); break;
    case schema::OpOptions_ReshapeOptions: put_vector(h, op.options_as_ReshapeOptions()->new_shape()); break;
    case schema::OpOptions_PadOptions: {
      const auto& o = *op.options_as_PadOptions();
      put_vector(h, o.pre_pad());
      put_vector(h, o.post_pad());
      put_float(h, o.value());
      break;
    }
    case schema::OpOptions_ConcatOptions: put(h, op.options_as_ConcatOptions()->axis()); break;
    case schema::OpOptions_SliceOptions: put_vector(h, op.options_as_SliceOptions()->begin()); break;
    case schema::OpOptions_TransposeOptions: put_vector(h, op.options_as_TransposeOptions()->perm()); break;
    case schema::OpOptions_BatchMatMulOptions: put(h, op.options_as_BatchMatMulOptions()->transpose_b()); break;
    case schema::OpOptions_MeanOptions:
      put_vector(h, op.options_as_MeanOptions()->axes());
      put(h, op.options_as_MeanOptions()->keep_dims());
      break;
    case schema::OpOptions_LayerNormOptions: put_float(h, op.options_as_LayerNormOptions()->epsilon()); break;
    case schema::OpOptions_GeluOptions: put(h, op.options_as_GeluOptions()->approximate()); break;
    default: break;  // options without fields
  }
}

}  // namespace

uint64_t compute_backbone_hash(const schema::Model& model, const std::vector<TensorInfo>& tensors) {
  ContentHash h(hash_kind_for_format(model.format_version()));
  put_input_spec(h, *model.input());
  const schema::Backbone& backbone = *model.backbone();
  put(h, tensors.size());
  for (uint32_t i = 0; i < tensors.size(); ++i) put_tensor(h, *backbone.tensors()->Get(i), tensors[i]);
  const auto* ops = backbone.operators();
  put(h, ops ? ops->size() : 0);
  for (uint32_t i = 0; ops && i < ops->size(); ++i) {
    const schema::Operator* op = ops->Get(i);
    put(h, op->options_type());
    put_vector(h, op->inputs());
    put_vector(h, op->outputs());
    put_options(h, *op);
  }
  put(h, backbone.input());
  put(h, backbone.feature());
  return h.digest();
}

}  // namespace edgeclr
