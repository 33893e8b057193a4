// Health of an embedding space, measured every adaptation epoch to catch collapse
// (Wang & Isola 2020; Roy & Vetterli 2007). Inputs are unit rows, row-major.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace edgeclr {

struct SpaceStats {
  double alignment = 0;       // mean |a - p|^2 over positive pairs: 0 = positives coincide, 4 = opposite
  double uniformity = 0;      // log mean exp(-2 |x - y|^2) over distinct rows: <= 0; lower is more spread, 0 = one point
  double effective_rank = 0;  // exp(entropy of the normalised singular values of the centred rows): 1 .. dim
};

// `pairs` index rows of `x` (rows x dim). Uniformity and rank use at most the first
// `max_rows` rows (the pairwise term is quadratic).
SpaceStats measure_space(const float* x, uint32_t rows, uint32_t dim,
                         const std::vector<std::pair<uint32_t, uint32_t>>& pairs, uint32_t max_rows = 1024);

// Effective rank alone (Roy & Vetterli): of the centred rows' singular values.
double effective_rank(const float* x, uint32_t rows, uint32_t dim);

// Eigenvalues of the symmetric n x n matrix `a` (row-major), ascending: Householder
// tridiagonalisation, then bisection on Sturm sequence counts.
std::vector<double> symmetric_eigenvalues(std::vector<double> a, uint32_t n);

}  // namespace edgeclr
