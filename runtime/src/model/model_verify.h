// Verification of a .eclr file: FlatBuffers structure, version, checksum, then the
// semantic rules of docs/format.md. Nothing in the file is trusted before this passes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "model/tensor_info.h"

namespace edgeclr {

// What verification proved and computed. Valid as long as the bytes it was made from.
struct VerifiedModel {
  const schema::Model* root = nullptr;
  std::vector<TensorInfo> tensors;  // one per backbone tensor
  uint32_t feature_dim = 0;         // last dimension of the feature tensor
  uint32_t embedding_dim = 0;
  uint64_t backbone_hash = 0;
};

// The message of a failure names the element and the values, without the file name
// (the caller prefixes it). Thread-safe; reads only `data`.
Status verify_model(const uint8_t* data, size_t size, VerifiedModel* out);

// The head's rules (also for head checkpoints): at most kMaxHeadLayers layers whose
// dimensions chain from `feature_dim`, weight and bias counts, known activations, finite
// values. Requires: `head` passed the FlatBuffers Verifier.
Status check_head(const schema::Head& head, uint32_t feature_dim, uint32_t* embedding_dim);

}  // namespace edgeclr
