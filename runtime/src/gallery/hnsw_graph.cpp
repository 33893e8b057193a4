#include "gallery/hnsw_graph.h"

// Without hnswlib's own SSE code: its search loop prefetches through the entry one past
// the end of a full link list, a heap read out of bounds that AddressSanitizer reports
// (hnswalg.h searchBaseLayer, hnswlib 0.6.2). Its SIMD distances go with it; the graph
// uses the gallery's own dot-product kernel instead (CosineSpace below).
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <exception>
#include <limits>

namespace edgeclr {
namespace {

constexpr uint32_t kNoRow = std::numeric_limits<uint32_t>::max();

// hnswlib's distance between unit rows: 1 - cosine, by the scan's kernel.
float cosine_distance(const void* a, const void* b, const void* dim) {
  return 1.0f - dot_product(static_cast<const float*>(a), static_cast<const float*>(b),
                            static_cast<uint32_t>(*static_cast<const size_t*>(dim)));
}

class CosineSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit CosineSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return cosine_distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  size_t dim_;
};

}  // namespace

struct HnswGraph::Impl {
  Impl(uint32_t dim, const IndexOptions& o, size_t capacity)
      : space(dim), graph(&space, capacity, o.hnsw_m, o.hnsw_ef_construction) {
    graph.setEf(o.hnsw_ef_search);
  }
  CosineSpace space;  // before graph: the graph keeps pointers into it
  hnswlib::HierarchicalNSW<float> graph;
};

HnswGraph::HnswGraph(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HnswGraph::~HnswGraph() = default;

std::unique_ptr<HnswGraph> HnswGraph::build(const GalleryIndex& index, const IndexOptions& options, uint32_t threads) {
  const size_t n = index.size();
  std::unique_ptr<HnswGraph> g;
  try {
    g.reset(new HnswGraph(std::make_unique<Impl>(index.dim(), options, std::max<size_t>(n, 1024))));
    g->label_of_row_.resize(n);
    g->row_of_label_.resize(n);
    for (size_t r = 0; r < n; ++r) g->label_of_row_[r] = g->row_of_label_[r] = static_cast<uint32_t>(r);
  } catch (const std::exception&) {
    return nullptr;
  }
  // One thread: hnswlib 0.6.2's addPoint locks per node but draws every node's level from
  // one unguarded random engine (hnswalg.h getRandomLevel), a data race ThreadSanitizer
  // reports when two threads insert (make test-tsan). `threads` is kept for an hnswlib
  // that fixes it.
  (void)threads;
  try {
    for (size_t r = 0; r < n; ++r) g->impl_->graph.addPoint(index.row(r), r);
  } catch (const std::exception&) {
    return nullptr;
  }
  return g;
}

bool HnswGraph::grow_to(size_t labels) {
  auto& graph = impl_->graph;
  if (labels <= graph.max_elements_) return true;
  try {
    graph.resizeIndex(std::max(labels, graph.max_elements_ * 2));
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

bool HnswGraph::append(const float* unit, uint32_t row) {
  const auto label = static_cast<uint32_t>(row_of_label_.size());
  if (!grow_to(size_t{label} + 1)) return false;
  try {
    label_of_row_.push_back(label);
    row_of_label_.push_back(row);
    impl_->graph.addPoint(unit, label);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

bool HnswGraph::set(const float* unit, uint32_t row) {
  try {
    impl_->graph.addPoint(unit, label_of_row_[row]);  // an existing label: hnswlib updates the node
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

bool HnswGraph::remove_swap(uint32_t row, uint32_t last) {
  const uint32_t label = label_of_row_[row];
  try {
    impl_->graph.markDelete(label);
  } catch (const std::exception&) {
    return false;
  }
  row_of_label_[label] = kNoRow;
  ++deleted_;
  if (row != last) {
    label_of_row_[row] = label_of_row_[last];
    row_of_label_[label_of_row_[row]] = row;
  }
  label_of_row_.pop_back();
  return true;
}

bool HnswGraph::search(const float* unit, size_t k, std::vector<uint32_t>* rows) const {
  rows->clear();
  try {
    auto found = impl_->graph.searchKnn(unit, k);
    while (!found.empty()) {
      const size_t label = found.top().second;
      found.pop();
      if (label < row_of_label_.size() && row_of_label_[label] != kNoRow) rows->push_back(row_of_label_[label]);
    }
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace edgeclr
