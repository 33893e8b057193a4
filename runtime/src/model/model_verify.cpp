#include "model/model_verify.h"

#include <cmath>

#include "model/backbone_hash.h"
#include "model/model_checksum.h"
#include "model/model_limits.h"
#include "model/op_checks.h"
#include "model/tensor_checks.h"

namespace edgeclr {
namespace {

Status invalid(const std::string& why) { return error(StatusCode::kInvalidModel, why); }

Status check_structure(const uint8_t* data, size_t size, const schema::Model** root) {
  if (size < 8 || !schema::ModelBufferHasIdentifier(data)) {
    return invalid("not an edgeclr model (file identifier is not 'ECLR')");
  }
  flatbuffers::Verifier verifier(data, size);
  if (!schema::VerifyModelBuffer(verifier)) {
    return invalid(format("corrupt file: FlatBuffers verification failed (%zu bytes)", size));
  }
  const schema::Model* model = schema::GetModel(data);
  if (model->format_version() == 0 || model->format_version() > kFormatVersion) {
    return error(StatusCode::kUnsupported,
                 format("format version %u, this build reads 1 to %u", model->format_version(), kFormatVersion));
  }
  const uint8_t* field = checksum_field(*model);
  if (field == nullptr) return invalid("no checksum");
  const uint64_t actual = compute_file_checksum(data, size, field, hash_kind_for_format(model->format_version()));
  if (actual != model->checksum()) {
    return invalid(format("checksum mismatch: file says %016llx, content gives %016llx (corrupt or edited)",
                          static_cast<unsigned long long>(model->checksum()),
                          static_cast<unsigned long long>(actual)));
  }
  if (model->input() == nullptr || model->backbone() == nullptr || model->head() == nullptr) {
    return invalid("missing input spec, backbone or head");
  }
  *root = model;
  return Status::Ok();
}

Status check_per_channel_floats(const flatbuffers::Vector<float>* v, const char* what, uint32_t channels,
                                bool positive) {
  if (v == nullptr || v->size() != channels) {
    return invalid(format("input spec: %s has %u values, expected %u (one per channel)", what,
                          v ? v->size() : 0, channels));
  }
  for (uint32_t c = 0; c < channels; ++c) {
    const float x = v->Get(c);
    if (!std::isfinite(x) || (positive && !(x > 0.0f))) {
      return invalid(format("input spec: %s[%u] is %g, expected finite%s", what, c, x, positive ? " and > 0" : ""));
    }
  }
  return Status::Ok();
}

Status check_input_spec(const schema::InputSpec& in) {
  if (in.height() == 0 || in.width() == 0 || in.height() > kMaxImageSide || in.width() > kMaxImageSide) {
    return invalid(format("input spec: size %ux%u, expected 1 to %u per side", in.height(), in.width(),
                          kMaxImageSide));
  }
  const bool gray = in.channels() == 1 && in.color() == schema::ColorSpace_GRAY;
  const bool rgb = in.channels() == 3 && in.color() == schema::ColorSpace_RGB;
  if (!gray && !rgb) {
    return invalid(format("input spec: %u channels with colour %d, expected 1 gray or 3 RGB", in.channels(),
                          static_cast<int>(in.color())));
  }
  if (in.layout() != schema::Layout_NHWC) return invalid("input spec: layout must be NHWC");
  if (in.resize() < schema::ResizePolicy_MIN || in.resize() > schema::ResizePolicy_MAX) {
    return invalid(format("input spec: unknown resize policy %d", static_cast<int>(in.resize())));
  }
  if (in.resize_shorter_side() > kMaxImageSide) {
    return invalid(format("input spec: resize_shorter_side %u above %u", in.resize_shorter_side(), kMaxImageSide));
  }
  if (in.resize() == schema::ResizePolicy_SHORTER_SIDE_CROP && in.resize_shorter_side() != 0 &&
      in.resize_shorter_side() < std::max(in.height(), in.width())) {
    return invalid(format("input spec: resize_shorter_side %u is smaller than the crop %ux%u",
                          in.resize_shorter_side(), in.height(), in.width()));
  }
  EDGECLR_RETURN_IF_ERROR(check_per_channel_floats(in.mean(), "mean", in.channels(), false));
  return check_per_channel_floats(in.std(), "std", in.channels(), true);
}

Status check_index_list(const flatbuffers::Vector<uint32_t>* v, uint32_t op_index, const char* what,
                        uint32_t tensor_count) {
  if (v == nullptr) return invalid(format("operator %u: no %s", op_index, what));
  for (uint32_t i = 0; i < v->size(); ++i) {
    if (v->Get(i) >= tensor_count) {
      return invalid(format("operator %u: %s %u is tensor %u, out of range (%u tensors)", op_index, what, i,
                            v->Get(i), tensor_count));
    }
  }
  return Status::Ok();
}

// Operators run in file order: each reads tensors that are constants, the graph input,
// or written by an earlier operator, and writes tensors nobody wrote before.
Status check_graph(const schema::Backbone& backbone, const std::vector<TensorInfo>& tensors) {
  const auto count = static_cast<uint32_t>(tensors.size());
  if (backbone.input() >= count || backbone.feature() >= count) {
    return invalid(format("backbone input %u or feature %u out of range (%u tensors)", backbone.input(),
                          backbone.feature(), count));
  }
  const auto* ops = backbone.operators();
  const uint32_t op_count = ops ? ops->size() : 0;
  if (op_count == 0 || op_count > kMaxOperators) {
    return invalid(format("backbone has %u operators, expected 1 to %u", op_count, kMaxOperators));
  }
  std::vector<bool> available(count);
  for (uint32_t t = 0; t < count; ++t) available[t] = tensors[t].is_constant;
  available[backbone.input()] = true;
  for (uint32_t i = 0; i < op_count; ++i) {
    const schema::Operator& op = *ops->Get(i);
    EDGECLR_RETURN_IF_ERROR(check_index_list(op.inputs(), i, "input", count));
    EDGECLR_RETURN_IF_ERROR(check_index_list(op.outputs(), i, "output", count));
    for (uint32_t t : *op.inputs()) {
      if (!available[t]) {
        return invalid(format("operator %u reads tensor %u before any operator writes it (graph order)", i, t));
      }
    }
    EDGECLR_RETURN_IF_ERROR(check_operator(op, i, tensors));
    for (uint32_t t : *op.outputs()) {
      if (available[t]) {
        return invalid(format("operator %u writes tensor %u, which is a constant, the input or already written",
                              i, t));
      }
      available[t] = true;
    }
  }
  if (backbone.feature() == backbone.input() || !available[backbone.feature()] ||
      tensors[backbone.feature()].is_constant) {
    return invalid(format("feature tensor %u is not written by any operator", backbone.feature()));
  }
  return Status::Ok();
}

Status check_endpoints(const schema::InputSpec& spec, const schema::Backbone& backbone,
                       const std::vector<TensorInfo>& tensors, uint32_t* feature_dim) {
  const TensorInfo& in = tensors[backbone.input()];
  const bool input_ok = in.dtype == schema::DType_FLOAT32 && !in.is_constant && in.rank == 4 && in.dims[0] == 1 &&
                        in.dims[1] == spec.height() && in.dims[2] == spec.width() && in.dims[3] == spec.channels();
  if (!input_ok) {
    return invalid(format("input tensor %u is %s %s, expected fp32 [1,%u,%u,%u] from the input spec",
                          backbone.input(), dtype_name(in.dtype), shape_string(in).c_str(), spec.height(),
                          spec.width(), spec.channels()));
  }
  const TensorInfo& f = tensors[backbone.feature()];
  bool flat = f.dtype == schema::DType_FLOAT32 && f.dims[0] == 1;
  for (uint32_t d = 1; d + 1 < f.rank; ++d) flat = flat && f.dims[d] == 1;
  if (!flat || f.rank < 2 || f.dims[f.rank - 1] > kMaxHeadDim) {
    return invalid(format("feature tensor %u is %s %s, expected fp32 [1,D] or [1,1,1,D] with D <= %u",
                          backbone.feature(), dtype_name(f.dtype), shape_string(f).c_str(), kMaxHeadDim));
  }
  *feature_dim = f.dims[f.rank - 1];
  return Status::Ok();
}

Status check_finite(const flatbuffers::Vector<float>* v, uint32_t layer, const char* what) {
  if (v == nullptr) return Status::Ok();
  for (uint32_t i = 0; i < v->size(); ++i) {
    if (!std::isfinite(v->Get(i))) {
      return invalid(format("head layer %u: %s[%u] is %g, expected finite", layer, what, i, v->Get(i)));
    }
  }
  return Status::Ok();
}

}  // namespace

Status check_head(const schema::Head& head, uint32_t feature_dim, uint32_t* embedding_dim) {
  const auto* layers = head.layers();
  const uint32_t count = layers ? layers->size() : 0;
  if (count > kMaxHeadLayers) return invalid(format("head has %u layers, the limit is %u", count, kMaxHeadLayers));
  uint32_t dim = feature_dim;
  for (uint32_t i = 0; i < count; ++i) {
    const schema::DenseLayer& layer = *layers->Get(i);
    if (layer.in_dim() != dim || layer.out_dim() == 0 || layer.out_dim() > kMaxHeadDim) {
      return invalid(format("head layer %u: %u -> %u, expected input %u and output 1 to %u", i, layer.in_dim(),
                            layer.out_dim(), dim, kMaxHeadDim));
    }
    const uint64_t weights = uint64_t{layer.in_dim()} * layer.out_dim();
    const uint32_t have_w = layer.weight() ? layer.weight()->size() : 0;
    const uint32_t have_b = layer.bias() ? layer.bias()->size() : 0;
    if (have_w != weights || (have_b != 0 && have_b != layer.out_dim())) {
      return invalid(format("head layer %u: %u weights and %u biases, expected %llu and %u (or 0)", i, have_w,
                            have_b, static_cast<unsigned long long>(weights), layer.out_dim()));
    }
    if (layer.activation() < schema::Activation_MIN || layer.activation() > schema::Activation_MAX) {
      return invalid(format("head layer %u: unknown activation %d", i, static_cast<int>(layer.activation())));
    }
    EDGECLR_RETURN_IF_ERROR(check_finite(layer.weight(), i, "weight"));
    EDGECLR_RETURN_IF_ERROR(check_finite(layer.bias(), i, "bias"));
    dim = layer.out_dim();
  }
  if (head.embedding_dim() != dim) {
    return invalid(format("head embedding_dim is %u, its layers give %u", head.embedding_dim(), dim));
  }
  *embedding_dim = dim;
  return Status::Ok();
}

Status verify_model(const uint8_t* data, size_t size, VerifiedModel* out) {
  VerifiedModel result;
  EDGECLR_RETURN_IF_ERROR(check_structure(data, size, &result.root));
  const schema::Model& model = *result.root;
  EDGECLR_RETURN_IF_ERROR(check_input_spec(*model.input()));
  EDGECLR_RETURN_IF_ERROR(check_tensors(model, data, &result.tensors));
  EDGECLR_RETURN_IF_ERROR(check_graph(*model.backbone(), result.tensors));
  EDGECLR_RETURN_IF_ERROR(check_endpoints(*model.input(), *model.backbone(), result.tensors, &result.feature_dim));
  EDGECLR_RETURN_IF_ERROR(check_head(*model.head(), result.feature_dim, &result.embedding_dim));
  result.backbone_hash = compute_backbone_hash(model, result.tensors);
  const uint64_t stated = model.provenance() ? model.provenance()->backbone_hash() : 0;
  if (stated != result.backbone_hash) {
    return invalid(format("backbone_hash is %016llx, the backbone's content gives %016llx",
                          static_cast<unsigned long long>(stated),
                          static_cast<unsigned long long>(result.backbone_hash)));
  }
  *out = std::move(result);
  return Status::Ok();
}

}  // namespace edgeclr
