// fp32 matrix products for training the head, through XNNPACK's fully connected
// operator, so they run on the best kernels of the CPU at hand (AVX2/AVX-512 on x86,
// NEON on ARM). Single-threaded, on the calling thread.
//
// Each call packs its right-hand side and so allocates: for training, never for
// encoding. If XNNPACK cannot run (initialisation or allocation fails) the product is
// computed by plain loops instead, so the result never depends on it being available
// beyond rounding.
#pragma once

#include <cstdint>

namespace edgeclr {

// out (m x n) = a (m x k) . b^T, b given as (n x k), plus bias (n values) when not null.
void gemm_abt(const float* a, const float* b, const float* bias, uint32_t m, uint32_t n, uint32_t k, float* out);

// out (m x n) = a (m x k) . b, b given as (k x n).
void gemm_ab(const float* a, const float* b, uint32_t m, uint32_t n, uint32_t k, float* out);

}  // namespace edgeclr
