// FAISS (Debian's libfaiss-dev), the peer that `edgeclr bench-search` times in the same
// run: IndexFlatIP for exact search and IndexHNSWFlat for the graph. Benchmark only:
// the CLI links it when CMake finds it (EDGECLR_HAVE_FAISS), the runtime never does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace edgeclr::cli {

class PeerIndex {
 public:
  virtual ~PeerIndex() = default;
  // The k best rows for one query (dim floats), best first: their rows and scores.
  virtual void search(const float* query, size_t k, int64_t* rows, float* scores) const = 0;
};

// "" when the CLI was built without FAISS, else its version.
std::string faiss_version();

// `rows` (n x dim, unit length) copied into the index. Null without FAISS.
std::unique_ptr<PeerIndex> faiss_flat_ip(const float* rows, size_t n, uint32_t dim);
// The same HNSW parameters as ours; `threads` OpenMP threads build it, searches use one.
std::unique_ptr<PeerIndex> faiss_hnsw(const float* rows, size_t n, uint32_t dim, uint32_t m, uint32_t ef_construction,
                                      uint32_t ef_search, uint32_t threads);

}  // namespace edgeclr::cli
