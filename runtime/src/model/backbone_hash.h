// The backbone hash: a 64-bit hash (core/content_hash.h: by format version) over the canonical content of everything that decides
// what feature an image gets (input spec, tensors with their data, operators with their
// options), and nothing else (names, metadata, the head). A head trained on the device
// records it and is refused by any other backbone.
#pragma once

#include <cstdint>
#include <vector>

#include "model/tensor_info.h"

namespace edgeclr {

// Requires: the model passed verification (tensor infos match its tensors).
uint64_t compute_backbone_hash(const schema::Model& model, const std::vector<TensorInfo>& tensors);

}  // namespace edgeclr
