#include "core/atomic_file.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/output_path.h"

namespace edgeclr {
namespace {

std::atomic<AtomicWriteFaultHook> g_fault_hook{nullptr};  // test-only, see the header

// The errno the test-only hook injects into `step`, or 0 (always, outside tests).
int injected_fault(AtomicWriteStep step, const std::string& path) {
  const AtomicWriteFaultHook hook = g_fault_hook.load(std::memory_order_relaxed);
  return hook != nullptr ? hook(step, path) : 0;
}

Status io_error(const std::string& path, const char* what, int err) {
  return error(StatusCode::kIoError, format("failed to write '%s': %s: %s", path.c_str(), what, std::strerror(err)));
}

Status write_all(int fd, const void* data, size_t size, const std::string& path) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const int injected = injected_fault(AtomicWriteStep::kWrite, path);
    const size_t asked = injected == kShortWrite ? std::max<size_t>(size / 2, 1) : size;
    const ssize_t n = injected > 0 ? -1 : ::write(fd, bytes, asked);
    if (n < 0) {
      const int err = injected > 0 ? injected : errno;
      if (err == EINTR) continue;
      return io_error(path, "write", err);
    }
    if (n == 0) return io_error(path, "write", EIO);  // no progress: never spin on it
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// The mode a plain open(O_CREAT, 0666) would give: mkstemp makes 0600 files, and the
// rename would keep that, leaving models and checkpoints unreadable to other users. The
// process's umask is read from /proc (umask() itself would change it, racing other
// threads); 022 when /proc is not there.
mode_t created_file_mode() {
  mode_t mask = 022;
  if (FILE* status = std::fopen("/proc/self/status", "re")) {
    char line[128];
    unsigned value = 0;
    while (std::fgets(line, sizeof line, status) != nullptr) {
      if (std::sscanf(line, "Umask: %o", &value) == 1) {
        mask = static_cast<mode_t>(value);
        break;
      }
    }
    std::fclose(status);
  }
  return 0666 & ~mask;
}

}  // namespace

void set_atomic_write_fault_hook_for_testing(AtomicWriteFaultHook hook) {
  g_fault_hook.store(hook, std::memory_order_relaxed);
}

Status write_file_atomically(const std::string& path, const void* data, size_t size) {
  std::string temp = path + ".tmp.XXXXXX";
  int err = injected_fault(AtomicWriteStep::kCreateTemp, path);
  const int fd = err != 0 ? -1 : ::mkstemp(&temp[0]);
  if (fd < 0) return io_error(path, "create temp file", err != 0 ? err : errno);
  ::fchmod(fd, created_file_mode());  // best effort: the data matters more than the mode
  Status status = write_all(fd, data, size, path);
  if (status.ok()) {
    err = injected_fault(AtomicWriteStep::kFsync, path);
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    if (err != 0) status = io_error(path, "fsync", err);
  }
  err = ::close(fd) != 0 ? errno : 0;  // closed whatever happened before
  if (err == 0) err = injected_fault(AtomicWriteStep::kClose, path);
  if (err != 0 && status.ok()) status = io_error(path, "close", err);
  if (status.ok()) {
    err = injected_fault(AtomicWriteStep::kRename, path);
    if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0) err = errno;
    if (err != 0) status = io_error(path, "rename", err);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  if (injected_fault(AtomicWriteStep::kFsyncDirectory, path) == 0) {
    const int dir = ::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);  // best effort: some filesystems refuse fsync on a directory
      ::close(dir);
    }
  }
  return Status::Ok();
}

}  // namespace edgeclr
