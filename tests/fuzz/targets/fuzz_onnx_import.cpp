// Fuzz target (host only): the converter's ONNX import (protobuf parse, opset check,
// shape inference, initializers and attributes), as `edgeclr convert` reads a file a
// user exported with another tool. The input is the .onnx file itself; its length's
// lowest bit picks whether the input's symbolic dimensions are bound (to 3x32x32) or
// left for the import to refuse. ONNX's shape inference runs in a child process
// (convert/shape_inference.h): a crash inside libonnx is an error returned here, not a
// finding, and each input that reaches it costs a fork (a few hundred inputs a second
// under ASan instead of thousands).
#include <cstdint>

#include "convert/onnx_import.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edgeclr::convert::InputBinding binding;
  if (edgeclr::fuzz::SideParameters(data, size).bit) binding = {3, 32, 32};
  const edgeclr::fuzz::MemoryFile file(data, size);
  auto graph = edgeclr::convert::import_onnx(file.path(), binding);
  (void)graph;
  return 0;
}
