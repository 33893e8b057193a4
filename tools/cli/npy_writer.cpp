#include "cli/npy_writer.h"

#include <cstring>

#include "core/atomic_file.h"

namespace edgeclr::cli {

Status write_npy(const std::string& path, const std::vector<float>& values, uint32_t rows, uint32_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  // magic (6) + version (2) + header length (2) + header, padded with spaces and ended
  // by a newline so the data starts at a multiple of 64 bytes.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string file("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header;
  const size_t offset = file.size();
  file.resize(offset + values.size() * sizeof(float));
  std::memcpy(&file[offset], values.data(), values.size() * sizeof(float));  // little-endian hosts only
  return write_file_atomically(path, file.data(), file.size());
}

}  // namespace edgeclr::cli
