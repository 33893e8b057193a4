// What the loader learned about one tensor of the backbone, after checking it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "schema/edgeclr_generated.h"

namespace edgeclr {

struct TensorInfo {
  std::array<uint32_t, 6> dims{};  // first `rank` entries used (kMaxRank)
  uint32_t rank = 0;
  uint64_t elements = 0;
  schema::DType dtype = schema::DType_FLOAT32;
  bool is_constant = false;    // has a buffer (weights, biases)
  bool per_channel = false;    // quantized with one scale per channel
  int32_t quant_axis = -1;     // the channel axis when per_channel
  bool zero_points_zero = true;  // every zero point is 0 (symmetric)
  const uint8_t* data = nullptr;  // constant data within the model file, else null
};

// "[1,3,224,224]"
std::string shape_string(const TensorInfo& t);

const char* dtype_name(schema::DType dtype);

inline size_t dtype_size(schema::DType dtype) {
  return dtype == schema::DType_INT8 ? 1 : 4;
}

}  // namespace edgeclr
