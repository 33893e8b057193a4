#include "core/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace edgeclr {
namespace {

Status io_error(const std::string& path, const char* what, int err) {
  return error(StatusCode::kIoError, format("failed to write '%s': %s: %s", path.c_str(), what, std::strerror(err)));
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status write_all(int fd, const void* data, size_t size, const std::string& path) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, bytes, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, "write", errno);
    }
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status write_file_atomically(const std::string& path, const void* data, size_t size) {
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(&temp[0]);
  if (fd < 0) return io_error(path, "create temp file", errno);
  Status status = write_all(fd, data, size, path);
  if (status.ok() && ::fsync(fd) != 0) status = io_error(path, "fsync", errno);
  if (::close(fd) != 0 && status.ok()) status = io_error(path, "close", errno);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) status = io_error(path, "rename", errno);
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some filesystems refuse fsync on a directory
    ::close(dir);
  }
  return Status::Ok();
}

}  // namespace edgeclr
