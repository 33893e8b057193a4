// Checks every tensor of a backbone against the schema's rules and the file's buffers.
#pragma once

#include <vector>

#include "core/status.h"
#include "model/tensor_info.h"

namespace edgeclr {

// Fills `infos` (one per tensor) or says which tensor is wrong and why.
// Requires: `model` passed the FlatBuffers Verifier.
Status check_tensors(const schema::Model& model, const uint8_t* file_base,
                     std::vector<TensorInfo>* infos);

}  // namespace edgeclr
