// The adaptation generator (adapt/random.h): the published splitmix64 stream, seeding,
// and the moments and ranges of each derived draw.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "adapt/random.h"

using namespace edgeclr;

namespace {

std::vector<uint64_t> stream(uint64_t seed, size_t n) {
  Rng rng(seed);
  std::vector<uint64_t> v(n);
  for (uint64_t& x : v) x = rng.next();
  return v;
}

}  // namespace

TEST_CASE("adaptation: Rng reproduces the published splitmix64 stream") {
  // The first values of the `reference` test of rust-random/rngs rand_xoshiro
  // (src/splitmix64.rs), made with Vigna's splitmix64.c: the same adaptation on every
  // platform depends on exactly this stream.
  Rng rng(1477776061723855037ull);
  CHECK(rng.next() == 1985237415132408290ull);
  CHECK(rng.next() == 2979275885539914483ull);
  CHECK(rng.next() == 13511426838097143398ull);
  CHECK(rng.next() == 8488337342461049707ull);
  CHECK(rng.next() == 15141737807933549159ull);
}

TEST_CASE("adaptation: Rng: the same seed gives the same sequence, different seeds different ones") {
  CHECK(stream(42, 1000) == stream(42, 1000));
  CHECK(stream(0, 1000) == stream(0, 1000));
  // Neighbouring seeds (the usual way seeds are made) must not share values either.
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const std::vector<uint64_t> a = stream(seed, 64), b = stream(seed + 1, 64);
    for (size_t i = 0; i < a.size(); ++i) {
      INFO("seed ", seed, " value ", i);
      CHECK(a[i] != b[i]);
    }
  }
}

TEST_CASE("adaptation: Rng::uniform is at least 0 and below 1, with mean 1/2 and variance 1/12") {
  // 100k draws: the standard error of the mean is sqrt(1/12 / 1e5) = 9e-4, so 0.005 is
  // over 5 sigma, while a generator biased by 1% or stuck in a half fails.
  Rng rng(7);
  constexpr int n = 100000;
  double sum = 0, sum_sq = 0;
  float lo = 1, hi = 0;
  int lower_half = 0;
  for (int i = 0; i < n; ++i) {
    const float u = rng.uniform();
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += u;
    sum_sq += double{u} * u;
    lower_half += u < 0.5f;
  }
  const double mean = sum / n;
  const double variance = sum_sq / n - mean * mean;
  CHECK(std::abs(mean - 0.5) < 0.005);
  // Var of the sample variance of U(0,1): (1/80 - 1/144) / n -> sd 2.4e-4; 0.002 is 8 sigma.
  CHECK(std::abs(variance - 1.0 / 12) < 0.002);
  CHECK(std::abs(lower_half - n / 2) < 1000);  // binomial sd 158
  CHECK(lo < 1e-3f);                           // reaches both ends of the range
  CHECK(hi > 1 - 1e-3f);

  Rng ranged(8);
  for (int i = 0; i < 1000; ++i) {
    const float u = ranged.uniform(-3.0f, 5.0f);
    REQUIRE(u >= -3.0f);
    REQUIRE(u < 5.0f);
  }
}

TEST_CASE("adaptation: Rng::below stays below n and hits every value about equally often") {
  Rng rng(11);
  for (uint32_t n : {1u, 2u, 3u, 7u, 10u}) {
    std::vector<int> hits(n, 0);
    const int draws = 2000 * static_cast<int>(n);
    for (int i = 0; i < draws; ++i) {
      const uint32_t k = rng.below(n);
      REQUIRE(k < n);
      ++hits[k];
    }
    for (uint32_t k = 0; k < n; ++k) {
      INFO("n ", n, " value ", k, " hit ", hits[k], " times of ", draws);
      // 2000 expected per value, binomial sd < 45: 300 is over 6 sigma.
      CHECK(std::abs(hits[k] - 2000) < 300);
    }
  }
  // A large n still gives values spread over the whole range.
  Rng wide(12);
  uint32_t top = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint32_t k = wide.below(4000000000u);
    REQUIRE(k < 4000000000u);
    top = std::max(top, k);
  }
  CHECK(top > 3900000000u);
}

TEST_CASE("adaptation: Rng::normal has mean 0, variance 1 and normal tails") {
  // 100k draws: sd of the mean 3.2e-3, of the variance sqrt(2 / n) = 4.5e-3.
  Rng rng(13);
  constexpr int n = 100000;
  double sum = 0, sum_sq = 0;
  int beyond_2 = 0;
  for (int i = 0; i < n; ++i) {
    const float z = rng.normal();
    REQUIRE(std::isfinite(z));
    sum += z;
    sum_sq += double{z} * z;
    beyond_2 += std::abs(z) > 2.0f;
  }
  const double mean = sum / n;
  CHECK(std::abs(mean) < 0.02);
  CHECK(std::abs(sum_sq / n - mean * mean - 1.0) < 0.03);
  // P(|z| > 2) = 0.0455: 4550 expected, sd 66. A uniform or a wrong scale misses by far.
  CHECK(std::abs(beyond_2 - 4550) < 400);
}

TEST_CASE("adaptation: Rng::shuffle permutes, reproducibly, and moves things") {
  std::vector<int> sorted(50);
  std::iota(sorted.begin(), sorted.end(), 0);
  std::vector<int> a = sorted, b = sorted;
  Rng ra(21), rb(21);
  ra.shuffle(&a);
  rb.shuffle(&b);
  CHECK(a == b);
  CHECK(a != sorted);
  std::vector<int> back = a;
  std::sort(back.begin(), back.end());
  CHECK(back == sorted);

  // Every position sees every value over many shuffles of a small vector (a shuffle
  // that never moves the first or last element would fail).
  Rng rng(22);
  int seen[4][4] = {};
  for (int t = 0; t < 4000; ++t) {
    std::vector<int> v = {0, 1, 2, 3};
    rng.shuffle(&v);
    std::vector<int> check = v;
    std::sort(check.begin(), check.end());
    REQUIRE(check == std::vector<int>{0, 1, 2, 3});
    for (int p = 0; p < 4; ++p) ++seen[p][v[p]];
  }
  for (int p = 0; p < 4; ++p) {
    for (int value = 0; value < 4; ++value) {
      INFO("position ", p, " value ", value);
      CHECK(std::abs(seen[p][value] - 1000) < 150);  // binomial sd 27
    }
  }

  std::vector<int> empty, one = {5};
  rng.shuffle(&empty);
  rng.shuffle(&one);
  CHECK(empty.empty());
  CHECK(one == std::vector<int>{5});
}
