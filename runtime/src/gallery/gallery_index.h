// The in-memory side of a gallery: every item's embedding, unit length, in one
// contiguous row-major matrix, searched exactly by cosine. Rows follow the gallery's
// items; removing one moves the last row into its place.
//
// Thread-safety: const methods may run concurrently; the Gallery serializes writers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgeclr {

struct SearchHit {
  uint32_t row = 0;
  float score = 0;  // cosine similarity, in [-1, 1]
};

class GalleryIndex {
 public:
  explicit GalleryIndex(uint32_t dim = 0) : dim_(dim) {}

  uint32_t dim() const { return dim_; }
  size_t size() const { return dim_ ? rows_.size() / dim_ : 0; }
  void reserve(size_t rows) { rows_.reserve(rows * dim_); }
  void clear() { rows_.clear(); }

  // Stores `embedding` (dim floats) scaled to unit length (a zero vector stays zero).
  void append(const float* embedding);
  void set(size_t row, const float* embedding);
  // Moves the last row into `row` and drops the last.
  void remove_swap(size_t row);
  const float* row(size_t r) const { return rows_.data() + r * dim_; }

  // The `k` rows most similar to `query` (any length), best first; ties by row. When
  // `allowed` is given, only rows r with (*allowed)[r] != 0. `out` is reused: once its
  // capacity reached k, a search allocates nothing.
  void search(const float* query, size_t k, const std::vector<uint8_t>* allowed, std::vector<SearchHit>* out) const;

 private:
  uint32_t dim_;
  std::vector<float> rows_;  // size() x dim_
};

// sum a[i] * b[i], in 8 independent partial sums (so the compiler keeps them in vector
// lanes without reassociating a single sum, which -O2 without -ffast-math may not).
float dot_product(const float* a, const float* b, uint32_t n);

}  // namespace edgeclr
