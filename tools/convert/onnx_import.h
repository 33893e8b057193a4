// Reads an ONNX file into the converter's Graph: parses the protobuf (bounded), checks
// the opset, runs ONNX shape inference and decodes initializers and attributes.
#pragma once

#include <string>

#include "convert/graph.h"
#include "core/status.h"

namespace edgeclr::convert {

// Default-domain opsets the converter understands.
inline constexpr int64_t kMinOpset = 11;
inline constexpr int64_t kMaxOpset = 17;

// Errors read "failed to convert '<path>': <why>".
Result<Graph> import_onnx(const std::string& path);

// Reads a serialized onnx.TensorProto (as ONNX's test data stores inputs and outputs).
Result<Constant> read_tensor_file(const std::string& path);

}  // namespace edgeclr::convert
