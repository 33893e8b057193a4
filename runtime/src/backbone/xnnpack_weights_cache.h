// Where XNNPACK 2024 puts a runtime's packed weights (its weights-cache provider
// interface, as LiteRT's file-backed cache uses it), private to runtime/src/backbone/.
//
// Each packed block is its own allocation, owned here. When XNNPACK has packed a weight
// whose source lies in a mapped model file, the source's pages leave the resident set
// (Model::release_pages): creating a runtime then never holds both copies of more than
// one layer, and afterwards only the packed copy stays resident. Without this, a mapped
// fp32 ViT-B/16 held its 344 MB of weights twice at peak.
//
// Lifetime: must outlive the runtime created with provider(). Not copyable. XNNPACK may
// call the callbacks from several threads; they lock.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

#include "backbone/xnnpack_api.h"
#include "model/model.h"

namespace edgeclr {

#if EDGECLR_XNNPACK_API >= 2024

class PackedWeights {
 public:
  explicit PackedWeights(const Model& model);
  ~PackedWeights();
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;

  // A constant XNNPACK will pack (a conv or fully connected weight or bias): its pages are
  // released once it is packed.
  void add_source(const void* data, size_t bytes);
  // For xnn_create_runtime_v3; then finalize() before the runtime is set up.
  xnn_weights_cache_t provider() { return &provider_; }
  void finalize();

 private:
  static size_t look_up(void* context, const xnn_weights_cache_look_up_key* key);
  static void* reserve_space(void* context, size_t n);
  static size_t look_up_or_insert(void* context, const xnn_weights_cache_look_up_key* key, void* ptr, size_t size);
  static bool is_finalized(void* context);
  static void* offset_to_addr(void* context, size_t offset);
  static xnn_status delete_cache(void* context);

  void release_source(const void* data);

  const Model& model_;
  xnn_weights_cache_provider provider_{};
  mutable std::mutex mutex_;
  std::vector<void*> blocks_;  // the "offset" XNNPACK keeps is an index into this
  void* reserved_ = nullptr;   // handed out by reserve_space, not yet inserted
  std::map<const void*, size_t> sources_;  // data -> bytes of the constants to release
  bool finalized_ = false;
};

#endif

}  // namespace edgeclr
