#include "gallery/gallery_index.h"

#include <algorithm>
#include <cmath>

namespace edgeclr {

float dot_product(const float* a, const float* b, uint32_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

namespace {

void write_unit(const float* in, uint32_t dim, float* out) {
  double norm = 0;
  for (uint32_t i = 0; i < dim; ++i) norm += double{in[i]} * in[i];
  const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
  for (uint32_t i = 0; i < dim; ++i) out[i] = in[i] * scale;
}

// Worse first: the heap's top is the hit to drop next.
bool worse(const SearchHit& a, const SearchHit& b) { return a.score != b.score ? a.score > b.score : a.row < b.row; }

}  // namespace

void GalleryIndex::append(const float* embedding) {
  rows_.resize(rows_.size() + dim_);
  write_unit(embedding, dim_, rows_.data() + rows_.size() - dim_);
}

void GalleryIndex::set(size_t row, const float* embedding) { write_unit(embedding, dim_, rows_.data() + row * dim_); }

void GalleryIndex::remove_swap(size_t row) {
  const size_t last = size() - 1;
  if (row != last) std::copy(this->row(last), this->row(last) + dim_, rows_.data() + row * dim_);
  rows_.resize(last * dim_);
}

void GalleryIndex::search(const float* query, size_t k, const std::vector<uint8_t>* allowed,
                          std::vector<SearchHit>* out) const {
  out->clear();
  if (k == 0) return;
  double norm = 0;
  for (uint32_t i = 0; i < dim_; ++i) norm += double{query[i]} * query[i];
  const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
  const size_t n = size();
  for (size_t r = 0; r < n; ++r) {
    if (allowed && !(*allowed)[r]) continue;
    const SearchHit hit{static_cast<uint32_t>(r), dot_product(row(r), query, dim_) * scale};
    if (out->size() < k) {
      out->push_back(hit);
      std::push_heap(out->begin(), out->end(), worse);
    } else if (worse(hit, out->front())) {
      std::pop_heap(out->begin(), out->end(), worse);
      out->back() = hit;
      std::push_heap(out->begin(), out->end(), worse);
    }
  }
  std::sort_heap(out->begin(), out->end(), worse);
}

}  // namespace edgeclr
