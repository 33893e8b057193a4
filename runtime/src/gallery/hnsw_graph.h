// An HNSW graph over a GalleryIndex's unit rows, through hnswlib (Debian's
// libhnswlib-dev, header-only; only this file's .cpp includes it). Distance 1 - cosine
// of unit rows, computed by the gallery's dot-product kernel (not hnswlib's SSE code,
// which reads out of bounds: see the .cpp).
//
// hnswlib labels are stable while rows move (a removal moves the last row into the
// removed one's place), so the graph maps labels to rows. A removed row's label is
// marked deleted in hnswlib (searches skip it, its node stays); needs_rebuild() says when
// deleted nodes outnumber live ones.
//
// hnswlib reports failure by throwing (out of memory, a corrupt graph); every call here
// catches and returns false, and the owner then drops the graph (exact search stays).
//
// Thread-safety: search() may run concurrently; the others must be serialized.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "gallery/gallery_index.h"

namespace edgeclr {

class HnswGraph {
 public:
  // A graph of rows [0, rows) of `index` (their labels are their rows). Null if hnswlib
  // fails. `threads` is unused: hnswlib 0.6.2 cannot insert from several threads without
  // a data race (see the .cpp).
  static std::unique_ptr<HnswGraph> build(const GalleryIndex& index, const IndexOptions& options, uint32_t threads);
  ~HnswGraph();

  // Row `row` (== the number of rows before) was appended; `unit` is its embedding.
  bool append(const float* unit, uint32_t row);
  // Row `row`'s embedding changed to `unit`.
  bool set(const float* unit, uint32_t row);
  // Row `row` was removed and the last row (`last`) moved into its place.
  bool remove_swap(uint32_t row, uint32_t last);
  bool needs_rebuild() const { return deleted_ > 1024 && deleted_ > label_of_row_.size(); }

  // Up to `k` rows near `unit`, in no order. `rows` is cleared first.
  bool search(const float* unit, size_t k, std::vector<uint32_t>* rows) const;

 private:
  struct Impl;
  explicit HnswGraph(std::unique_ptr<Impl> impl);
  bool grow_to(size_t labels);

  std::unique_ptr<Impl> impl_;
  std::vector<uint32_t> label_of_row_;
  std::vector<uint32_t> row_of_label_;  // kNoRow for removed labels
  size_t deleted_ = 0;
};

}  // namespace edgeclr
