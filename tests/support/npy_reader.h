// Reads NumPy .npy files (format 1.0 and 2.0), for tests that compare with PyTorch's outputs.
//
// Supported: little-endian '<f4' (float32), '|u1' (uint8), '<i8' (int64), C order only, on
// a little-endian host. Anything else, and any file whose header or size does not add up,
// is refused with a one-line reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeclr::testing {

struct NpyArray {
  std::vector<size_t> shape;  // empty for a 0-d array (one element)
  std::string dtype;          // "<f4", "|u1" or "<i8", as written in the header
  std::vector<uint8_t> bytes; // the data, C order, exactly count() * item_size() bytes

  size_t count() const;      // product of shape (1 for a 0-d array)
  size_t item_size() const;  // bytes per element of dtype
  // The data as that type, or nullptr when dtype is another one. Valid while `bytes` lives
  // unchanged; vector storage is aligned for any fundamental type.
  const float* f32() const;
  const uint8_t* u8() const;
  const int64_t* i64() const;
};

// Errors: kIoError when the file cannot be read; kInvalidArgument for a malformed file;
// kUnsupported for a valid one this reader does not handle (other dtype, Fortran order,
// format 3.0).
Result<NpyArray> read_npy(const std::string& path);

// The same, from bytes in memory; `name` only appears in error messages.
Result<NpyArray> parse_npy(const std::vector<uint8_t>& file, const std::string& name);

}  // namespace edgeclr::testing
