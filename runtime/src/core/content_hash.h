// The 64-bit hash of .eclr files (their checksum and their backbone hash), chosen by the
// file's format version: FNV-1a for version 1, XXH3 for version 2 and later.
//
// FNV-1a reads a byte at a time with a multiply on each (about 70 ms for a 47 MB
// ResNet-18, and a model is hashed twice when it is opened); XXH3 runs at memory speed.
// Neither is cryptographic: they detect corruption and bind a head to its backbone; they
// do not defend against someone forging a file. Digests are the same on every host
// (little-endian encodings throughout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace edgeclr {

enum class HashKind { kFnv1a64, kXxh3_64 };

// The hash of a model file of `format_version` (version 0 is refused before hashing).
inline HashKind hash_kind_for_format(uint32_t format_version) {
  return format_version >= 2 ? HashKind::kXxh3_64 : HashKind::kFnv1a64;
}

class ContentHash {
 public:
  explicit ContentHash(HashKind kind);
  ~ContentHash();
  ContentHash(const ContentHash&) = delete;
  ContentHash& operator=(const ContentHash&) = delete;

  void update(const void* data, size_t size);
  // Little-endian bytes of `value`.
  void update_u64(uint64_t value);
  uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edgeclr
