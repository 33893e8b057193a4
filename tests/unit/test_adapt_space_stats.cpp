// Space health measures (adapt/space_stats.h): eigenvalues of matrices built from known
// spectra, effective rank of rows with known singular values, and alignment and
// uniformity of layouts whose distances are known exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "adapt/space_stats.h"

using namespace edgeclr;

namespace {

// n x n orthogonal Q as a product of `count` Givens rotations in random planes.
std::vector<double> random_rotation(uint32_t n, uint32_t count, uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<uint32_t> index(0, n - 1);
  std::uniform_real_distribution<double> angle(-M_PI, M_PI);
  std::vector<double> q(size_t{n} * n, 0.0);
  for (uint32_t i = 0; i < n; ++i) q[size_t{i} * n + i] = 1.0;
  for (uint32_t r = 0; r < count; ++r) {
    const uint32_t i = index(gen);
    uint32_t j = index(gen);
    if (i == j) j = (i + 1) % n;
    const double theta = angle(gen), c = std::cos(theta), s = std::sin(theta);
    for (uint32_t row = 0; row < n; ++row) {  // Q <- Q G(i, j)
      const double a = q[size_t{row} * n + i], b = q[size_t{row} * n + j];
      q[size_t{row} * n + i] = c * a - s * b;
      q[size_t{row} * n + j] = s * a + c * b;
    }
  }
  return q;
}

// Q diag(lambda) Q^T.
std::vector<double> with_spectrum(const std::vector<double>& lambda, uint32_t seed) {
  const auto n = static_cast<uint32_t>(lambda.size());
  const std::vector<double> q = random_rotation(n, 4 * n, seed);
  std::vector<double> a(size_t{n} * n, 0.0);
  for (uint32_t r = 0; r < n; ++r) {
    for (uint32_t c = 0; c < n; ++c) {
      double s = 0;
      for (uint32_t k = 0; k < n; ++k) s += q[size_t{r} * n + k] * lambda[k] * q[size_t{c} * n + k];
      a[size_t{r} * n + c] = s;
    }
  }
  return a;
}

// Householder and bisection are backward stable: errors of order n eps |A| (1e-14 |A|
// at n = 64) plus the bisection stop (1e-13 relative). 1e-9 |A| leaves a wide margin, while
// a lost, doubled or shifted eigenvalue is off by the spacing of the spectrum (>= 0.1 here).
void expect_spectrum(std::vector<double> expected, const std::vector<double>& a) {
  const auto n = static_cast<uint32_t>(expected.size());
  const std::vector<double> got = symmetric_eigenvalues(a, n);
  std::sort(expected.begin(), expected.end());
  double scale = 1.0;
  for (double l : expected) scale = std::max(scale, std::abs(l));
  REQUIRE(got.size() == expected.size());
  CHECK(std::is_sorted(got.begin(), got.end()));
  for (size_t k = 0; k < n; ++k) {
    INFO("eigenvalue ", k, " of ", n, ": got ", got[k], ", expected ", expected[k]);
    CHECK(std::abs(got[k] - expected[k]) <= 1e-9 * scale);
  }
}

// Rows +-(Q e_i) * spread[i] for each i: centred, their singular values are
// sqrt(2) spread[i] in dim `dim` (rotated by Q so no axis is special).
std::vector<float> spread_rows(const std::vector<double>& spread, uint32_t dim, uint32_t seed) {
  const std::vector<double> q = random_rotation(dim, 4 * dim, seed);
  std::vector<float> rows;
  for (size_t i = 0; i < spread.size(); ++i) {
    for (double sign : {1.0, -1.0}) {
      for (uint32_t d = 0; d < dim; ++d) rows.push_back(static_cast<float>(sign * spread[i] * q[size_t{d} * dim + i]));
    }
  }
  return rows;
}

// exp(entropy) of the normalised values (Roy & Vetterli's effective rank).
double entropy_rank(const std::vector<double>& sigma) {
  double total = 0, h = 0;
  for (double s : sigma) total += s;
  for (double s : sigma) h -= s / total * std::log(s / total);
  return std::exp(h);
}

}  // namespace

