// Bounds the loader enforces on every count and size taken from a model file, so that
// no allocation or loop is sized by an unchecked field. Generous for edge encoders
// (ResNet-50 at 224x224 is well inside), tight enough to reject nonsense early.
#pragma once

#include <cstdint>

namespace edgeclr {

// The newest version this build reads; newer is refused. 2: the checksum and the
// backbone hash are XXH3 (version 1 files, FNV-1a, still read; core/content_hash.h).
// 3: tensor operators (concat, slice, transpose, batch matmul, softmax, mean, layer norm,
// gelu) and tensors of rank 5 and 6. 4: fully connected layers whose fp32 input is
// quantized per row at run time (InputQuantization DYNAMIC_PER_ROW). A writer stamps the
// lowest version that holds what the model uses (required_format_version), so a CNN stays
// readable by version-2 readers and an fp32 transformer by version-3 ones.
inline constexpr uint32_t kFormatVersion = 4;
inline constexpr uint32_t kFirstTensorOpsFormat = 3;
inline constexpr uint32_t kFirstDynamicInt8Format = 4;

inline constexpr uint32_t kMaxRank = 6;      // XNNPACK's XNN_MAX_TENSOR_DIMS (both generations)
inline constexpr uint32_t kMaxConcatInputs = 256;
inline constexpr uint32_t kMaxDim = 1u << 20;                // any one dimension
inline constexpr uint64_t kMaxTensorElements = 1ull << 28;  // 1 GiB of fp32
inline constexpr uint32_t kMaxTensors = 1u << 16;
inline constexpr uint32_t kMaxOperators = 1u << 15;
inline constexpr uint32_t kMaxImageSide = 4096;  // input spec height and width
inline constexpr uint32_t kMaxKernelOrStride = 1u << 12;
inline constexpr uint32_t kMaxHeadLayers = 16;
inline constexpr uint32_t kMaxHeadDim = 1u << 16;

}  // namespace edgeclr
