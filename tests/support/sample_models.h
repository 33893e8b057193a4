// Small, valid models built with ModelBuilder, for tests and the demo. Weights are
// random from a fixed seed, so the same call gives the same bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "builder/model_builder.h"

namespace edgeclr::testing {

// Shapes of the sample models (shared by the tests that check what inspect reports).
inline constexpr uint32_t kSampleSide = 16;      // input 16x16x3
inline constexpr uint32_t kSampleChannels = 8;   // backbone width
inline constexpr uint32_t kSampleHidden = 16;    // head 8 -> 16 -> 4
inline constexpr uint32_t kSampleEmbedding = 4;

// fp32: conv3x3/s2 (relu6) -> depthwise 3x3 -> hardswish -> conv1x1 -> add (residual)
//       -> global average pool -> reshape [1,8] = feature; head 8 -> 16 (relu) -> 4.
ModelBuilder sample_fp32_builder(uint32_t seed = 1);

// int8: quantize -> conv3x3/s2 (per-channel weights, relu6) -> depthwise 3x3
//       -> conv1x1 -> add -> global average pool -> dequantize -> reshape = feature.
ModelBuilder sample_int8_builder(uint32_t seed = 1);

// Format 3, fp32, every tensor operator: conv 4x4/s4 (patches) -> reshape to 16 tokens of 8
//   -> layer norm -> fully connected to q, k, v (slices) -> two heads (reshape, transpose)
//   -> batch matmul (k transposed) -> softmax -> batch matmul -> transpose, reshape
//   -> fully connected -> add (residual) -> gelu -> concat of two token slices -> mean over
//   tokens = feature [1,8]; head as the others. Runs on XNNPACK 2024 only.
ModelBuilder sample_transformer_builder(uint32_t seed = 1);

inline std::vector<uint8_t> sample_fp32_model(uint32_t seed = 1) { return sample_fp32_builder(seed).finish(); }
inline std::vector<uint8_t> sample_transformer_model(uint32_t seed = 1) {
  return sample_transformer_builder(seed).finish();
}
inline std::vector<uint8_t> sample_int8_model(uint32_t seed = 1) { return sample_int8_builder(seed).finish(); }

}  // namespace edgeclr::testing
