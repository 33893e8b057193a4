// edgeclr convert: ONNX file -> .eclr model (fp32), the steps in order.
#pragma once

#include <string>

#include "convert/lower.h"
#include "core/status.h"

namespace edgeclr::convert {

// Imports, simplifies (pass-through nodes, constant folding, BatchNorm folding), lowers
// and verifies the result by loading it. Errors read "failed to convert '<path>': ...".
// `notes` (may be null) receives what was changed that the user should know (e.g. a
// classifier's Softmax dropped).
Result<std::vector<uint8_t>> convert_onnx_fp32(const std::string& onnx_path, const LowerOptions& options,
                                               std::vector<std::string>* notes = nullptr);

}  // namespace edgeclr::convert
