// The gallery's search index on real embeddings (the reference model's, of Fashion-MNIST
// test images): exact fp32 against a brute-force reference in double, int8 with fp32
// rescoring and HNSW against exact (recall@10), masks, and rows that move on removal.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "gallery/gallery_index.h"
#include "unit/gallery_support.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

// The embeddings of the first `n` test images, one vector each.
std::vector<std::vector<float>> real_embeddings(size_t n) {
  const RealFeatures real(n);
  const ProjectionHead head = ProjectionHead::from_schema(real.model->head(), real.model->feature_dim());
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < n; ++i) out.push_back(embed(head, real.feature(i)));
  return out;
}

GalleryIndex index_of(const std::vector<std::vector<float>>& rows, size_t count, IndexOptions options = {}) {
  GalleryIndex index(static_cast<uint32_t>(rows[0].size()), options);
  for (size_t i = 0; i < count; ++i) index.append(rows[i].data());
  if (options.hnsw) index.configure(options, 2);
  return index;
}

IndexOptions int8_and_hnsw() {
  IndexOptions o;
  o.int8 = true;
  o.hnsw = true;
  return o;
}

// Rows of `hits` found by the exact top-k `want`, as a fraction of k.
double recall(const std::vector<SearchHit>& hits, const std::vector<SearchHit>& want) {
  std::set<uint32_t> truth;
  for (const auto& h : want) truth.insert(h.row);
  size_t found = 0;
  for (const auto& h : hits) found += truth.count(h.row);
  return static_cast<double>(found) / static_cast<double>(want.size());
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  return dot / std::sqrt(na * nb);
}

}  // namespace

TEST_CASE("dot products: the int8 kernel is exact, the fp32 one matches double within rounding") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(-127, 127);
  std::normal_distribution<float> value(0.0f, 1.0f);
  for (uint32_t n : {1u, 15u, 16u, 17u, 128u, 1283u}) {
    std::vector<int8_t> a(n), b(n);
    std::vector<float> x(n), y(n);
    int64_t want = 0;
    double want_f = 0, magnitude = 0;
    for (uint32_t i = 0; i < n; ++i) {
      a[i] = static_cast<int8_t>(code(rng));
      b[i] = static_cast<int8_t>(code(rng));
      want += int64_t{a[i]} * b[i];
      x[i] = value(rng);
      y[i] = value(rng);
      want_f += double{x[i]} * y[i];
      magnitude += std::abs(double{x[i]} * y[i]);
    }
    CHECK(dot_product_int8(a.data(), b.data(), n) == want);
    CHECK(std::abs(dot_product(x.data(), y.data(), n) - want_f) <= 1e-6 * magnitude + 1e-7);
  }
  std::vector<int8_t> extreme(4096, -127);
  CHECK(dot_product_int8(extreme.data(), extreme.data(), 4096) == 4096 * 127 * 127);
}

TEST_CASE("gallery index: exact, int8 and HNSW search of real embeddings against brute force") {
  const auto rows = real_embeddings(2100);
  const size_t n = 2000;
  const GalleryIndex exact = index_of(rows, n);
  const IndexOptions both = int8_and_hnsw();
  const GalleryIndex index = index_of(rows, n, both);
  REQUIRE(index.has_int8());
  REQUIRE(index.has_hnsw());
  SearchScratch scratch;
  std::vector<SearchHit> want, got;
  double int8_recall = 0, hnsw_recall = 0;
  size_t queries = 0;
  for (size_t q = n; q < rows.size(); ++q, ++queries) {  // queries not in the gallery
    exact.search(rows[q].data(), 10, SearchMethod::kExact, nullptr, &scratch, &want);
    REQUIRE(want.size() == 10);
    // Exact: the scores are the cosines (double reference), best first.
    for (size_t i = 0; i < 10; ++i) {
      CHECK(want[i].score == doctest::Approx(cosine(rows[want[i].row], rows[q])).epsilon(1e-5));
      if (i) CHECK(want[i - 1].score >= want[i].score);
    }
    double best = -2;  // no row outside the top 10 scores higher than its last
    for (size_t r = 0; r < n; ++r) {
      if (std::none_of(want.begin(), want.end(), [&](const SearchHit& h) { return h.row == r; })) {
        best = std::max(best, cosine(rows[r], rows[q]));
      }
    }
    CHECK(best <= want[9].score + 1e-5);
    index.search(rows[q].data(), 10, SearchMethod::kInt8, nullptr, &scratch, &got);
    REQUIRE(got.size() == 10);
    int8_recall += recall(got, want);
    index.search(rows[q].data(), 10, SearchMethod::kHnsw, nullptr, &scratch, &got);
    hnsw_recall += recall(got, want);
  }
  int8_recall /= static_cast<double>(queries);
  hnsw_recall /= static_cast<double>(queries);
  MESSAGE("recall@10 on ", n, " real embeddings: int8 ", int8_recall, ", HNSW ", hnsw_recall);
  CHECK(int8_recall >= 0.99);
  CHECK(hnsw_recall >= 0.95);
}

