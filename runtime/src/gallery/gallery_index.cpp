#include "gallery/gallery_index.h"

#include <algorithm>
#include <cmath>

#include "gallery/hnsw_graph.h"

// The scan kernels are compiled twice on x86-64 GCC, for AVX2 and for the baseline, and
// picked at load time (ifunc). Not FMA: a fused multiply-add rounds differently, and the
// scores must not depend on the CPU. Not under sanitizers: an ifunc resolver runs before
// the sanitizer's runtime is up, and the instrumented resolver crashes (TSan at start-up).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__gnu_linux__)
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define EDGECLR_SCAN_KERNEL
#else
#define EDGECLR_SCAN_KERNEL __attribute__((target_clones("avx2", "default")))
#endif
#define EDGECLR_X86_AVX2_KERNELS 1
#include <immintrin.h>
#else
#define EDGECLR_SCAN_KERNEL
#define EDGECLR_X86_AVX2_KERNELS 0
#endif

namespace edgeclr {

namespace {

// The dot products, inlined into each kernel below so that every compiled copy (AVX2 or
// baseline) has its own vector code.
// (size_t indices: with 32-bit ones the compiler must allow for wrap-around and loads
// each lane on its own.)
inline __attribute__((always_inline)) float dot_f32(const float* a, const float* b, size_t n) {
  float acc[16] = {};  // two AVX registers (four SSE ones): two add chains in flight
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (size_t j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (size_t j = 0; j < 8; ++j) acc[j] += acc[j + 8];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Integer sums may be reordered freely, so -O3 vectorizes this (sign-extend to 16 bits,
// multiply, widen, add): the baseline and ARM path. AVX2 has its own kernel below.
inline __attribute__((always_inline)) int32_t dot_i8(const int8_t* a, const int8_t* b, size_t n) {
  int32_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += int32_t{a[i]} * int32_t{b[i]};
  return sum;
}

}  // namespace

EDGECLR_SCAN_KERNEL float dot_product(const float* a, const float* b, uint32_t n) { return dot_f32(a, b, n); }

namespace {

EDGECLR_SCAN_KERNEL void score_rows(const float* rows, size_t n, uint32_t dim, const float* query, float* scores) {
  for (size_t r = 0; r < n; ++r) scores[r] = dot_f32(rows + r * dim, query, dim);
}

#if EDGECLR_X86_AVX2_KERNELS
// AVX2 has no signed x signed byte multiply-add, but vpmaddubsw multiplies unsigned by
// signed bytes: |q| times (x with q's sign) is x * q. Codes are in [-127, 127], so a pair
// of products is at most 2 * 127 * 127 = 32258 and the 16-bit sums never saturate.
__attribute__((target("avx2"))) void score_rows_int8_avx2(const int8_t* codes, size_t n, uint32_t dim,
                                                          const int8_t* query, int32_t* scores) {
  const size_t vector_end = dim & ~size_t{31};
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t r = 0; r < n; ++r) {
    const int8_t* x = codes + r * dim;
    __m256i acc = _mm256_setzero_si256();
    for (size_t i = 0; i < vector_end; i += 32) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + i));
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(a, q));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
    }
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4e));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xb1));
    int32_t total = _mm_cvtsi128_si32(sum);
    for (size_t i = vector_end; i < dim; ++i) total += int32_t{x[i]} * int32_t{query[i]};
    scores[r] = total;
  }
}
#endif

void score_rows_int8_generic(const int8_t* codes, size_t n, uint32_t dim, const int8_t* query, int32_t* scores) {
  for (size_t r = 0; r < n; ++r) scores[r] = dot_i8(codes + r * dim, query, dim);
}

// Codes in [-127, 127] (never -128: the AVX2 kernel relies on it).
void score_rows_int8(const int8_t* codes, size_t n, uint32_t dim, const int8_t* query, int32_t* scores) {
#if EDGECLR_X86_AVX2_KERNELS
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return score_rows_int8_avx2(codes, n, dim, query, scores);
#endif
  score_rows_int8_generic(codes, n, dim, query, scores);
}

}  // namespace

int32_t dot_product_int8(const int8_t* a, const int8_t* b, uint32_t n) {
  int32_t out = 0;
  score_rows_int8(a, 1, n, b, &out);  // the search's own kernel, so that tests check it
  return out;
}

