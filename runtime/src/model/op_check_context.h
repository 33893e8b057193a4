// What every operator check shares: the operator under check, its tensors, and checks
// that fail with the operator named ("operator 3 'layer1.conv' (conv2d): ..."). Private
// to runtime/src/model/.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "model/tensor_info.h"

namespace edgeclr {

using Dims = std::vector<uint32_t>;

struct OpContext {
  const schema::Operator& op;
  const std::vector<TensorInfo>& tensors;
  std::string label;  // "operator 3 'layer1.conv' (conv2d)"

  const TensorInfo& input(uint32_t i) const { return tensors[op.inputs()->Get(i)]; }
  const TensorInfo& output() const { return tensors[op.outputs()->Get(0)]; }
  uint32_t input_count() const { return op.inputs()->size(); }

  Status fail(const std::string& why) const {
    return error(StatusCode::kInvalidModel, label + ": " + why);
  }
};

inline Dims dims_of(const TensorInfo& t) { return Dims(t.dims.begin(), t.dims.begin() + t.rank); }

inline std::string dims_string(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

inline Status expect_output_shape(const OpContext& ctx, const Dims& expected) {
  if (dims_of(ctx.output()) != expected) {
    return ctx.fail(format("output shape %s, expected %s", shape_string(ctx.output()).c_str(),
                           dims_string(expected).c_str()));
  }
  return Status::Ok();
}

inline Status expect_rank(const OpContext& ctx, const TensorInfo& t, const char* what, uint32_t rank) {
  if (t.rank != rank) {
    return ctx.fail(format("%s has shape %s, expected rank %u", what, shape_string(t).c_str(), rank));
  }
  return Status::Ok();
}

inline Status expect_dtype(const OpContext& ctx, const TensorInfo& t, const char* what, schema::DType dtype) {
  if (t.dtype != dtype) {
    return ctx.fail(format("%s is %s, expected %s", what, dtype_name(t.dtype), dtype_name(dtype)));
  }
  return Status::Ok();
}

inline Status expect_constant(const OpContext& ctx, const TensorInfo& t, const char* what) {
  if (!t.is_constant) return ctx.fail(format("%s must be a constant (have a buffer)", what));
  return Status::Ok();
}

}  // namespace edgeclr
