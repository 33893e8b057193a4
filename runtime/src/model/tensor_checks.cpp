#include "model/tensor_checks.h"

#include <cmath>

#include "model/model_limits.h"
#include "model/model_storage.h"

namespace edgeclr {

std::string shape_string(const TensorInfo& t) {
  std::string s = "[";
  for (uint32_t i = 0; i < t.rank; ++i) {
    if (i > 0) s += ",";
    s += std::to_string(t.dims[i]);
  }
  return s + "]";
}

const char* dtype_name(schema::DType dtype) {
  switch (dtype) {
    case schema::DType_FLOAT32: return "fp32";
    case schema::DType_INT8: return "int8";
    case schema::DType_INT32: return "int32";
  }
  return "unknown";
}

namespace {

std::string tensor_label(const schema::Tensor& tensor, uint32_t index) {
  const char* name = tensor.name() ? tensor.name()->c_str() : "";
  return format("tensor %u '%s'", index, name);
}

Status check_shape(const schema::Tensor& tensor, const std::string& label, TensorInfo* info) {
  const auto* shape = tensor.shape();
  if (shape == nullptr || shape->size() == 0 || shape->size() > kMaxRank) {
    return error(StatusCode::kInvalidModel,
                 format("%s: rank %u, expected 1 to %u", label.c_str(),
                        shape ? shape->size() : 0u, kMaxRank));
  }
  info->rank = shape->size();
  uint64_t elements = 1;
  for (uint32_t i = 0; i < info->rank; ++i) {
    const uint32_t dim = shape->Get(i);
    info->dims[i] = dim;
    if (dim == 0 || dim > kMaxDim) {
      return error(StatusCode::kInvalidModel,
                   format("%s: dimension %u is %u, expected 1 to %u", label.c_str(), i, dim, kMaxDim));
    }
    elements *= dim;  // cannot overflow: each factor <= 2^20 and we stop above 2^28
    if (elements > kMaxTensorElements) {
      return error(StatusCode::kInvalidModel,
                   format("%s: shape %s has more than %llu elements", label.c_str(),
                          shape_string(*info).c_str(),
                          static_cast<unsigned long long>(kMaxTensorElements)));
    }
  }
  info->elements = elements;
  return Status::Ok();
}

Status check_quantization(const schema::Tensor& tensor, const std::string& label, TensorInfo* info) {
  const auto* q = tensor.quantization();
  if (info->dtype == schema::DType_FLOAT32) {
    if (q != nullptr) {
      return error(StatusCode::kInvalidModel, label + ": fp32 tensor has quantization parameters");
    }
    return Status::Ok();
  }
  if (q == nullptr || q->scale() == nullptr || q->zero_point() == nullptr) {
    return error(StatusCode::kInvalidModel,
                 format("%s: %s tensor needs a scale and a zero point", label.c_str(),
                        dtype_name(info->dtype)));
  }
  const int32_t axis = q->axis();
  uint32_t expected = 1;
  if (axis != -1) {
    if (axis < 0 || static_cast<uint32_t>(axis) >= info->rank) {
      return error(StatusCode::kInvalidModel,
                   format("%s: quantization axis %d outside rank %u", label.c_str(), axis, info->rank));
    }
    expected = info->dims[static_cast<uint32_t>(axis)];
    info->per_channel = true;
    info->quant_axis = axis;
  }
  if (q->scale()->size() != expected || q->zero_point()->size() != expected) {
    return error(StatusCode::kInvalidModel,
                 format("%s: %u scales and %u zero points, expected %u (axis %d)", label.c_str(),
                        q->scale()->size(), q->zero_point()->size(), expected, axis));
  }
  for (uint32_t i = 0; i < expected; ++i) {
    const float scale = q->scale()->Get(i);
    if (!std::isfinite(scale) || !(scale > 0.0f)) {
      return error(StatusCode::kInvalidModel,
                   format("%s: scale %u is %g, expected finite and > 0", label.c_str(), i, scale));
    }
    const int32_t zp = q->zero_point()->Get(i);
    if (zp != 0) info->zero_points_zero = false;
    const bool in_range = info->dtype == schema::DType_INT8 ? (zp >= -128 && zp <= 127) : zp == 0;
    if (!in_range) {
      return error(StatusCode::kInvalidModel,
                   format("%s: zero point %u is %d, out of range for %s", label.c_str(), i, zp,
                          dtype_name(info->dtype)));
    }
  }
  return Status::Ok();
}

Status check_buffer(const schema::Model& model, const schema::Tensor& tensor, const std::string& label,
                    const uint8_t* file_base, TensorInfo* info) {
  const int32_t index = tensor.buffer();
  if (index == -1) return Status::Ok();
  const uint32_t count = model.buffers() ? model.buffers()->size() : 0;
  if (index < 0 || static_cast<uint32_t>(index) >= count) {
    return error(StatusCode::kInvalidModel,
                 format("%s: buffer %d out of range (%u buffers)", label.c_str(), index, count));
  }
  const auto* data = model.buffers()->Get(static_cast<uint32_t>(index))->data();
  const uint64_t needed = info->elements * dtype_size(info->dtype);
  const uint64_t have = data ? data->size() : 0;
  if (have != needed) {
    return error(StatusCode::kInvalidModel,
                 format("%s: shape %s needs %llu bytes, buffer %d has %llu", label.c_str(),
                        shape_string(*info).c_str(), static_cast<unsigned long long>(needed), index,
                        static_cast<unsigned long long>(have)));
  }
  const auto offset = static_cast<size_t>(data->data() - file_base);
  if (offset % 16 != 0) {
    return error(StatusCode::kInvalidModel,
                 format("%s: buffer %d at file offset %zu is not 16-byte aligned", label.c_str(), index,
                        offset));
  }
  info->is_constant = true;
  info->data = data->data();
  return Status::Ok();
}

}  // namespace

Status check_tensors(const schema::Model& model, const uint8_t* file_base,
                     std::vector<TensorInfo>* infos) {
  const auto* tensors = model.backbone()->tensors();
  const uint32_t count = tensors ? tensors->size() : 0;
  if (count == 0 || count > kMaxTensors) {
    return error(StatusCode::kInvalidModel,
                 format("backbone has %u tensors, expected 1 to %u", count, kMaxTensors));
  }
  infos->assign(count, TensorInfo{});
  for (uint32_t i = 0; i < count; ++i) {
    const schema::Tensor& tensor = *tensors->Get(i);
    const std::string label = tensor_label(tensor, i);
    TensorInfo& info = (*infos)[i];
    const auto dtype = tensor.dtype();
    if (dtype < schema::DType_MIN || dtype > schema::DType_MAX) {
      return error(StatusCode::kInvalidModel,
                   format("%s: unknown dtype %d", label.c_str(), static_cast<int>(dtype)));
    }
    info.dtype = dtype;
    EDGECLR_RETURN_IF_ERROR(check_shape(tensor, label, &info));
    EDGECLR_RETURN_IF_ERROR(check_quantization(tensor, label, &info));
    EDGECLR_RETURN_IF_ERROR(check_buffer(model, tensor, label, file_base, &info));
  }
  return Status::Ok();
}

}  // namespace edgeclr