namespace {

void write_unit(const float* in, uint32_t dim, float* out) {
  double norm = 0;
  for (uint32_t i = 0; i < dim; ++i) norm += double{in[i]} * in[i];
  const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
  for (uint32_t i = 0; i < dim; ++i) out[i] = in[i] * scale;
}

// Symmetric int8 codes of `v`; returns the scale (0 for a zero vector).
float quantize(const float* v, uint32_t dim, int8_t* codes) {
  float max_abs = 0;
  for (uint32_t i = 0; i < dim; ++i) max_abs = std::max(max_abs, std::abs(v[i]));
  const float scale = max_abs / 127.0f;
  const float inv = max_abs > 0 ? 127.0f / max_abs : 0.0f;
  for (uint32_t i = 0; i < dim; ++i) codes[i] = static_cast<int8_t>(std::lrint(std::clamp(v[i] * inv, -127.0f, 127.0f)));
  return scale;
}

constexpr size_t kScanBlock = 256;  // rows scored per kernel call (1 KB of scores on the stack)

// Worse first: the heap's top is the hit to drop next.
bool worse(const SearchHit& a, const SearchHit& b) { return a.score != b.score ? a.score > b.score : a.row < b.row; }

// Keeps the best `k` hits offered in `heap` (a heap by worse()).
inline void offer(std::vector<SearchHit>* heap, size_t k, SearchHit hit) {
  if (heap->size() < k) {
    heap->push_back(hit);
    std::push_heap(heap->begin(), heap->end(), worse);
  } else if (worse(hit, heap->front())) {
    std::pop_heap(heap->begin(), heap->end(), worse);
    heap->back() = hit;
    std::push_heap(heap->begin(), heap->end(), worse);
  }
}

}  // namespace

GalleryIndex::GalleryIndex(uint32_t dim, IndexOptions options) : dim_(dim), options_(options) {
  options_.hnsw = false;  // the graph is built by configure(), never empty-handed
}
GalleryIndex::~GalleryIndex() = default;
GalleryIndex::GalleryIndex(GalleryIndex&&) noexcept = default;
GalleryIndex& GalleryIndex::operator=(GalleryIndex&&) noexcept = default;

void GalleryIndex::reserve(size_t rows) {
  rows_.reserve(rows * dim_);
  if (options_.int8) {
    codes_.reserve(rows * dim_);
    scales_.reserve(rows);
  }
}

void GalleryIndex::clear() {
  rows_.clear();
  codes_.clear();
  scales_.clear();
  if (hnsw_) configure(options_);
}

void GalleryIndex::configure(const IndexOptions& options, uint32_t threads) {
  const bool want_hnsw = options.hnsw;
  options_ = options;
  codes_.clear();
  scales_.clear();
  if (options_.int8) {
    codes_.resize(rows_.size());
    scales_.resize(size());
    for (size_t r = 0; r < size(); ++r) encode_row(r);
  }
  hnsw_.reset();
  if (want_hnsw) hnsw_ = HnswGraph::build(*this, options_, threads);
  options_.hnsw = hnsw_ != nullptr;
}

void GalleryIndex::encode_row(size_t r) { scales_[r] = quantize(row(r), dim_, codes_.data() + r * dim_); }

void GalleryIndex::append(const float* embedding) {
  rows_.resize(rows_.size() + dim_);
  const size_t r = size() - 1;
  write_unit(embedding, dim_, rows_.data() + r * dim_);
  if (options_.int8) {
    codes_.resize(rows_.size());
    scales_.resize(size());
    encode_row(r);
  }
  if (hnsw_ && !hnsw_->append(row(r), static_cast<uint32_t>(r))) hnsw_.reset();
}

void GalleryIndex::set(size_t r, const float* embedding) {
  write_unit(embedding, dim_, rows_.data() + r * dim_);
  if (options_.int8) encode_row(r);
  if (hnsw_ && !hnsw_->set(row(r), static_cast<uint32_t>(r))) hnsw_.reset();
}

