// Backbone on XNNPACK's subgraph API, both generations (backbone/xnnpack_api.h).
//
// The model's tensors become XNNPACK values (fp32, qint8, qcint8, qint32, qcint32), its
// operators become nodes, and xnn_create_runtime packs the weights. The batch is folded
// into dimension 0 of every activation.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <vector>

#include "backbone/backbone.h"
#include "backbone/xnnpack_api.h"
#include "backbone/xnnpack_weights_cache.h"
#include "model/op_checks.h"
#include "model/tensor_op_checks.h"

namespace edgeclr {
namespace {

constexpr uint32_t kInputId = 0;    // external value ids; observed tensors follow
constexpr uint32_t kFeatureId = 1;
constexpr uint32_t kFirstObservedId = 2;
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Range {
  float min;
  float max;
};

Range activation_range(schema::Activation act) {
  switch (act) {
    case schema::Activation_RELU: return {0.0f, kInf};
    case schema::Activation_RELU6: return {0.0f, 6.0f};
    default: return {-kInf, kInf};
  }
}

BinaryNode binary_node(schema::OpOptions type) {
  switch (type) {
    case schema::OpOptions_AddOptions: return BinaryNode::kAdd;
    case schema::OpOptions_MultiplyOptions: return BinaryNode::kMultiply;
    case schema::OpOptions_SubtractOptions: return BinaryNode::kSubtract;
    case schema::OpOptions_DivideOptions: return BinaryNode::kDivide;
    case schema::OpOptions_MaximumOptions: return BinaryNode::kMaximum;
    case schema::OpOptions_MinimumOptions: return BinaryNode::kMinimum;
    default: return BinaryNode::kPRelu;
  }
}

// The output clamp fused into a binary operator (add, multiply, subtract, divide).
Range binary_range(const schema::Operator& op) {
  switch (op.options_type()) {
    case schema::OpOptions_AddOptions: return activation_range(op.options_as_AddOptions()->activation());
    case schema::OpOptions_MultiplyOptions: return activation_range(op.options_as_MultiplyOptions()->activation());
    case schema::OpOptions_SubtractOptions: return activation_range(op.options_as_SubtractOptions()->activation());
    case schema::OpOptions_DivideOptions: return activation_range(op.options_as_DivideOptions()->activation());
    default: return {-kInf, kInf};
  }
}

class XnnpackBackbone final : public Backbone {
 public:
  XnnpackBackbone(const Model& model, const BackboneOptions& options) : model_(model), options_(options) {}
  ~XnnpackBackbone() override {
    if (runtime_ != nullptr) xnn_delete_runtime(runtime_);
    if (subgraph_ != nullptr) xnn_delete_subgraph(subgraph_);
    if (threadpool_ != nullptr) pthreadpool_destroy(threadpool_);
  }

  Status build();
  Status run(const float* input, float* feature) override;
  float* input_buffer() override { return input_.data(); }
  const void* observed(size_t i) const override { return observed_[i].data(); }
  Status operator_times(std::vector<OperatorTime>* times) const override;
  uint32_t batch() const override { return options_.batch; }
  uint32_t threads() const override { return options_.threads; }

 private:
  // `packed`: XNNPACK copies this constant into its own packed layout at creation (conv
  // and fully-connected weights and biases). Other constants it reads where they lie,
  // with vector loads up to XNN_EXTRA_BYTES past the end, so those get a padded copy.
  Status define_value(uint32_t tensor, uint32_t* id, bool packed = false);
  // The XNNPACK value of `tensor`'s type and quantization with these dims and data.
  xnn_status define_xnn_value(uint32_t tensor, const std::vector<size_t>& dims, const void* data, uint32_t external,
                              uint32_t flags, uint32_t* id);
  // `tensor` as a concatenation input: activations as they are; a constant joined to
  // activations needs the batch they carry, so it becomes one copy per image. Its
  // dims[0] is 1: the verifier makes concat inputs equal off the axis, check_batchable
  // makes activations [1, ...] and refuses a concatenation over axis 0 (its output
  // would not be). Per-channel constants (weights, never concatenated) are refused.
  Result<NodeValue> concat_input(uint32_t tensor);
  Status define_depthwise_filter(uint32_t tensor, uint32_t* id);
  Status define_operator(const schema::Operator& op, uint32_t index);
  // The tensor operators of format 3; `in`, `out`: the op's first input and its output.
  Status define_tensor_operator(const schema::Operator& op, uint32_t index, const NodeValue& in, const NodeValue& out);
  Result<NodeValue> node_value(uint32_t tensor);
  Status op_error(const schema::Operator& op, uint32_t index, const char* what, xnn_status status) const;
  Status unsupported(const schema::Operator& op, uint32_t index, const std::string& why) const;

