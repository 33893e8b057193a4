// A corpus of broken .eclr files, each with the words its error message must contain.
// Semantic faults are staged through ModelBuilder (so the checksum is right and the
// semantic check is what must catch them); byte-level faults damage a valid file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace edgeclr::testing {

struct BadModel {
  std::string name;            // file-name friendly, e.g. "zero_scale"
  std::vector<uint8_t> bytes;
  std::string expect;          // substring of the error message
};

// One file per semantic fault: indices out of range, absurd shapes, zero/NaN scales,
// wrong identifier, newer version, graph order, head mismatches, ...
std::vector<BadModel> semantic_bad_models();

// `valid` truncated at many offsets (from 1 byte to size - 1).
std::vector<BadModel> truncated_models(const std::vector<uint8_t>& valid);

// `valid` with one byte changed, at `count` positions drawn from a fixed seed, plus
// the first and last bytes.
std::vector<BadModel> byte_flipped_models(const std::vector<uint8_t>& valid, uint32_t count);

}  // namespace edgeclr::testing
