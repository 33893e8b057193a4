// Checks that a file can be written where the caller means to write it, before long work
// (training, conversion, encoding a folder) rather than at its end: the folder exists, is
// a folder, is writable, and its file system has room for what is known of the size.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace edgeclr {

// `path`: the file to be written (it may exist; it will be replaced). `bytes_needed`:
// what the write will take, 0 when not known; compared with the space the file system
// gives this user (statvfs f_bavail), so a full disk is refused up front. A check, not a
// reservation: the space can still run out before the write, which then fails cleanly
// (write_file_atomically). Errors (kIoError) read
//   cannot write 'out/h.eclh': folder 'out' does not exist
//   cannot write 'h.eclh': needs 2.8 MB, the file system of '.' has 1.1 MB free
Status check_output_path(const std::string& path, uint64_t bytes_needed = 0);

// The folder `path` is in: "." for a bare name, "/" for a file at the root.
std::string folder_of(const std::string& path);

// The same for a folder the caller will create if missing (its parent must be writable)
// and fill with files, `bytes_needed` in all.
Status check_output_folder(const std::string& folder, uint64_t bytes_needed = 0);

}  // namespace edgeclr
