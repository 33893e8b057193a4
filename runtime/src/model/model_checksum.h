// The whole-file checksum of a .eclr file (and of a .eclh head checkpoint): a 64-bit hash
// of every byte, with the 8 bytes of the checksum field itself counted as zero. Any
// flipped byte, padding included, shows. `kind`: hash_kind_for_format of the file's
// format version for models; FNV-1a for head checkpoints.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/content_hash.h"
#include "schema/edgeclr_generated.h"

namespace edgeclr {

// Where Model.checksum lies in the file, or null when the field is absent.
// Requires: `root` passed the FlatBuffers Verifier.
inline const uint8_t* checksum_field(const schema::Model& root) {
  return reinterpret_cast<const flatbuffers::Table&>(root).GetAddressOf(schema::Model::VT_CHECKSUM);
}

// Requires: [field, field + 8) lies within [data, data + size).
uint64_t compute_file_checksum(const uint8_t* data, size_t size, const uint8_t* field, HashKind kind);

}  // namespace edgeclr
