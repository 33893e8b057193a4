#include "model/model_checksum.h"


namespace edgeclr {

uint64_t compute_file_checksum(const uint8_t* data, size_t size, const uint8_t* field, HashKind kind) {
  static constexpr uint8_t kZeros[8] = {};
  ContentHash h(kind);
  const auto before = static_cast<size_t>(field - data);
  h.update(data, before);
  h.update(kZeros, sizeof(kZeros));
  h.update(field + sizeof(kZeros), size - before - sizeof(kZeros));
  return h.digest();
}

}  // namespace edgeclr
