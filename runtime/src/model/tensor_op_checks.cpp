#include "model/tensor_op_checks.h"

#include <cmath>

#include "model/model_limits.h"

namespace edgeclr {
namespace {

// Every input and the output are computed fp32 tensors (layer norm's gamma and beta are
// checked by its own rule).
Status expect_fp32_activations(const OpContext& ctx, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    const TensorInfo& t = ctx.input(i);
    if (t.dtype != schema::DType_FLOAT32) return ctx.fail(format("input %u is %s; runs in fp32 only", i, dtype_name(t.dtype)));
  }
  if (ctx.output().dtype != schema::DType_FLOAT32) return ctx.fail("output must be fp32");
  return Status::Ok();
}

Status check_concat(const OpContext& ctx, const schema::ConcatOptions& o) {
  const TensorInfo& first = ctx.input(0);
  const uint32_t axis = o.axis();
  if (axis >= first.rank) return ctx.fail(format("axis %u outside rank %u", axis, first.rank));
  Dims out = dims_of(first);
  uint64_t along = 0;
  for (uint32_t i = 0; i < ctx.input_count(); ++i) {
    const TensorInfo& t = ctx.input(i);
    bool fits = t.rank == first.rank;
    for (uint32_t d = 0; fits && d < t.rank; ++d) fits = d == axis || t.dims[d] == first.dims[d];
    if (!fits) {
      return ctx.fail(format("input %u %s does not fit input 0 %s along axis %u", i, shape_string(t).c_str(),
                             shape_string(first).c_str(), axis));
    }
    along += t.dims[axis];
  }
  if (along > kMaxDim) return ctx.fail(format("concatenated axis %u is %llu, above %u", axis, (unsigned long long)along, kMaxDim));
  out[axis] = static_cast<uint32_t>(along);
  return expect_output_shape(ctx, out);
}

Status check_slice(const OpContext& ctx, const schema::SliceOptions& o) {
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& y = ctx.output();
  const auto* begin = o.begin();
  if (begin == nullptr || begin->size() != x.rank || y.rank != x.rank) {
    return ctx.fail(format("begin has %u values and the output rank %u; the input %s needs %u of each",
                           begin ? begin->size() : 0u, y.rank, shape_string(x).c_str(), x.rank));
  }
  for (uint32_t d = 0; d < x.rank; ++d) {
    if (uint64_t{begin->Get(d)} + y.dims[d] > x.dims[d]) {
      return ctx.fail(format("slice of %u from %u on axis %u leaves input %s", y.dims[d], begin->Get(d), d,
                             shape_string(x).c_str()));
    }
  }
  return Status::Ok();
}

Status check_transpose(const OpContext& ctx, const schema::TransposeOptions& o) {
  const TensorInfo& x = ctx.input(0);
  const auto* perm = o.perm();
  if (perm == nullptr || perm->size() != x.rank) {
    return ctx.fail(format("perm has %u values, the input %s needs %u", perm ? perm->size() : 0u,
                           shape_string(x).c_str(), x.rank));
  }
  Dims out(x.rank);
  uint32_t seen = 0;  // bit d: d already used
  for (uint32_t i = 0; i < x.rank; ++i) {
    const uint32_t p = perm->Get(i);
    if (p >= x.rank || (seen & (1u << p)) != 0) return ctx.fail("perm is not a permutation of the input's axes");
    seen |= 1u << p;
    out[i] = x.dims[p];
  }
  return expect_output_shape(ctx, out);
}

// a [..., M, K] x b [..., K, N] (or [..., N, K]) -> [..., M, N], rank 3 or more, the
// batch dims equal (XNNPACK 2024's batch matrix multiply; no broadcasting).
Status check_batch_matmul(const OpContext& ctx, const schema::BatchMatMulOptions& o) {
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  if (a.rank < 3 || b.rank != a.rank) {
    return ctx.fail(format("inputs %s and %s: both need the same rank, at least 3", shape_string(a).c_str(),
                           shape_string(b).c_str()));
  }
  const uint32_t r = a.rank;
  const uint32_t m = a.dims[r - 2], k = a.dims[r - 1];
  const uint32_t bk = o.transpose_b() ? b.dims[r - 1] : b.dims[r - 2];
  const uint32_t n = o.transpose_b() ? b.dims[r - 2] : b.dims[r - 1];
  bool fits = bk == k;
  for (uint32_t d = 0; fits && d + 2 < r; ++d) fits = b.dims[d] == a.dims[d];
  if (!fits) {
    return ctx.fail(format("inputs %s and %s%s do not multiply", shape_string(a).c_str(), shape_string(b).c_str(),
                           o.transpose_b() ? " (b transposed)" : ""));
  }
  Dims out = dims_of(a);
  out[r - 2] = m;
  out[r - 1] = n;
  return expect_output_shape(ctx, out);
}

Status check_mean(const OpContext& ctx, const schema::MeanOptions& o) {
  const TensorInfo& x = ctx.input(0);
  const auto* axes = o.axes();
  if (axes == nullptr || axes->size() == 0) return ctx.fail("no axes");
  Dims out;
  uint32_t next = 0;  // the next axis of `axes` to meet
  for (uint32_t d = 0; d < x.rank; ++d) {
    const bool reduced = next < axes->size() && axes->Get(next) == d;
    if (reduced) ++next;
    if (!reduced) out.push_back(x.dims[d]);
    else if (o.keep_dims()) out.push_back(1);
  }
  if (next != axes->size()) return ctx.fail(format("axes must be ascending, distinct and below the rank %u", x.rank));
  if (out.empty()) out.push_back(1);  // a mean of everything without kept dims is one value
  return expect_output_shape(ctx, out);
}

Status check_layer_norm(const OpContext& ctx, const schema::LayerNormOptions& o) {
  const TensorInfo& x = ctx.input(0);
  if (!std::isfinite(o.epsilon()) || o.epsilon() < 0) return ctx.fail(format("epsilon %g is not finite and >= 0", o.epsilon()));
  const uint32_t c = x.dims[x.rank - 1];
  for (uint32_t i = 1; i < ctx.input_count(); ++i) {
    const TensorInfo& p = ctx.input(i);
    const char* what = i == 1 ? "gamma" : "beta";
    EDGECLR_RETURN_IF_ERROR(expect_constant(ctx, p, what));
    EDGECLR_RETURN_IF_ERROR(expect_dtype(ctx, p, what, schema::DType_FLOAT32));
    if (p.rank != 1 || p.dims[0] != c) return ctx.fail(format("%s has shape %s, expected [%u]", what, shape_string(p).c_str(), c));
  }
  return expect_output_shape(ctx, dims_of(x));
}

}  // namespace

