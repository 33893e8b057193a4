// Reads an ONNX file into the converter's Graph: parses the protobuf (bounded), checks
// the opset, runs ONNX shape inference and decodes initializers and attributes.
#pragma once

#include <map>
#include <string>

#include "convert/graph.h"
#include "core/status.h"

namespace edgeclr::convert {

// Default-domain opsets the converter understands: from kMinOpset to max_opset(), the
// newest that both the lowering (kMaxLoweredOpset: opsets 18-22 changed only Pad, whose
// axes input is handled, and the types of the others) and the linked ONNX's shape
// inference know: 17 with Debian 12's ONNX 1.12, 22 with Debian 13's 1.17.
inline constexpr int64_t kMinOpset = 7;
inline constexpr int64_t kMaxLoweredOpset = 22;
int64_t max_opset();

// What import_onnx binds the input's symbolic (dynamic) dimensions to, before shape
// inference: batch to 1, channels to `channels`, height and width to `height` and
// `width` (0: not given; then a symbolic one is an error naming the input's dims).
struct InputBinding {
  uint32_t channels = 0, height = 0, width = 0;
};

// Errors read "failed to convert '<path>': <why>".
//
// `folded`: values already known to be constant (from a first import and constant
// folding); they become initializers and the nodes computing them are dropped before
// shape inference runs again. ONNX 1.12's shape inference cannot follow a shape through
// Shape -> Gather -> Unsqueeze -> Concat -> Reshape; once the chain is a constant it can.
Result<Graph> import_onnx(const std::string& path, const InputBinding& binding = {},
                          const std::map<std::string, Constant>* folded = nullptr);

// Reads a serialized onnx.TensorProto (as ONNX's test data stores inputs and outputs).
Result<Constant> read_tensor_file(const std::string& path);

}  // namespace edgeclr::convert
