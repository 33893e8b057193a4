// Built when CMake did not find FAISS (libfaiss-dev): bench-search then times edgeclr alone
// and says so.
#include "cli/faiss_peer.h"

namespace edgeclr::cli {

std::string faiss_version() { return ""; }
std::unique_ptr<PeerIndex> faiss_flat_ip(const float*, size_t, uint32_t) { return nullptr; }
std::unique_ptr<PeerIndex> faiss_hnsw(const float*, size_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t) {
  return nullptr;
}

}  // namespace edgeclr::cli
