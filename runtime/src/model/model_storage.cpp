#include "model/model_storage.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace edgeclr {

Result<ModelStorage> ModelStorage::map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return error(StatusCode::kIoError, format("cannot open: %s", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return error(StatusCode::kIoError, format("cannot stat: %s", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error(StatusCode::kIoError, "not a regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return error(StatusCode::kInvalidModel, "file is empty");
  }
  if (size > kMaxModelBytes) {
    ::close(fd);
    return error(StatusCode::kInvalidModel,
                 format("file has %llu bytes, the limit is %zu", static_cast<unsigned long long>(size),
                        kMaxModelBytes));
  }
  void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) {
    return error(StatusCode::kIoError, format("cannot mmap: %s", std::strerror(map_errno)));
  }
  ModelStorage storage;
  storage.mapping_ = mapping;
  storage.mapping_size_ = size;
  storage.data_ = static_cast<const uint8_t*>(mapping);
  storage.size_ = size;
  return storage;
}

Result<ModelStorage> ModelStorage::from_buffer(const void* data, size_t size) {
  if (data == nullptr || size == 0) {
    return error(StatusCode::kInvalidArgument, "buffer is null or empty");
  }
  if (size > kMaxModelBytes) {
    return error(StatusCode::kInvalidModel,
                 format("buffer has %zu bytes, the limit is %zu", size, kMaxModelBytes));
  }
  ModelStorage storage;
  if (reinterpret_cast<uintptr_t>(data) % kModelAlignment == 0) {
    storage.data_ = static_cast<const uint8_t*>(data);
  } else {
    const size_t rounded = (size + kModelAlignment - 1) / kModelAlignment * kModelAlignment;
    auto* copy = static_cast<uint8_t*>(std::aligned_alloc(kModelAlignment, rounded));
    if (copy == nullptr) {
      return error(StatusCode::kOutOfMemory, format("cannot copy %zu bytes", size));
    }
    std::memcpy(copy, data, size);
    storage.owned_ = copy;
    storage.data_ = copy;
  }
  storage.size_ = size;
  return storage;
}

void ModelStorage::release_pages(const void* begin, size_t bytes) const {
  if (mapping_ == nullptr || begin == nullptr) return;
  const auto start = reinterpret_cast<uintptr_t>(begin);
  const auto file_start = reinterpret_cast<uintptr_t>(mapping_);
  if (start < file_start || bytes > mapping_size_ || start - file_start > mapping_size_ - bytes) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (start + page - 1) / page * page;  // pages shared with a neighbour stay
  const uintptr_t last = (start + bytes) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

ModelStorage::ModelStorage(ModelStorage&& other) noexcept { *this = std::move(other); }

ModelStorage& ModelStorage::operator=(ModelStorage&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    mapping_ = other.mapping_;
    mapping_size_ = other.mapping_size_;
    owned_ = other.owned_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.mapping_ = nullptr;
    other.mapping_size_ = 0;
    other.owned_ = nullptr;
  }
  return *this;
}

ModelStorage::~ModelStorage() { release(); }

void ModelStorage::release() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
  std::free(owned_);
  mapping_ = nullptr;
  owned_ = nullptr;
}

}  // namespace edgeclr
