// Writes a 2-D float32 array as a NumPy .npy file (format 1.0), loadable with np.load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeclr::cli {

// values: rows x cols floats, row-major. Written atomically.
Status write_npy(const std::string& path, const std::vector<float>& values, uint32_t rows, uint32_t cols);

}  // namespace edgeclr::cli
