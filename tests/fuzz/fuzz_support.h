// Shared by the fuzz targets: path-taking APIs fed from memory, and the checksum fix-up
// that lets mutated files reach the checks behind the checksum.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace edgeclr::fuzz {

// The fuzz input as a file: an anonymous memory file (memfd), reachable by its
// /proc/self/fd path, so that functions that open a path read the input without disk
// I/O. Closed (and gone) at scope exit.
class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size) : fd_(::memfd_create("edgeclr-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();  // the harness, not the input, is broken
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

// Parameters a target needs besides the file (gray or RGB, a decode size), taken from
// the input's length and a byte in its middle rather than from a prefix: every input is
// then the file itself, so real files seed the corpus as they are and a crash found is
// a file a user could have (and the CLI can be run on).
struct SideParameters {
  SideParameters(const uint8_t* data, size_t size)
      : bit(size & 1), choice((size >> 1) % 3), byte(size > 0 ? data[size / 2] : 0) {}
  bool bit;        // the length's lowest bit
  uint32_t choice; // 0, 1 or 2, from the length's next bits
  uint8_t byte;    // the middle byte
};

}  // namespace edgeclr::fuzz