TEST_CASE("adaptation: symmetric_eigenvalues recovers the spectrum of rotated diagonal matrices (n = 5, 64)") {
  expect_spectrum({-2.5, 0.3, 1.0, 4.0, 9.75}, with_spectrum({-2.5, 0.3, 1.0, 4.0, 9.75}, 1));
  std::mt19937_64 gen(2);
  std::uniform_real_distribution<double> value(-10.0, 10.0);
  std::vector<double> lambda(64);
  for (size_t i = 0; i < lambda.size(); ++i) lambda[i] = value(gen);
  expect_spectrum(lambda, with_spectrum(lambda, 3));
  // Large and tiny magnitudes together (a Gram matrix of nearly collapsed rows).
  expect_spectrum({1e6, 3e5, 10.0, 1.0, 0.0, 0.0}, with_spectrum({1e6, 3e5, 10.0, 1.0, 0.0, 0.0}, 4));
}

TEST_CASE("adaptation: symmetric_eigenvalues: diagonal, repeated, decoupled, tiny matrices") {
  expect_spectrum({3, -1, 7, 0, 2}, {3, 0, 0, 0, 0,  //
                                     0, -1, 0, 0, 0,  //
                                     0, 0, 7, 0, 0,   //
                                     0, 0, 0, 0, 0,   //
                                     0, 0, 0, 0, 2});
  expect_spectrum({2, 2, 2, 5, 5, -1}, with_spectrum({2, 2, 2, 5, 5, -1}, 5));
  expect_spectrum({4, 4, 4, 4}, with_spectrum({4, 4, 4, 4}, 6));
  // Zero diagonal and a zero coupling (the tridiagonal splits; Sturm pivots hit 0).
  expect_spectrum({-1, 1, 5}, {0, 1, 0,  //
                               1, 0, 0,  //
                               0, 0, 5});
  expect_spectrum({0, 0, 0}, std::vector<double>(9, 0.0));
  expect_spectrum({4}, {4});
  expect_spectrum({-3}, {-3});
  expect_spectrum({1, 3}, {2, 1, 1, 2});
  expect_spectrum({-1, 1}, {0, 1, 1, 0});
  CHECK(symmetric_eigenvalues({}, 0).empty());
}

TEST_CASE("adaptation: effective_rank of rows spanning k equal directions is k") {
  for (uint32_t k : {1u, 3u, 10u, 16u}) {  // 2k rows: fewer and more rows than the 16 dimensions
    const std::vector<float> rows = spread_rows(std::vector<double>(k, 0.7), 16, 10 + k);
    INFO("k ", k);
    // Computed zeros come back as ~1e-13, i.e. singular values ~3e-7: each adds ~3e-6 to
    // the entropy (< 1e-4 for 15 of them), so 1e-3 is ample and still far from k +- 1.
    CHECK(effective_rank(rows.data(), 2 * k, 16) == doctest::Approx(k).epsilon(1e-3));
  }
}

TEST_CASE("adaptation: effective_rank weighs singular values (not their squares), ignores the mean") {
  // Spreads 1 and 0.5: singular values in ratio 2:1 -> exp(H(2/3, 1/3)) = 1.8899; with
  // eigenvalues (4:1) it would be 1.6494.
  std::vector<float> rows = spread_rows({1.0, 0.5}, 6, 20);
  const double expected = entropy_rank({2.0, 1.0});
  CHECK(effective_rank(rows.data(), 4, 6) == doctest::Approx(expected).epsilon(1e-6));
  // The same rows moved away from the origin: centring removes the offset.
  for (size_t i = 0; i < rows.size(); ++i) rows[i] += (i % 6 == 2) ? 3.0f : -1.0f;
  CHECK(effective_rank(rows.data(), 4, 6) == doctest::Approx(expected).epsilon(1e-6));
  // Each row twice (8 rows in 6 dims: the dim x dim Gram is used instead of rows x rows).
  std::vector<float> twice = rows;
  twice.insert(twice.end(), rows.begin(), rows.end());
  CHECK(effective_rank(twice.data(), 8, 6) == doctest::Approx(expected).epsilon(1e-6));
  // Three spreads 3:2:1 in dim 4 with 6 rows.
  const std::vector<float> three = spread_rows({3.0, 2.0, 1.0}, 4, 21);
  CHECK(effective_rank(three.data(), 6, 4) == doctest::Approx(entropy_rank({3, 2, 1})).epsilon(1e-6));
}

