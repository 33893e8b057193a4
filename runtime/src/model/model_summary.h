// Facts about a verified model, as `edgeclr inspect` reports them.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "model/model.h"

namespace edgeclr {

struct ModelSummary {
  const char* precision = "fp32";  // "int8" when any backbone tensor is int8
  uint64_t backbone_params = 0;    // elements of constant backbone tensors
  uint64_t head_params = 0;        // weights and biases of the head
  uint64_t backbone_macs = 0;      // multiply-accumulates per image (conv and FC)
  uint64_t head_macs = 0;
  std::map<std::string, uint32_t> op_counts;  // by op_type_name()
};

ModelSummary summarize(const Model& model);

}  // namespace edgeclr
