#include "core/output_path.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace edgeclr {
namespace {

std::string megabytes(uint64_t bytes) { return format("%.1f MB", static_cast<double>(bytes) / 1e6); }

// `folder` exists, is a folder we may create files in, and has `bytes_needed` free.
Status check_folder(const std::string& what, const std::string& folder, uint64_t bytes_needed) {
  const auto fail = [&](const std::string& why) {
    return error(StatusCode::kIoError, format("cannot write '%s': %s", what.c_str(), why.c_str()));
  };
  struct stat st;
  if (::stat(folder.c_str(), &st) != 0) {
    if (errno == ENOENT) return fail(format("folder '%s' does not exist", folder.c_str()));
    return fail(format("folder '%s': %s", folder.c_str(), std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) return fail(format("'%s' is not a folder", folder.c_str()));
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    return fail(format("folder '%s' is not writable (%s)", folder.c_str(), std::strerror(errno)));
  }
  struct statvfs fs;
  if (bytes_needed > 0 && ::statvfs(folder.c_str(), &fs) == 0) {
    const uint64_t available = uint64_t{fs.f_bavail} * fs.f_frsize;
    if (available < bytes_needed) {
      return fail(format("needs %s, the file system of '%s' has %s free", megabytes(bytes_needed).c_str(),
                         folder.c_str(), megabytes(available).c_str()));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status check_output_path(const std::string& path, uint64_t bytes_needed) {
  struct stat st;
  if (path.empty()) return error(StatusCode::kIoError, "cannot write '': no file name");
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return error(StatusCode::kIoError, format("cannot write '%s': it is a folder", path.c_str()));
  }
  return check_folder(path, folder_of(path), bytes_needed);
}

Status check_output_folder(const std::string& folder, uint64_t bytes_needed) {
  struct stat st;
  if (::stat(folder.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return error(StatusCode::kIoError, format("cannot write '%s': it is not a folder", folder.c_str()));
    return check_folder(folder, folder, bytes_needed);
  }
  std::string trimmed = folder;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  return check_folder(folder, folder_of(trimmed), bytes_needed);
}

}  // namespace edgeclr