TEST_CASE("gallery index: int8 hits carry exact fp32 scores; a stored row finds itself by every method") {
  const auto rows = real_embeddings(300);
  const IndexOptions both = int8_and_hnsw();
  const GalleryIndex index = index_of(rows, 300, both);
  SearchScratch scratch;
  std::vector<SearchHit> exact, got;
  for (size_t q = 0; q < 300; q += 7) {
    for (SearchMethod m : {SearchMethod::kExact, SearchMethod::kInt8, SearchMethod::kHnsw, SearchMethod::kBest}) {
      index.search(rows[q].data(), 5, m, nullptr, &scratch, &got);
      REQUIRE(!got.empty());
      CHECK(got[0].score == doctest::Approx(1.0).epsilon(1e-5));
      CHECK(cosine(rows[got[0].row], rows[q]) == doctest::Approx(1.0).epsilon(1e-5));
    }
    index.search(rows[q].data(), 5, SearchMethod::kExact, nullptr, &scratch, &exact);
    index.search(rows[q].data(), 5, SearchMethod::kInt8, nullptr, &scratch, &got);
    for (const auto& h : got) {
      const auto same = std::find_if(exact.begin(), exact.end(), [&](const SearchHit& e) { return e.row == h.row; });
      if (same != exact.end()) CHECK(h.score == same->score);  // rescored: bit-identical to exact
    }
  }
}

TEST_CASE("gallery index: a mask limits every method, and HNSW then falls back to a scan") {
  const auto rows = real_embeddings(400);
  const IndexOptions both = int8_and_hnsw();
  const GalleryIndex index = index_of(rows, 400, both);
  CHECK(index.resolve(SearchMethod::kBest, false) == SearchMethod::kHnsw);
  CHECK(index.resolve(SearchMethod::kBest, true) == SearchMethod::kInt8);
  CHECK(index.resolve(SearchMethod::kHnsw, true) == SearchMethod::kInt8);
  CHECK(index_of(rows, 10).resolve(SearchMethod::kInt8, false) == SearchMethod::kExact);
  std::vector<uint8_t> mask(400, 0);
  for (size_t r = 0; r < 400; r += 3) mask[r] = 1;
  SearchScratch scratch;
  std::vector<SearchHit> got;
  for (SearchMethod m : {SearchMethod::kExact, SearchMethod::kInt8, SearchMethod::kHnsw}) {
    index.search(rows[1].data(), 50, m, mask.data(), &scratch, &got);
    CHECK(got.size() == 50);
    for (const auto& h : got) CHECK(mask[h.row] == 1);
  }
  index.search(rows[1].data(), 1000, SearchMethod::kExact, mask.data(), &scratch, &got);
  CHECK(got.size() == 134);  // k beyond the allowed rows: all of them
}

TEST_CASE("gallery index: removals move rows in every index; many removals rebuild the graph") {
  const auto rows = real_embeddings(3000);
  const IndexOptions both = int8_and_hnsw();
  GalleryIndex index = index_of(rows, 3000, both);
  std::vector<size_t> source(3000);  // row -> the embedding it holds
  for (size_t i = 0; i < 3000; ++i) source[i] = i;
  std::mt19937 rng(3);
  for (int removed = 0; removed < 2000; ++removed) {  // past the graph's rebuild point
    const size_t r = rng() % index.size();
    source[r] = source.back();
    source.pop_back();
    index.remove_swap(r);
  }
  REQUIRE(index.size() == 1000);
  REQUIRE(index.has_hnsw());
  SearchScratch scratch;
  std::vector<SearchHit> got;
  for (size_t r = 0; r < 1000; r += 37) {
    for (SearchMethod m : {SearchMethod::kExact, SearchMethod::kInt8, SearchMethod::kHnsw}) {
      index.search(rows[source[r]].data(), 3, m, nullptr, &scratch, &got);
      REQUIRE(!got.empty());
      CHECK(cosine(rows[source[got[0].row]], rows[source[r]]) == doctest::Approx(1.0).epsilon(1e-5));
      for (const auto& h : got) CHECK(h.row < 1000);
    }
  }
}
