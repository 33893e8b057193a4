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

// What import_onnx binds the input's symbolic (dynamic) dimensions to, before shape
// inference: batch to 1, channels to `channels`, height and width to `height` and
// `width` (0: not given; then a symbolic one is an error naming the input's dims).
struct InputBinding {
  uint32_t channels = 0, height = 0, width = 0;
};

// Errors read "failed to convert '<path>': <why>".
Result<Graph> import_onnx(const std::string& path, const InputBinding& binding = {});

// Reads a serialized onnx.TensorProto (as ONNX's test data stores inputs and outputs).
Result<Constant> read_tensor_file(const std::string& path);

}  // namespace edgeclr::convert
