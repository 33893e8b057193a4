// The in-memory side of a gallery: every item's embedding, unit length, in one
// contiguous row-major fp32 matrix (the truth every search is scored against), and on
// request two derived indexes built from it:
//
// - int8 codes, one byte a value and a scale per row (symmetric, scale = max|v| / 127):
//   a quarter of the memory traffic of fp32. A search scores every row in int8, keeps the
//   best max(k * rescore_factor, 64) and rescores those in fp32, so the hits and their
//   scores are exact fp32 cosines; only an item whose int8 score falls out of that
//   candidate list can be missed (recall@10 on the benchmark: docs/benchmarks.md).
// - an HNSW graph (hnswlib, Debian's libhnswlib-dev), for galleries too large to scan:
//   approximate, rebuilt or updated from the fp32 rows, never the source of truth.
//   Its hits are rescored in fp32 too.
//
// Rows follow the gallery's items; removing one moves the last row into its place.
//
// Thread-safety: const methods may run concurrently, each thread with its own
// SearchScratch; writers (append, set, remove_swap, configure) must be serialized
// against everything else (the Gallery's lock does it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace edgeclr {

class HnswGraph;

struct SearchHit {
  uint32_t row = 0;
  float score = 0;  // cosine similarity, in [-1, 1]
};

enum class SearchMethod : uint8_t {
  kBest,   // HNSW if kept and no mask, else int8 if kept, else exact
  kExact,  // every row in fp32
  kInt8,   // every row in int8, the best rescored in fp32 (exact if int8 is not kept)
  kHnsw,   // the graph, rescored in fp32 (int8 or exact with a mask, or if not kept)
};

// Which derived indexes a GalleryIndex keeps, and how they search.
struct IndexOptions {
  bool int8 = false;
  uint32_t rescore_factor = 8;  // int8: candidates rescored per hit asked for (at least 64 in all)
  bool hnsw = false;
  uint32_t hnsw_m = 16;                 // graph degree (level 0 has 2M links)
  uint32_t hnsw_ef_construction = 100;  // candidate list while inserting
  uint32_t hnsw_ef_search = 64;         // candidate list while searching (at least k)
};

// Per-thread buffers of a search: once they have grown to a gallery's size and k, a
// search with them allocates nothing (HNSW aside: hnswlib allocates its result queue).
struct SearchScratch {
  std::vector<SearchHit> heap;
  std::vector<SearchHit> candidates;
  std::vector<float> query;  // the query at unit length
  std::vector<int8_t> codes;  // the query in int8
  std::vector<uint8_t> mask;  // per row, for callers that filter (Gallery's prefix)
  std::vector<uint32_t> graph_rows;  // HNSW's hits
};

class GalleryIndex {
 public:
  explicit GalleryIndex(uint32_t dim = 0, IndexOptions options = {});
  ~GalleryIndex();
  GalleryIndex(GalleryIndex&&) noexcept;
  GalleryIndex& operator=(GalleryIndex&&) noexcept;

  uint32_t dim() const { return dim_; }
  size_t size() const { return dim_ ? rows_.size() / dim_ : 0; }
  const IndexOptions& options() const { return options_; }
  bool has_int8() const { return options_.int8; }
  bool has_hnsw() const { return hnsw_ != nullptr; }
  void reserve(size_t rows);
  void clear();

  // Keeps the derived indexes `options` asks for, building them from the fp32 rows
  // (HNSW: about 7 s per 100k rows of 128 values on one core here; `threads` is
  // not used yet: see hnsw_graph.cpp).
  void configure(const IndexOptions& options, uint32_t threads = 1);

  // Stores `embedding` (dim floats) scaled to unit length (a zero vector stays zero).
  void append(const float* embedding);
  void set(size_t row, const float* embedding);
  // Moves the last row into `row` and drops the last.
  void remove_swap(size_t row);
  const float* row(size_t r) const { return rows_.data() + r * dim_; }

  // The `k` rows most similar to `query` (dim floats, any length), best first; ties by
  // row. When `mask` is given (size() bytes), only rows r with mask[r] != 0. `out` is
  // reused like the scratch.
  void search(const float* query, size_t k, SearchMethod method, const uint8_t* mask, SearchScratch* scratch,
              std::vector<SearchHit>* out) const;

  // The method search() uses for `method` given what is kept and whether a mask is given.
  SearchMethod resolve(SearchMethod method, bool masked) const;

 private:
  void encode_row(size_t row);
  void search_exact(const float* unit, size_t k, const uint8_t* mask, std::vector<SearchHit>* heap) const;
  void search_int8(const float* unit, size_t k, const uint8_t* mask, SearchScratch* scratch,
                   std::vector<SearchHit>* out) const;
  void search_hnsw(const float* unit, size_t k, SearchScratch* scratch, std::vector<SearchHit>* out) const;

  uint32_t dim_;
  IndexOptions options_;
  std::vector<float> rows_;     // size() x dim_, unit rows
  std::vector<int8_t> codes_;   // size() x dim_ when options_.int8
  std::vector<float> scales_;   // per row when options_.int8
  std::unique_ptr<HnswGraph> hnsw_;
};

// sum a[i] * b[i], in 16 independent partial sums (so the compiler keeps them in vector
// lanes without reassociating a single sum, which it may not without -ffast-math). The
// same bits on every x86-64 (SSE2 or AVX2 code: the lanes do the same operations).
float dot_product(const float* a, const float* b, uint32_t n);

// sum a[i] * b[i] over int8 values in [-127, 127], exactly (n <= 2^17), by the kernel the
// int8 search uses (AVX2 where the CPU has it).
int32_t dot_product_int8(const int8_t* a, const int8_t* b, uint32_t n);

}  // namespace edgeclr
