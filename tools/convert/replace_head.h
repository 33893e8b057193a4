// A converted model with its head taken from a head checkpoint (.eclh), e.g. one that
// `edgeclr adapt` trained on this model's fp32 conversion: how an adapted head ships
// inside the model file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeclr::convert {

// `model_bytes`: a model that loads. The checkpoint must load for it (its backbone hash
// equal to this model's, its layers chaining from the feature); the result is the same
// model with the checkpoint's layers and normalisation as its head, metadata
// "head_source" naming the checkpoint and its version. Errors: load_head_checkpoint's.
Result<std::vector<uint8_t>> replace_head(const std::vector<uint8_t>& model_bytes, const std::string& head_path);

}  // namespace edgeclr::convert
