// FNV-1a, 64-bit: the checksum of .eclr files and the backbone hash.
// Not cryptographic: it detects corruption and binds a head to its backbone; it does
// not defend against someone forging a file.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgeclr {

class Fnv1a64 {
 public:
  static constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ull;
  static constexpr uint64_t kPrime = 0x100000001b3ull;

  void update(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    uint64_t h = state_;
    for (size_t i = 0; i < size; ++i) {
      h ^= bytes[i];
      h *= kPrime;
    }
    state_ = h;
  }

  // Little-endian bytes of `value`, so the digest is the same on every host.
  void update_u64(uint64_t value) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
    update(bytes, sizeof(bytes));
  }

  uint64_t digest() const { return state_; }

 private:
  uint64_t state_ = kOffsetBasis;
};

}  // namespace edgeclr
