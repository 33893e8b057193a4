#include "backbone/xnnpack_weights_cache.h"

#include <cstdint>
#include <cstdlib>

namespace edgeclr {

#if EDGECLR_XNNPACK_API >= 2024

namespace {

constexpr size_t kBlockAlignment = 64;  // XNNPACK's XNN_ALLOCATION_ALIGNMENT on x86-64 and Arm
constexpr size_t kNotFound = SIZE_MAX;  // "not in the cache", by the provider's contract

PackedWeights& self(void* context) { return *static_cast<PackedWeights*>(context); }

}  // namespace

PackedWeights::PackedWeights(const Model& model) : model_(model) {
  provider_.context = this;
  provider_.look_up = &PackedWeights::look_up;
  provider_.reserve_space = &PackedWeights::reserve_space;
  provider_.look_up_or_insert = &PackedWeights::look_up_or_insert;
  provider_.is_finalized = &PackedWeights::is_finalized;
  provider_.offset_to_addr = &PackedWeights::offset_to_addr;
  provider_.delete_cache = &PackedWeights::delete_cache;
}

PackedWeights::~PackedWeights() {
  for (void* block : blocks_) std::free(block);
  std::free(reserved_);
}

void PackedWeights::add_source(const void* data, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  sources_[data] = bytes;
}

void PackedWeights::finalize() {
  std::lock_guard<std::mutex> lock(mutex_);
  finalized_ = true;
}

// Every weight is packed afresh: a runtime's weights are not shared with another.
size_t PackedWeights::look_up(void*, const xnn_weights_cache_look_up_key*) { return kNotFound; }

void* PackedWeights::reserve_space(void* context, size_t n) {
  PackedWeights& c = self(context);
  std::lock_guard<std::mutex> lock(c.mutex_);
  std::free(c.reserved_);  // reserved before and never inserted: XNNPACK gave up on it
  const size_t rounded = (n + kBlockAlignment - 1) / kBlockAlignment * kBlockAlignment;
  c.reserved_ = std::aligned_alloc(kBlockAlignment, rounded == 0 ? kBlockAlignment : rounded);
  return c.reserved_;
}

size_t PackedWeights::look_up_or_insert(void* context, const xnn_weights_cache_look_up_key* key, void* ptr,
                                        size_t /*size*/) {
  PackedWeights& c = self(context);
  {
    std::lock_guard<std::mutex> lock(c.mutex_);
    if (c.finalized_ || ptr == nullptr || ptr != c.reserved_) return kNotFound;  // XNNPACK reports the failure
    c.blocks_.push_back(ptr);
    c.reserved_ = nullptr;
  }
  if (key != nullptr) {
    c.release_source(key->kernel);
    c.release_source(key->bias);
  }
  return c.blocks_.size() - 1;
}

void PackedWeights::release_source(const void* data) {
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = sources_.find(data);
    if (it == sources_.end()) return;  // a copy we made (padded, re-laid-out), or not ours
    bytes = it->second;
  }
  model_.release_pages(data, bytes);
}

bool PackedWeights::is_finalized(void* context) {
  PackedWeights& c = self(context);
  std::lock_guard<std::mutex> lock(c.mutex_);
  return c.finalized_;
}

void* PackedWeights::offset_to_addr(void* context, size_t offset) {
  PackedWeights& c = self(context);
  std::lock_guard<std::mutex> lock(c.mutex_);
  return offset < c.blocks_.size() ? c.blocks_[offset] : nullptr;
}

// The backbone owns this object; XNNPACK never deletes a provider it was given.
xnn_status PackedWeights::delete_cache(void*) { return xnn_status_success; }

#endif

}  // namespace edgeclr
