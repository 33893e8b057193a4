// The bytes of one .eclr file: an mmap'd file or a caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace edgeclr {

// Largest model file accepted (bytes). FlatBuffers itself stops at 2 GiB; a model for a
// phone or a Pi is a few MB, so anything near this is a wrong file.
inline constexpr size_t kMaxModelBytes = size_t{1} << 30;

// Constant buffers are aligned to this within the file; a caller's buffer whose start
// is not aligned to it is copied once so that weights stay aligned in memory.
inline constexpr size_t kModelAlignment = 64;

// Owns or borrows the bytes of a model file. Move-only. The bytes never change.
class ModelStorage {
 public:
  // Maps `path` read-only. Fails on a missing, unreadable, empty or oversized file.
  static Result<ModelStorage> map_file(const std::string& path);

  // Uses `data` in place when it is kModelAlignment-aligned (then it must outlive the
  // storage), otherwise copies it into an aligned allocation.
  static Result<ModelStorage> from_buffer(const void* data, size_t size);

  ModelStorage(ModelStorage&& other) noexcept;
  ModelStorage& operator=(ModelStorage&& other) noexcept;
  ModelStorage(const ModelStorage&) = delete;
  ModelStorage& operator=(const ModelStorage&) = delete;
  ~ModelStorage();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Whether the bytes are a mapped file (else a caller's buffer or an owned copy).
  bool is_mapped() const { return mapping_ != nullptr; }

  // For a mapped file: the whole pages inside [begin, begin + bytes) leave this process's
  // resident set (MADV_DONTNEED); the bytes do not change, and a later read maps them
  // again from the file. For when a copy of them is all that is read from now on (XNNPACK's
  // packed weights). A no-op for a buffer or a range outside the file. Thread-safe.
  void release_pages(const void* begin, size_t bytes) const;

 private:
  ModelStorage() = default;
  void release();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // from mmap, unmapped on destruction
  size_t mapping_size_ = 0;
  uint8_t* owned_ = nullptr;  // aligned copy, freed on destruction
};

}  // namespace edgeclr
