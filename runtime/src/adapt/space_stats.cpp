#include "adapt/space_stats.h"

#include <algorithm>
#include <cmath>

namespace edgeclr {
namespace {

double squared_distance(const float* a, const float* b, uint32_t dim) {
  double s = 0;
  for (uint32_t i = 0; i < dim; ++i) {
    const double d = double{a[i]} - b[i];
    s += d * d;
  }
  return s;
}

}  // namespace

namespace {

// Reduces symmetric `a` (n x n, row-major, destroyed) to tridiagonal form by Householder
// reflections, which keep the eigenvalues: diagonal d (n), off-diagonal e (n - 1).
void tridiagonalize(std::vector<double>& a, uint32_t n, std::vector<double>* d, std::vector<double>* e) {
  const auto at = [&](uint32_t r, uint32_t c) -> double& { return a[size_t{r} * n + c]; };
  std::vector<double> v(n), w(n);
  for (uint32_t k = 0; k + 2 < n; ++k) {
    double norm = 0;
    for (uint32_t i = k + 1; i < n; ++i) norm += at(i, k) * at(i, k);
    norm = std::sqrt(norm);
    if (norm == 0) continue;
    // H = I - 2 v v^T maps column k below the diagonal onto alpha e1.
    const double alpha = at(k + 1, k) > 0 ? -norm : norm;
    double vnorm = 0;
    for (uint32_t i = k + 1; i < n; ++i) {
      v[i] = at(i, k) - (i == k + 1 ? alpha : 0.0);
      vnorm += v[i] * v[i];
    }
    vnorm = std::sqrt(vnorm);
    if (vnorm == 0) continue;
    for (uint32_t i = k + 1; i < n; ++i) v[i] /= vnorm;
    // Trailing block B -> H B H = B - 2 (v w^T + w v^T), w = B v - (v^T B v) v.
    double vbv = 0;
    for (uint32_t i = k + 1; i < n; ++i) {
      double s = 0;
      for (uint32_t j = k + 1; j < n; ++j) s += at(i, j) * v[j];
      w[i] = s;
      vbv += v[i] * s;
    }
    for (uint32_t i = k + 1; i < n; ++i) w[i] -= vbv * v[i];
    for (uint32_t i = k + 1; i < n; ++i) {
      for (uint32_t j = k + 1; j < n; ++j) at(i, j) -= 2 * (v[i] * w[j] + w[i] * v[j]);
    }
    at(k + 1, k) = at(k, k + 1) = alpha;
    for (uint32_t i = k + 2; i < n; ++i) at(i, k) = at(k, i) = 0;
  }
  d->resize(n);
  e->assign(n > 0 ? n - 1 : 0, 0.0);
  for (uint32_t i = 0; i < n; ++i) (*d)[i] = at(i, i);
  for (uint32_t i = 0; i + 1 < n; ++i) (*e)[i] = at(i + 1, i);
}

// Eigenvalues of the tridiagonal (d, e) below x (Sturm sequence count).
uint32_t count_below(const std::vector<double>& d, const std::vector<double>& e, double x) {
  uint32_t count = 0;
  double q = 1;
  for (size_t i = 0; i < d.size(); ++i) {
    q = d[i] - x - (i > 0 ? e[i - 1] * e[i - 1] / q : 0.0);
    if (q == 0) q = 1e-300;
    count += q < 0;
  }
  return count;
}

}  // namespace

std::vector<double> symmetric_eigenvalues(std::vector<double> a, uint32_t n) {
  std::vector<double> d, e;
  tridiagonalize(a, n, &d, &e);
  // Gershgorin bounds, then bisection for each eigenvalue in turn.
  double lo = 0, hi = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const double r = (i > 0 ? std::abs(e[i - 1]) : 0.0) + (i + 1 < n ? std::abs(e[i]) : 0.0);
    lo = i == 0 ? d[i] - r : std::min(lo, d[i] - r);
    hi = i == 0 ? d[i] + r : std::max(hi, d[i] + r);
  }
  std::vector<double> values(n);
  for (uint32_t k = 0; k < n; ++k) {
    double a_lo = lo, a_hi = hi;  // the k-th smallest lies in [a_lo, a_hi]
    for (int it = 0; it < 100 && a_hi - a_lo > 1e-13 * std::max(1.0, std::abs(a_hi)); ++it) {
      const double mid = 0.5 * (a_lo + a_hi);
      if (count_below(d, e, mid) > k) a_hi = mid; else a_lo = mid;
    }
    values[k] = 0.5 * (a_lo + a_hi);
  }
  return values;
}

double effective_rank(const float* x, uint32_t rows, uint32_t dim) {
  if (rows < 2 || dim == 0) return rows == 0 ? 0.0 : 1.0;
  std::vector<double> mean(dim, 0.0);
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t i = 0; i < dim; ++i) mean[i] += x[size_t{r} * dim + i];
  }
  for (double& m : mean) m /= rows;
  std::vector<double> c(size_t{rows} * dim);
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t i = 0; i < dim; ++i) c[size_t{r} * dim + i] = x[size_t{r} * dim + i] - mean[i];
  }
  // The non-zero eigenvalues of C^T C (dim x dim) and C C^T (rows x rows) agree: use the
  // smaller.
  const bool by_column = dim <= rows;
  const uint32_t n = by_column ? dim : rows;
  std::vector<double> gram(size_t{n} * n, 0.0);
  for (uint32_t p = 0; p < n; ++p) {
    for (uint32_t q = p; q < n; ++q) {
      double s = 0;
      if (by_column) {
        for (uint32_t r = 0; r < rows; ++r) s += c[size_t{r} * dim + p] * c[size_t{r} * dim + q];
      } else {
        for (uint32_t i = 0; i < dim; ++i) s += c[size_t{p} * dim + i] * c[size_t{q} * dim + i];
      }
      gram[size_t{p} * n + q] = gram[size_t{q} * n + p] = s;
    }
  }
  double total = 0;
  std::vector<double> sigma;
  for (double lambda : symmetric_eigenvalues(std::move(gram), n)) {
    sigma.push_back(std::sqrt(std::max(lambda, 0.0)));
    total += sigma.back();
  }
  if (total <= 0) return 1.0;
  double entropy = 0;
  for (double s : sigma) {
    const double p = s / total;
    if (p > 0) entropy -= p * std::log(p);
  }
  return std::exp(entropy);
}

SpaceStats measure_space(const float* x, uint32_t rows, uint32_t dim,
                         const std::vector<std::pair<uint32_t, uint32_t>>& pairs, uint32_t max_rows) {
  SpaceStats stats;
  double aligned = 0;
  for (const auto& [a, p] : pairs) aligned += squared_distance(x + size_t{a} * dim, x + size_t{p} * dim, dim);
  stats.alignment = pairs.empty() ? 0.0 : aligned / pairs.size();

  const uint32_t n = std::min(rows, max_rows);
  double sum = 0;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = i + 1; j < n; ++j) sum += std::exp(-2.0 * squared_distance(x + size_t{i} * dim, x + size_t{j} * dim, dim));
  }
  const double count = 0.5 * double(n) * (n - 1);
  stats.uniformity = count > 0 ? std::log(std::max(sum / count, 1e-300)) : 0.0;
  stats.effective_rank = effective_rank(x, n, dim);
  return stats;
}

}  // namespace edgeclr
