// Crash-safe file replacement: write a temp file beside the target, fsync it, rename it
// over the target, fsync the directory. After a power cut the target holds the old
// content or the new, never a mix.
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"

namespace edgeclr {

Status write_file_atomically(const std::string& path, const void* data, size_t size);

}  // namespace edgeclr
