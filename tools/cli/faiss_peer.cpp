#include "cli/faiss_peer.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <omp.h>

// FAISS counts and labels are int64_t: Index::idx_t in 1.7 (Debian 12), faiss::idx_t in 1.11 (Debian 13).
namespace edgeclr::cli {
namespace {

template <typename Index>
class FaissIndex : public PeerIndex {
 public:
  explicit FaissIndex(std::unique_ptr<Index> index) : index_(std::move(index)) {}
  void search(const float* query, size_t k, int64_t* rows, float* scores) const override {
    index_->search(1, query, static_cast<int64_t>(k), scores, rows);
  }

 private:
  std::unique_ptr<Index> index_;
};

}  // namespace

std::string faiss_version() {
  return std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
         std::to_string(FAISS_VERSION_PATCH);
}

std::unique_ptr<PeerIndex> faiss_flat_ip(const float* rows, size_t n, uint32_t dim) {
  omp_set_num_threads(1);
  auto index = std::make_unique<faiss::IndexFlatIP>(dim);
  index->add(static_cast<int64_t>(n), rows);
  return std::make_unique<FaissIndex<faiss::IndexFlatIP>>(std::move(index));
}

std::unique_ptr<PeerIndex> faiss_hnsw(const float* rows, size_t n, uint32_t dim, uint32_t m, uint32_t ef_construction,
                                      uint32_t ef_search, uint32_t threads) {
  auto index = std::make_unique<faiss::IndexHNSWFlat>(dim, static_cast<int>(m), faiss::METRIC_INNER_PRODUCT);
  index->hnsw.efConstruction = static_cast<int>(ef_construction);
  index->hnsw.efSearch = static_cast<int>(ef_search);
  omp_set_num_threads(static_cast<int>(threads));
  index->add(static_cast<int64_t>(n), rows);
  omp_set_num_threads(1);  // single queries, like ours
  return std::make_unique<FaissIndex<faiss::IndexHNSWFlat>>(std::move(index));
}

}  // namespace edgeclr::cli