  const Model& model_;
  BackboneOptions options_;
  xnn_subgraph_t subgraph_ = nullptr;
  xnn_runtime_t runtime_ = nullptr;
  pthreadpool_t threadpool_ = nullptr;
  std::vector<uint32_t> value_ids_;                 // per model tensor, XNN_INVALID_VALUE_ID until defined
  std::map<uint32_t, uint32_t> dynamic_quantized_;  // model tensor -> its qdint8 value, where one exists
  std::vector<std::vector<uint8_t>> owned_weights_;  // re-laid-out weights; must outlive the runtime
#if EDGECLR_XNNPACK_API >= 2024
  std::unique_ptr<PackedWeights> packed_weights_;    // XNNPACK's packed copies; outlives the runtime
#endif
  std::vector<float> input_;                        // batch x H x W x C plus XNN_EXTRA_BYTES
  std::vector<std::vector<uint8_t>> observed_;      // per options_.observed tensor
  float* bound_feature_ = nullptr;                  // output the runtime was last set up with
};

Status XnnpackBackbone::unsupported(const schema::Operator& op, uint32_t index, const std::string& why) const {
  const char* name = op.name() ? op.name()->c_str() : "";
  return error(StatusCode::kUnsupported,
               format("failed to create backbone for '%s': operator %u '%s' (%s): %s", model_.name().c_str(), index,
                      name, op_type_name(op, model_.tensors()), why.c_str()));
}

Status XnnpackBackbone::op_error(const schema::Operator& op, uint32_t index, const char* what,
                                 xnn_status status) const {
  const TensorInfo& in = model_.tensors()[op.inputs()->Get(0)];
  return unsupported(op, index, format("this XNNPACK cannot run it with %s input %s (%s: %s)", dtype_name(in.dtype),
                                       shape_string(in).c_str(), what, xnn_status_name(status)));
}

// Shape of a tensor as XNNPACK sees it: activations carry the batch in dimension 0.
std::vector<size_t> xnn_dims(const TensorInfo& t, uint32_t batch) {
  std::vector<size_t> dims(t.dims.begin(), t.dims.begin() + t.rank);
  if (!t.is_constant) dims[0] *= batch;
  return dims;
}

xnn_status XnnpackBackbone::define_xnn_value(uint32_t tensor, const std::vector<size_t>& dims, const void* data,
                                             uint32_t external, uint32_t flags, uint32_t* id) {
  const TensorInfo& t = model_.tensors()[tensor];
  const schema::Tensor& st = *model_.backbone().tensors()->Get(tensor);
  if (t.dtype == schema::DType_FLOAT32) {
    return xnn_define_tensor_value(subgraph_, xnn_datatype_fp32, dims.size(), dims.data(), data, external, flags, id);
  }
  if (t.per_channel) {
    const auto type = t.dtype == schema::DType_INT8 ? xnn_datatype_qcint8 : xnn_datatype_qcint32;
    return xnn_define_channelwise_quantized_tensor_value(subgraph_, type, st.quantization()->scale()->data(),
                                                         dims.size(), static_cast<size_t>(t.quant_axis), dims.data(),
                                                         data, external, flags, id);
  }
  const auto type = t.dtype == schema::DType_INT8 ? xnn_datatype_qint8 : xnn_datatype_qint32;
  return xnn_define_quantized_tensor_value(subgraph_, type, st.quantization()->zero_point()->Get(0),
                                           st.quantization()->scale()->Get(0), dims.size(), dims.data(), data,
                                           external, flags, id);
}

Status XnnpackBackbone::define_value(uint32_t tensor, uint32_t* id, bool packed) {
  if (value_ids_[tensor] != XNN_INVALID_VALUE_ID) {
    *id = value_ids_[tensor];
    return Status::Ok();
  }
  const TensorInfo& t = model_.tensors()[tensor];
  const std::vector<size_t> dims = xnn_dims(t, options_.batch);
  uint32_t external = XNN_INVALID_VALUE_ID;
  uint32_t flags = 0;
  if (tensor == model_.backbone().input()) {
    external = kInputId;
    flags = XNN_VALUE_FLAG_EXTERNAL_INPUT;
  } else if (tensor == model_.backbone().feature()) {
    external = kFeatureId;
    flags = XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
  } else {
    const auto& obs = options_.observed;
    const auto it = std::find(obs.begin(), obs.end(), tensor);
    if (it != obs.end()) {
      external = kFirstObservedId + static_cast<uint32_t>(it - obs.begin());
      flags = XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
    }
  }
  const void* data = t.data;
#if EDGECLR_XNNPACK_API >= 2024
  if (t.is_constant && packed) packed_weights_->add_source(t.data, t.elements * dtype_size(t.dtype));
#endif
  if (t.is_constant && !packed) {
    const size_t bytes = t.elements * dtype_size(t.dtype);
    owned_weights_.emplace_back(bytes + XNN_EXTRA_BYTES, uint8_t{0});
    std::memcpy(owned_weights_.back().data(), t.data, bytes);
    data = owned_weights_.back().data();
  }
  const xnn_status status = define_xnn_value(tensor, dims, data, external, flags, id);
  if (status != xnn_status_success) {
    return error(StatusCode::kUnsupported, format("failed to create backbone for '%s': tensor %u %s %s: %s",
                                                  model_.name().c_str(), tensor, dtype_name(t.dtype),
                                                  shape_string(t).c_str(), xnn_status_name(status)));
  }
  value_ids_[tensor] = *id;
  return Status::Ok();
}

// Our depthwise weights are [O, KH, KW, 1]; XNNPACK wants [1, KH, KW, O].
Status XnnpackBackbone::define_depthwise_filter(uint32_t tensor, uint32_t* id) {
  const TensorInfo& t = model_.tensors()[tensor];
  const size_t element = dtype_size(t.dtype);
  const uint32_t out = t.dims[0];
  const size_t taps = size_t{t.dims[1]} * t.dims[2];
  std::vector<uint8_t> laid_out(t.elements * element);
  for (uint32_t o = 0; o < out; ++o) {
    for (size_t k = 0; k < taps; ++k) {
      std::memcpy(&laid_out[(k * out + o) * element], t.data + (o * taps + k) * element, element);
    }
  }
  owned_weights_.push_back(std::move(laid_out));
  const void* data = owned_weights_.back().data();
  const size_t dims[4] = {1, t.dims[1], t.dims[2], out};
  const schema::Tensor& st = *model_.backbone().tensors()->Get(tensor);
  xnn_status status;
  if (t.dtype == schema::DType_FLOAT32) {
    status = xnn_define_tensor_value(subgraph_, xnn_datatype_fp32, 4, dims, data, XNN_INVALID_VALUE_ID, 0, id);
  } else if (t.per_channel) {
    status = xnn_define_channelwise_quantized_tensor_value(subgraph_, xnn_datatype_qcint8,
                                                           st.quantization()->scale()->data(), 4, 3, dims, data,
                                                           XNN_INVALID_VALUE_ID, 0, id);
  } else {
    status = xnn_define_quantized_tensor_value(subgraph_, xnn_datatype_qint8, 0, st.quantization()->scale()->Get(0), 4,
                                               dims, data, XNN_INVALID_VALUE_ID, 0, id);
  }
  if (status != xnn_status_success) {
    return error(StatusCode::kUnsupported, format("failed to create backbone for '%s': depthwise weight %u: %s",
                                                  model_.name().c_str(), tensor, xnn_status_name(status)));
  }
  return Status::Ok();
}

bool is_depthwise(const schema::Conv2DOptions& o, const TensorInfo& input, const TensorInfo& weight) {
  return o.groups() > 1 && o.groups() == input.dims[3] && weight.dims[3] == 1;
}

Status XnnpackBackbone::define_operator(const schema::Operator& op, uint32_t index) {
  const auto& tensors = model_.tensors();
  const uint32_t in_t = op.inputs()->Get(0);
  const uint32_t out_t = op.outputs()->Get(0);
  // A model quantized for a newer XNNPACK: one line naming the op and both generations.
  const uint32_t fp32_since = fp32_since_xnnpack(op);
  if (fp32_since > EDGECLR_XNNPACK_API) {
    return unsupported(op, index, format("needs XNNPACK %u or later, this edgeclr links XNNPACK %s", fp32_since,
                                         EDGECLR_XNNPACK_LABEL));
  }
  const uint32_t int8_since = int8_since_xnnpack(op, tensors);
  if (tensors[in_t].dtype == schema::DType_INT8 && int8_since > EDGECLR_XNNPACK_API) {
    return unsupported(op, index, format("int8 needs XNNPACK %u or later, this edgeclr links XNNPACK %s; "
                                         "convert the model with --xnnpack %u", int8_since, EDGECLR_XNNPACK_LABEL,
                                         EDGECLR_XNNPACK_API));
  }
  uint32_t in = 0, out = 0;
  EDGECLR_RETURN_IF_ERROR(define_value(in_t, &in));
  EDGECLR_RETURN_IF_ERROR(define_value(out_t, &out));
  if (is_tensor_operator(op.options_type())) {
    const NodeValue in_value{in, xnn_dims(tensors[in_t], options_.batch)};
    return define_tensor_operator(op, index, in_value, NodeValue{out, xnn_dims(tensors[out_t], options_.batch)});
  }
  uint32_t bias = XNN_INVALID_VALUE_ID;
  const bool has_bias = op.options_type() == schema::OpOptions_Conv2DOptions ||
                        op.options_type() == schema::OpOptions_FullyConnectedOptions;
  if (has_bias && op.inputs()->size() > 2) {
    EDGECLR_RETURN_IF_ERROR(define_value(op.inputs()->Get(2), &bias, /*packed=*/true));
  }
  uint32_t second = XNN_INVALID_VALUE_ID;  // weight or second operand
  xnn_status status = xnn_status_success;
  const char* what = "";
  switch (op.options_type()) {
    case schema::OpOptions_Conv2DOptions: {
      const auto& o = *op.options_as_Conv2DOptions();
      const TensorInfo& w = tensors[op.inputs()->Get(1)];
      const Range r = activation_range(o.activation());
      if (is_depthwise(o, tensors[in_t], w)) {
        EDGECLR_RETURN_IF_ERROR(define_depthwise_filter(op.inputs()->Get(1), &second));
        what = "xnn_define_depthwise_convolution_2d";
        status = xnn_define_depthwise_convolution_2d(
            subgraph_, o.pad_top(), o.pad_right(), o.pad_bottom(), o.pad_left(), o.kernel_h(), o.kernel_w(),
            o.stride_h(), o.stride_w(), o.dilation_h(), o.dilation_w(), w.dims[0] / o.groups(), o.groups(), r.min,
            r.max, in, second, bias, out, 0);
      } else {
        EDGECLR_RETURN_IF_ERROR(define_value(op.inputs()->Get(1), &second, /*packed=*/true));
        what = "xnn_define_convolution_2d";
        status = xnn_define_convolution_2d(subgraph_, o.pad_top(), o.pad_right(), o.pad_bottom(), o.pad_left(),
                                           o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(), o.dilation_h(),
                                           o.dilation_w(), o.groups(), w.dims[3], w.dims[0] / o.groups(), r.min, r.max,
                                           in, second, bias, out, 0);
      }
      break;
    }
    case schema::OpOptions_FullyConnectedOptions: {
      const auto& o = *op.options_as_FullyConnectedOptions();
      EDGECLR_RETURN_IF_ERROR(define_value(op.inputs()->Get(1), &second, /*packed=*/true));
      if (o.input_quantization() == schema::InputQuantization_DYNAMIC_PER_ROW) {
        // One quantized copy per tensor: attention's query, key and value read the same one.
        const auto quantized = dynamic_quantized_.find(in_t);
        if (quantized != dynamic_quantized_.end()) {
          in = quantized->second;
        } else {
          status = define_dynamic_quantize(subgraph_, xnn_dims(tensors[in_t], options_.batch), in, &in, &what);
          if (status != xnn_status_success) break;
          dynamic_quantized_[in_t] = in;
        }
      }
      const Range r = activation_range(o.activation());
      what = "xnn_define_fully_connected";
      status = xnn_define_fully_connected(subgraph_, r.min, r.max, in, second, bias, out, 0);
      break;
    }
    case schema::OpOptions_AddOptions:
    case schema::OpOptions_MultiplyOptions:
    case schema::OpOptions_SubtractOptions:
    case schema::OpOptions_DivideOptions:
    case schema::OpOptions_MaximumOptions:
    case schema::OpOptions_MinimumOptions:
    case schema::OpOptions_PReluOptions: {
      EDGECLR_RETURN_IF_ERROR(define_value(op.inputs()->Get(1), &second));
      const Range r = binary_range(op);
      status = define_binary(subgraph_, binary_node(op.options_type()), r.min, r.max, in, second, out, &what);
      break;
    }
    case schema::OpOptions_EluOptions:
      status = define_unary(subgraph_, UnaryNode::kElu, op.options_as_EluOptions()->alpha(), 0, in, out, &what);
      break;
    case schema::OpOptions_AveragePool2DOptions:
    case schema::OpOptions_MaxPool2DOptions: {
      const auto& o = *static_cast<const schema::Pool2DOptions*>(op.options());
      const Range r = activation_range(o.activation());
      if (op.options_type() == schema::OpOptions_MaxPool2DOptions) {
        what = "xnn_define_max_pooling_2d";
        status = xnn_define_max_pooling_2d(subgraph_, o.pad_top(), o.pad_right(), o.pad_bottom(), o.pad_left(),
                                           o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(), 1, 1, r.min, r.max,
                                           in, out, 0);
      } else {
        what = "xnn_define_average_pooling_2d";
        status = xnn_define_average_pooling_2d(subgraph_, o.pad_top(), o.pad_right(), o.pad_bottom(), o.pad_left(),
                                               o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(), r.min, r.max,
                                               in, out, 0);
      }
      break;
    }
    case schema::OpOptions_GlobalAveragePoolOptions:
      status = define_global_average_pool(subgraph_, in, out, &what);
      break;
    case schema::OpOptions_ClampOptions:
      status = define_unary(subgraph_, UnaryNode::kClamp, op.options_as_ClampOptions()->min(),
                            op.options_as_ClampOptions()->max(), in, out, &what);
      break;
    case schema::OpOptions_HardSwishOptions:
      status = define_unary(subgraph_, UnaryNode::kHardSwish, 0, 0, in, out, &what);
      break;
    case schema::OpOptions_SigmoidOptions:
      status = define_unary(subgraph_, UnaryNode::kSigmoid, 0, 0, in, out, &what);
      break;
    case schema::OpOptions_LeakyReluOptions:
      status = define_unary(subgraph_, UnaryNode::kLeakyRelu, op.options_as_LeakyReluOptions()->alpha(), 0, in, out,
                            &what);
      break;
    case schema::OpOptions_ReshapeOptions: {
      const std::vector<size_t> shape = xnn_dims(tensors[out_t], options_.batch);
      what = "xnn_define_static_reshape";
      status = xnn_define_static_reshape(subgraph_, shape.size(), shape.data(), in, out, 0);
      break;
    }
    case schema::OpOptions_PadOptions: {
      const auto& o = *op.options_as_PadOptions();
      if (options_.batch > 1 && (o.pre_pad()->Get(0) != 0 || o.post_pad()->Get(0) != 0)) {
        return unsupported(op, index, "padding the batch dimension only works with batch 1");
      }
      size_t pre[XNN_MAX_TENSOR_DIMS] = {}, post[XNN_MAX_TENSOR_DIMS] = {};
      for (uint32_t d = 0; d < o.pre_pad()->size(); ++d) {
        pre[d] = o.pre_pad()->Get(d);
        post[d] = o.post_pad()->Get(d);
      }
      what = "xnn_define_static_constant_pad";
      status = xnn_define_static_constant_pad(subgraph_, pre, post, o.value(), in, out, 0);
      break;
    }
    case schema::OpOptions_QuantizeOptions:
    case schema::OpOptions_DequantizeOptions:
      status = define_unary(subgraph_, UnaryNode::kConvert, 0, 0, in, out, &what);
      break;
    default: break;  // NONE; the tensor operators returned above
  }
  if (status != xnn_status_success) return op_error(op, index, what, status);
  return Status::Ok();
}

Result<NodeValue> XnnpackBackbone::node_value(uint32_t tensor) {
  uint32_t id = 0;
  EDGECLR_RETURN_IF_ERROR(define_value(tensor, &id));
  return NodeValue{id, xnn_dims(model_.tensors()[tensor], options_.batch)};
}

Result<NodeValue> XnnpackBackbone::concat_input(uint32_t tensor) {
  const TensorInfo& t = model_.tensors()[tensor];
  if (!t.is_constant || options_.batch == 1) return node_value(tensor);
  if (t.per_channel || t.dims[0] != 1) {
    return error(StatusCode::kUnsupported,
                 format("failed to create backbone for '%s' with batch %u: constant concatenation input %u %s",
                        model_.name().c_str(), options_.batch, tensor, shape_string(t).c_str()));
  }
  const size_t bytes = t.elements * dtype_size(t.dtype);
  std::vector<uint8_t> repeated(bytes * options_.batch + XNN_EXTRA_BYTES, uint8_t{0});
  for (uint32_t b = 0; b < options_.batch; ++b) std::memcpy(&repeated[b * bytes], t.data, bytes);
  owned_weights_.push_back(std::move(repeated));
  std::vector<size_t> dims = xnn_dims(t, 1);
  dims[0] *= options_.batch;
  uint32_t id = XNN_INVALID_VALUE_ID;
  const xnn_status status =
      define_xnn_value(tensor, dims, owned_weights_.back().data(), XNN_INVALID_VALUE_ID, 0, &id);
  if (status != xnn_status_success) {
    return error(StatusCode::kUnsupported,
                 format("failed to create backbone for '%s': tensor %u %s repeated for batch %u: %s",
                        model_.name().c_str(), tensor, shape_string(t).c_str(), options_.batch,
                        xnn_status_name(status)));
  }
  return NodeValue{id, dims};
}

Status XnnpackBackbone::define_tensor_operator(const schema::Operator& op, uint32_t index, const NodeValue& in,
                                               const NodeValue& out) {
  xnn_status status = xnn_status_success;
  const char* what = "";
  const auto sizes = [](const auto* v) { return std::vector<size_t>(v->begin(), v->end()); };
  switch (op.options_type()) {
    case schema::OpOptions_ConcatOptions: {
      std::vector<NodeValue> inputs;
      for (uint32_t t : *op.inputs()) {
        auto value = concat_input(t);
        if (!value.ok()) return value.status();
        inputs.push_back(value.value());
      }
      status = define_concat(subgraph_, op.options_as_ConcatOptions()->axis(), inputs, out, &what);
      break;
    }
    case schema::OpOptions_SliceOptions:
      status = define_slice(subgraph_, sizes(op.options_as_SliceOptions()->begin()), in, out, &what);
      break;
    case schema::OpOptions_TransposeOptions:
      status = define_transpose(subgraph_, sizes(op.options_as_TransposeOptions()->perm()), in.id, out.id, &what);
      break;
    case schema::OpOptions_BatchMatMulOptions: {
      auto b = node_value(op.inputs()->Get(1));
      if (!b.ok()) return b.status();
      status = define_batch_matmul(subgraph_, op.options_as_BatchMatMulOptions()->transpose_b(), in.id, b->id, out.id,
                                   &what);
      break;
    }
    case schema::OpOptions_SoftmaxOptions: status = define_softmax(subgraph_, in.id, out.id, &what); break;
    case schema::OpOptions_MeanOptions: {
      const auto& o = *op.options_as_MeanOptions();
      status = define_mean(subgraph_, sizes(o.axes()), o.keep_dims(), in.id, out.id, &what);
      break;
    }
    case schema::OpOptions_LayerNormOptions: {
      uint32_t gamma = XNN_INVALID_VALUE_ID, beta = XNN_INVALID_VALUE_ID;
      if (op.inputs()->size() > 1) EDGECLR_RETURN_IF_ERROR(define_value(op.inputs()->Get(1), &gamma));
      if (op.inputs()->size() > 2) EDGECLR_RETURN_IF_ERROR(define_value(op.inputs()->Get(2), &beta));
      status = define_layer_norm(subgraph_, op.options_as_LayerNormOptions()->epsilon(), in, gamma, beta, out.id,
                                 &owned_weights_, &what);
      break;
    }
    case schema::OpOptions_GeluOptions:
      status = define_gelu(subgraph_, op.options_as_GeluOptions()->approximate(), in, out.id, &owned_weights_, &what);
      break;
    default: break;
  }
  if (status != xnn_status_success) return op_error(op, index, what, status);
  return Status::Ok();
}

// Activations must carry the batch in dimension 0 (the loader checked batch 1 there
// for the input and the feature; intermediate tensors are checked here).
Status check_batchable(const Model& model, uint32_t batch) {
  if (batch == 1) return Status::Ok();
  const auto& tensors = model.tensors();
  for (uint32_t i = 0; i < tensors.size(); ++i) {
    // A rank-1 activation [1] would become [batch] and broadcast across the wrong axis.
    if (!tensors[i].is_constant && (tensors[i].dims[0] != 1 || tensors[i].rank == 1)) {
      return error(StatusCode::kUnsupported,
                   format("failed to create backbone for '%s' with batch %u: tensor %u %s has no batch dimension",
                          model.name().c_str(), batch, i, shape_string(tensors[i]).c_str()));
    }
  }
  // Operators that would mix images: a transpose moving axis 0, a mean over it.
  const auto* ops = model.backbone().operators();
  for (uint32_t i = 0; i < ops->size(); ++i) {
    const schema::Operator& op = *ops->Get(i);
    const auto* perm = op.options_type() == schema::OpOptions_TransposeOptions ? op.options_as_TransposeOptions()->perm() : nullptr;
    const auto* axes = op.options_type() == schema::OpOptions_MeanOptions ? op.options_as_MeanOptions()->axes() : nullptr;
    if ((perm != nullptr && perm->Get(0) != 0) || (axes != nullptr && axes->Get(0) == 0)) {
      return error(StatusCode::kUnsupported,
                   format("failed to create backbone for '%s' with batch %u: operator %u (%s) works across axis 0, "
                          "where the batch goes", model.name().c_str(), batch, i, op_type_name(op, model.tensors())));
    }
  }
  return Status::Ok();
}

// Which operators the feature and the observed tensors depend on. Only those are given
// to XNNPACK: its 2022 optimizer drops values nobody reads but keeps the nodes writing
// them, and then aborts on an assertion.
std::vector<bool> operators_reaching_outputs(const Model& model, const std::vector<uint32_t>& observed) {
  const auto* ops = model.backbone().operators();
  std::vector<bool> needed(model.tensors().size(), false);
  std::vector<bool> live(ops->size(), false);
  needed[model.backbone().feature()] = true;
  for (uint32_t t : observed) needed[t] = true;
  for (uint32_t i = ops->size(); i-- > 0;) {
    const schema::Operator& op = *ops->Get(i);
    if (!needed[op.outputs()->Get(0)]) continue;
    live[i] = true;
    for (uint32_t t : *op.inputs()) needed[t] = true;
  }
  return live;
}

Status XnnpackBackbone::build() {
  if (options_.batch == 0 || options_.batch > 4096 || options_.threads == 0 || options_.threads > 256) {
    return error(StatusCode::kInvalidArgument,
                 format("failed to create backbone: batch %u and threads %u, expected 1..4096 and 1..256",
                        options_.batch, options_.threads));
  }
  EDGECLR_RETURN_IF_ERROR(check_batchable(model_, options_.batch));
  if (xnn_initialize(nullptr) != xnn_status_success) {
    return error(StatusCode::kUnsupported, "failed to initialize XNNPACK: this CPU is not supported");
  }
  for (uint32_t t : options_.observed) {
    if (t >= model_.tensors().size() || model_.tensors()[t].is_constant || t == model_.backbone().input() ||
        t == model_.backbone().feature()) {
      return error(StatusCode::kInvalidArgument,
                   format("failed to create backbone: tensor %u is not an intermediate activation", t));
    }
    const TensorInfo& info = model_.tensors()[t];
    observed_.emplace_back(info.elements * options_.batch * dtype_size(info.dtype) + XNN_EXTRA_BYTES);
  }
  const auto external_ids = kFirstObservedId + static_cast<uint32_t>(options_.observed.size());
  if (xnn_create_subgraph(external_ids, 0, &subgraph_) != xnn_status_success) {
    return error(StatusCode::kOutOfMemory, "failed to create backbone: cannot create an XNNPACK subgraph");
  }
  value_ids_.assign(model_.tensors().size(), XNN_INVALID_VALUE_ID);
#if EDGECLR_XNNPACK_API >= 2024
  packed_weights_ = std::make_unique<PackedWeights>(model_);
#endif
  const auto* ops = model_.backbone().operators();
  const std::vector<bool> live = operators_reaching_outputs(model_, options_.observed);
  for (uint32_t i = 0; i < ops->size(); ++i) {
    if (live[i]) EDGECLR_RETURN_IF_ERROR(define_operator(*ops->Get(i), i));
  }
  if (options_.threads > 1) {
    threadpool_ = pthreadpool_create(options_.threads);
    if (threadpool_ == nullptr) return error(StatusCode::kOutOfMemory, "failed to create backbone: no thread pool");
  }
  uint32_t runtime_flags = 0;
  if (options_.profile) {
#if EDGECLR_XNNPACK_API >= 2024
    runtime_flags |= XNN_FLAG_BASIC_PROFILING;
#else
    return error(StatusCode::kUnsupported, format("failed to create backbone: operator profiling needs XNNPACK 2024, "
                                                  "this edgeclr links XNNPACK %s", EDGECLR_XNNPACK_LABEL));
#endif
  }
#if EDGECLR_XNNPACK_API >= 2024
  const xnn_status status =
      xnn_create_runtime_v3(subgraph_, packed_weights_->provider(), threadpool_, runtime_flags, &runtime_);
  if (status == xnn_status_success) packed_weights_->finalize();
#else
  const xnn_status status = xnn_create_runtime_v2(subgraph_, threadpool_, runtime_flags, &runtime_);
#endif
  if (status != xnn_status_success) {
    return error(StatusCode::kUnsupported,
                 format("failed to create backbone for '%s': xnn_create_runtime: %s", model_.name().c_str(),
                        xnn_status_name(status)));
  }
  xnn_delete_subgraph(subgraph_);
  subgraph_ = nullptr;
  const TensorInfo& in = model_.tensors()[model_.backbone().input()];
  input_.assign(in.elements * options_.batch + XNN_EXTRA_BYTES / sizeof(float), 0.0f);
  return Status::Ok();
}

Status XnnpackBackbone::run(const float* input, float* feature) {
  if (input == nullptr || feature == nullptr) {
    return error(StatusCode::kInvalidArgument, "failed to run backbone: input or feature is null");
  }
  // XNNPACK may read XNN_EXTRA_BYTES past the input, so it always reads our padded copy.
  if (input != input_.data()) {
    const size_t count = input_.size() - XNN_EXTRA_BYTES / sizeof(float);
    std::memcpy(input_.data(), input, count * sizeof(float));
  }
  if (bound_feature_ != feature) {  // setup once per output pointer: no per-run work
    std::vector<xnn_external_value> values = {{kInputId, input_.data()}, {kFeatureId, feature}};
    for (size_t i = 0; i < observed_.size(); ++i) {
      values.push_back({kFirstObservedId + static_cast<uint32_t>(i), observed_[i].data()});
    }
    const xnn_status status = xnn_setup_runtime(runtime_, values.size(), values.data());
    if (status != xnn_status_success) {
      return error(StatusCode::kInternal, format("failed to set up backbone: %s", xnn_status_name(status)));
    }
    bound_feature_ = feature;
  }
  const xnn_status status = xnn_invoke_runtime(runtime_);
  if (status != xnn_status_success) {
    return error(StatusCode::kInternal, format("failed to run backbone: %s", xnn_status_name(status)));
  }
  return Status::Ok();
}

Status XnnpackBackbone::operator_times(std::vector<OperatorTime>* times) const {
  times->clear();
  if (!options_.profile) return error(StatusCode::kInvalidArgument, "backbone was created without profiling");
#if EDGECLR_XNNPACK_API >= 2024
  size_t count = 0, size = 0;
  const auto failed = [](xnn_status s) {
    return error(StatusCode::kInternal, format("failed to read XNNPACK's profile: %s", xnn_status_name(s)));
  };
  xnn_status s = xnn_get_runtime_profiling_info(runtime_, xnn_profile_info_num_operators, sizeof(count), &count, &size);
  if (s != xnn_status_success) return failed(s);
  // Names: one buffer of NUL-separated strings, whose size XNNPACK reports first.
  s = xnn_get_runtime_profiling_info(runtime_, xnn_profile_info_operator_name, 0, nullptr, &size);
  if (s != xnn_status_success && s != xnn_status_out_of_memory) return failed(s);
  std::vector<char> names(size);
  s = xnn_get_runtime_profiling_info(runtime_, xnn_profile_info_operator_name, names.size(), names.data(), &size);
  if (s != xnn_status_success) return failed(s);
  std::vector<uint64_t> micros(count);
  s = xnn_get_runtime_profiling_info(runtime_, xnn_profile_info_operator_timing, micros.size() * sizeof(uint64_t),
                                     micros.data(), &size);
  if (s != xnn_status_success) return failed(s);
  const char* name = names.data();
  for (size_t i = 0; i < count && name < names.data() + names.size(); ++i, name += std::strlen(name) + 1) {
    times->push_back(OperatorTime{name, static_cast<double>(micros[i])});
  }
  return Status::Ok();
#else
  return error(StatusCode::kUnsupported, "operator profiling needs XNNPACK 2024");
#endif
}

}  // namespace

XnnpackInfo xnnpack_info() { return XnnpackInfo{EDGECLR_XNNPACK_API, EDGECLR_XNNPACK_LABEL}; }

Result<std::unique_ptr<Backbone>> Backbone::create(const Model& model, const BackboneOptions& options) {
  auto backbone = std::make_unique<XnnpackBackbone>(model, options);
  EDGECLR_RETURN_IF_ERROR(backbone->build());
  return std::unique_ptr<Backbone>(std::move(backbone));
}

}  // namespace edgeclr
