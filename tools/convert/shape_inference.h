// ONNX shape inference, run where a crash inside it cannot take the converter down.
#pragma once

#include <string>

#include "core/status.h"

namespace onnx {
class ModelProto;
}

namespace edgeclr::convert {

// Runs onnx::shape_inference::InferShapes on `model` in a child process and copies the
// inferred shapes (the graph's value_info and output types) back into `model`.
//
// Why a child: libonnx's inference functions trust the graph they are given (Debian 12's
// ONNX 1.12 dereferences null in convPoolShapeInference for a Conv whose weight rank
// differs from its input's, and divided by a zero stride; both found by fuzzing the
// converter). A file from another tool must not crash `edgeclr convert`, and libonnx is
// not ours to patch, so a crash becomes an error naming the file and the signal.
// Errors read "failed to convert '<path>': ..." (kInvalidModel for a crash or an
// inference error, kInternal when the child cannot be started).
//
// Host only (fork); call it while the process runs no other threads that could hold a
// lock the child needs (the converter imports before it starts any).
Status infer_shapes_isolated(onnx::ModelProto* model, const std::string& path);

}  // namespace edgeclr::convert