bool is_tensor_operator(schema::OpOptions type) {
  return type >= schema::OpOptions_ConcatOptions && type <= schema::OpOptions_GeluOptions;
}

Status check_tensor_operator(const OpContext& ctx) {
  const schema::OpOptions type = ctx.op.options_type();
  if (!is_tensor_operator(type)) return Status::Ok();
  const bool layer_norm = type == schema::OpOptions_LayerNormOptions;
  EDGECLR_RETURN_IF_ERROR(expect_fp32_activations(ctx, layer_norm ? 1 : ctx.input_count()));
  switch (type) {
    case schema::OpOptions_ConcatOptions: return check_concat(ctx, *ctx.op.options_as_ConcatOptions());
    case schema::OpOptions_SliceOptions: return check_slice(ctx, *ctx.op.options_as_SliceOptions());
    case schema::OpOptions_TransposeOptions: return check_transpose(ctx, *ctx.op.options_as_TransposeOptions());
    case schema::OpOptions_BatchMatMulOptions: return check_batch_matmul(ctx, *ctx.op.options_as_BatchMatMulOptions());
    case schema::OpOptions_MeanOptions: return check_mean(ctx, *ctx.op.options_as_MeanOptions());
    case schema::OpOptions_LayerNormOptions: return check_layer_norm(ctx, *ctx.op.options_as_LayerNormOptions());
    default: return expect_output_shape(ctx, dims_of(ctx.input(0)));  // softmax, gelu
  }
}

}  // namespace edgeclr
