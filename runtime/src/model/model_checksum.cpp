#include "model/model_checksum.h"

#include "core/fnv1a.h"

namespace edgeclr {

uint64_t compute_file_checksum(const uint8_t* data, size_t size, const uint8_t* field) {
  static constexpr uint8_t kZeros[8] = {};
  Fnv1a64 h;
  const auto before = static_cast<size_t>(field - data);
  h.update(data, before);
  h.update(kZeros, sizeof(kZeros));
  h.update(field + sizeof(kZeros), size - before - sizeof(kZeros));
  return h.digest();
}

}  // namespace edgeclr