void GalleryIndex::remove_swap(size_t r) {
  const size_t last = size() - 1;
  if (r != last) {
    std::copy(row(last), row(last) + dim_, rows_.data() + r * dim_);
    if (options_.int8) {
      std::copy(codes_.begin() + last * dim_, codes_.begin() + (last + 1) * dim_, codes_.begin() + r * dim_);
      scales_[r] = scales_[last];
    }
  }
  rows_.resize(last * dim_);
  if (options_.int8) {
    codes_.resize(last * dim_);
    scales_.resize(last);
  }
  if (hnsw_ && !hnsw_->remove_swap(static_cast<uint32_t>(r), static_cast<uint32_t>(last))) hnsw_.reset();
  if (hnsw_ && hnsw_->needs_rebuild()) configure(options_);
}

SearchMethod GalleryIndex::resolve(SearchMethod method, bool masked) const {
  const SearchMethod scan = options_.int8 ? SearchMethod::kInt8 : SearchMethod::kExact;
  switch (method) {
    case SearchMethod::kBest:
    case SearchMethod::kHnsw:
      return hnsw_ && !masked ? SearchMethod::kHnsw : scan;
    case SearchMethod::kInt8:
      return scan;
    default:
      return SearchMethod::kExact;
  }
}

void GalleryIndex::search(const float* query, size_t k, SearchMethod method, const uint8_t* mask,
                          SearchScratch* scratch, std::vector<SearchHit>* out) const {
  out->clear();
  if (k == 0 || dim_ == 0) return;
  scratch->query.resize(dim_);
  write_unit(query, dim_, scratch->query.data());
  const float* unit = scratch->query.data();
  switch (resolve(method, mask != nullptr)) {
    case SearchMethod::kHnsw:
      search_hnsw(unit, k, scratch, out);
      return;
    case SearchMethod::kInt8:
      search_int8(unit, k, mask, scratch, out);
      return;
    default:
      search_exact(unit, k, mask, out);
      std::sort_heap(out->begin(), out->end(), worse);
  }
}

void GalleryIndex::search_exact(const float* unit, size_t k, const uint8_t* mask, std::vector<SearchHit>* heap) const {
  const size_t n = size();
  float scores[kScanBlock];
  for (size_t first = 0; first < n; first += kScanBlock) {
    const size_t count = std::min(kScanBlock, n - first);
    score_rows(row(first), count, dim_, unit, scores);
    for (size_t i = 0; i < count; ++i) {
      if (mask && !mask[first + i]) continue;
      if (heap->size() == k && scores[i] < heap->front().score) continue;  // cannot enter
      offer(heap, k, SearchHit{static_cast<uint32_t>(first + i), scores[i]});
    }
  }
}

void GalleryIndex::search_int8(const float* unit, size_t k, const uint8_t* mask, SearchScratch* scratch,
                               std::vector<SearchHit>* out) const {
  scratch->codes.resize(dim_);
  const float query_scale = quantize(unit, dim_, scratch->codes.data());
  const int8_t* q = scratch->codes.data();
  const size_t candidates = std::max<size_t>(k * options_.rescore_factor, 64);
  std::vector<SearchHit>& heap = scratch->candidates;
  heap.clear();
  const size_t n = size();
  int32_t dots[kScanBlock];
  for (size_t first = 0; first < n; first += kScanBlock) {
    const size_t count = std::min(kScanBlock, n - first);
    score_rows_int8(codes_.data() + first * dim_, count, dim_, q, dots);
    for (size_t i = 0; i < count; ++i) {
      if (mask && !mask[first + i]) continue;
      const float score = static_cast<float>(dots[i]) * (scales_[first + i] * query_scale);
      if (heap.size() == candidates && score < heap.front().score) continue;
      offer(&heap, candidates, SearchHit{static_cast<uint32_t>(first + i), score});
    }
  }
  for (const SearchHit& c : heap) offer(out, k, SearchHit{c.row, dot_product(row(c.row), unit, dim_)});
  std::sort_heap(out->begin(), out->end(), worse);
}

void GalleryIndex::search_hnsw(const float* unit, size_t k, SearchScratch* scratch, std::vector<SearchHit>* out) const {
  if (!hnsw_->search(unit, k, &scratch->graph_rows)) {
    search_exact(unit, k, nullptr, out);
  } else {
    for (uint32_t r : scratch->graph_rows) offer(out, k, SearchHit{r, dot_product(row(r), unit, dim_)});
  }
  std::sort_heap(out->begin(), out->end(), worse);
}

}  // namespace edgeclr