TEST_CASE("adaptation: effective_rank of equal rows is 1") {
  std::vector<float> rows;
  for (int r = 0; r < 12; ++r) rows.insert(rows.end(), {0.6f, 0.0f, -0.8f});
  CHECK(effective_rank(rows.data(), 12, 3) == 1.0);
  CHECK(effective_rank(rows.data(), 1, 3) == 1.0);
}

TEST_CASE("adaptation: measure_space: alignment 0 for identical pairs and 4 for antipodal ones") {
  // +-e_i in dim 8: rows 2i = e_i, 2i + 1 = -e_i.
  const uint32_t dim = 8;
  std::vector<float> x(2 * dim * dim, 0.0f);
  for (uint32_t i = 0; i < dim; ++i) {
    x[size_t{2 * i} * dim + i] = 1.0f;
    x[size_t{2 * i + 1} * dim + i] = -1.0f;
  }
  std::vector<std::pair<uint32_t, uint32_t>> identical, antipodal, mixed;
  for (uint32_t i = 0; i < dim; ++i) {
    identical.emplace_back(2 * i, 2 * i);
    antipodal.emplace_back(2 * i, 2 * i + 1);
  }
  mixed = {{0, 0}, {0, 1}, {0, 2}};  // |.|^2 = 0, 4, 2
  CHECK(measure_space(x.data(), 2 * dim, dim, identical).alignment == 0.0);
  CHECK(measure_space(x.data(), 2 * dim, dim, antipodal).alignment == doctest::Approx(4.0).epsilon(1e-12));
  CHECK(measure_space(x.data(), 2 * dim, dim, mixed).alignment == doctest::Approx(2.0).epsilon(1e-12));
  CHECK(measure_space(x.data(), 2 * dim, dim, {}).alignment == 0.0);
}

TEST_CASE("adaptation: measure_space: uniformity 0 when collapsed, the exact value when spread") {
  const uint32_t dim = 8, rows = 2 * dim;
  std::vector<float> same;
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t d = 0; d < dim; ++d) same.push_back(d == 3 ? 1.0f : 0.0f);
  }
  const SpaceStats collapsed = measure_space(same.data(), rows, dim, {});
  CHECK(collapsed.uniformity == 0.0);
  CHECK(collapsed.effective_rank == 1.0);

  std::vector<float> spread(size_t{rows} * dim, 0.0f);
  for (uint32_t i = 0; i < dim; ++i) {
    spread[size_t{2 * i} * dim + i] = 1.0f;
    spread[size_t{2 * i + 1} * dim + i] = -1.0f;
  }
  // Of the 120 distinct pairs, 8 are antipodal (|x - y|^2 = 4), 112 orthogonal (2).
  const double expected = std::log((8 * std::exp(-8.0) + 112 * std::exp(-4.0)) / 120);
  const SpaceStats s = measure_space(spread.data(), rows, dim, {});
  CHECK(s.uniformity == doctest::Approx(expected).epsilon(1e-12));
  CHECK(s.uniformity < -4.0);
  CHECK(s.effective_rank == doctest::Approx(dim).epsilon(1e-4));
}

TEST_CASE("adaptation: measure_space: uniformity and rank use only the first max_rows rows, alignment every pair") {
  const uint32_t dim = 4, rows = 12;
  // Rows 0..3 all e_0; the rest spread over +-e_i.
  std::vector<float> x(size_t{rows} * dim, 0.0f);
  for (uint32_t r = 0; r < rows; ++r) {
    const uint32_t axis = r < 4 ? 0 : (r - 4) / 2;
    x[size_t{r} * dim + axis] = (r >= 4 && r % 2) ? -1.0f : 1.0f;
  }
  const std::vector<std::pair<uint32_t, uint32_t>> far_pair = {{10, 11}};  // e_3 and -e_3
  const SpaceStats first4 = measure_space(x.data(), rows, dim, far_pair, 4);
  CHECK(first4.uniformity == 0.0);
  CHECK(first4.effective_rank == 1.0);
  CHECK(first4.alignment == doctest::Approx(4.0).epsilon(1e-12));
  const SpaceStats all = measure_space(x.data(), rows, dim, far_pair, rows);
  CHECK(all.uniformity < -1.0);
  CHECK(all.effective_rank > 2.0);
  CHECK(measure_space(x.data(), rows, dim, far_pair).uniformity == all.uniformity);  // default 1024 > rows
  // One row: no distinct pairs.
  CHECK(measure_space(x.data(), rows, dim, {}, 1).uniformity == 0.0);
}
