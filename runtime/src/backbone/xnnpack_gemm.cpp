// The head's matrix products on XNNPACK's fully connected operator (both generations:
// 2024 splits setup into reshape + setup and takes caches at creation).
#include "backbone/dense_gemm.h"

#include "backbone/xnnpack_api.h"

#include <cmath>
#include <cstddef>
#include <limits>

namespace edgeclr {
namespace {

bool xnnpack_ready() {
  static const bool ready = xnn_initialize(nullptr) == xnn_status_success;
  return ready;
}

// out (m x n) = a (m x k) . B + bias through a fully connected operator whose kernel is
// `kernel`: (n x k) normally, (k x n) with XNN_FLAG_TRANSPOSE_WEIGHTS.
bool run_fully_connected(const float* a, const float* kernel, const float* bias, uint32_t m, uint32_t n, uint32_t k,
                         uint32_t flags, float* out) {
  if (!xnnpack_ready()) return false;
  const float inf = std::numeric_limits<float>::infinity();
  xnn_operator_t op = nullptr;
#if EDGECLR_XNNPACK_API >= 2024
  if (xnn_create_fully_connected_nc_f32(k, n, k, n, kernel, bias, -inf, inf, flags, nullptr, nullptr, &op) !=
      xnn_status_success) {
    return false;
  }
  const bool ok = xnn_reshape_fully_connected_nc_f32(op, m, nullptr) == xnn_status_success &&
                  xnn_setup_fully_connected_nc_f32(op, a, out) == xnn_status_success &&
                  xnn_run_operator(op, nullptr) == xnn_status_success;
#else
  if (xnn_create_fully_connected_nc_f32(k, n, k, n, kernel, bias, -inf, inf, flags, &op) != xnn_status_success) {
    return false;
  }
  const bool ok = xnn_setup_fully_connected_nc_f32(op, m, a, out, nullptr) == xnn_status_success &&
                  xnn_run_operator(op, nullptr) == xnn_status_success;
#endif
  xnn_delete_operator(op);
  return ok;
}

}  // namespace

void gemm_abt(const float* a, const float* b, const float* bias, uint32_t m, uint32_t n, uint32_t k, float* out) {
  if (run_fully_connected(a, b, bias, m, n, k, 0, out)) return;
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      float acc = bias ? bias[j] : 0.0f;
      for (uint32_t p = 0; p < k; ++p) acc += a[size_t{i} * k + p] * b[size_t{j} * k + p];
      out[size_t{i} * n + j] = acc;
    }
  }
}

void gemm_ab(const float* a, const float* b, uint32_t m, uint32_t n, uint32_t k, float* out) {
  if (run_fully_connected(a, b, nullptr, m, n, k, XNN_FLAG_TRANSPOSE_WEIGHTS, out)) return;
  for (uint32_t i = 0; i < m; ++i) {
    float* row = out + size_t{i} * n;
    for (uint32_t j = 0; j < n; ++j) row[j] = 0.0f;
    for (uint32_t p = 0; p < k; ++p) {
      const float s = a[size_t{i} * k + p];
      for (uint32_t j = 0; j < n; ++j) row[j] += s * b[size_t{p} * n + j];
    }
  }
}

}  // namespace edgeclr
