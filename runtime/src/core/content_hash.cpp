#include "core/content_hash.h"

#include "core/fnv1a.h"

// Debian's libxxhash-dev, compiled into this file (XXH_INLINE_ALL): no link dependency,
// and XXH3's SSE2/AVX2/NEON paths are chosen by the compiler for the target.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace edgeclr {

struct ContentHash::State {
  HashKind kind;
  Fnv1a64 fnv;
  XXH3_state_t xxh3;
};

ContentHash::ContentHash(HashKind kind) : state_(new State) {
  state_->kind = kind;
  XXH3_64bits_reset(&state_->xxh3);
}

ContentHash::~ContentHash() = default;

void ContentHash::update(const void* data, size_t size) {
  if (state_->kind == HashKind::kFnv1a64) {
    state_->fnv.update(data, size);
  } else {
    XXH3_64bits_update(&state_->xxh3, data, size);
  }
}

void ContentHash::update_u64(uint64_t value) {
  uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  update(bytes, sizeof(bytes));
}

uint64_t ContentHash::digest() const {
  return state_->kind == HashKind::kFnv1a64 ? state_->fnv.digest() : XXH3_64bits_digest(&state_->xxh3);
}

}  // namespace edgeclr
