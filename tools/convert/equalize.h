// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
// Equalization and Bias Correction", section 4.1), an exact rewrite of an fp32 model
// before int8 quantization.
//
// For two convolutions in a row, A -> B, where A's output feeds only B, channel c of that
// output is divided by s_c (A's output channel c: weights and bias / s_c) and B's weights
// reading it are multiplied by s_c. With s_c = sqrt(rA_c / rB_c) (rA_c: A's largest |w| of
// output channel c; rB_c: B's largest |w| reading channel c) both become sqrt(rA_c rB_c):
// the channels of the activation between them get similar ranges, so one per-tensor int8
// scale fits them all, and B's per-output-channel weight scales are not set by one wide
// input channel. Sweeps repeat over all pairs (a layer can be B of one pair and A of the
// next) until the scales settle.
//
// With a calibration (the fp32 model's per-channel activation magnitudes), rA_c is the
// largest |value| of channel c of the activation instead of A's weights: here conv
// weights are quantized per output channel, so A's own weight ranges do not matter, and
// what must share one scale is the activation's channels (per tensor) and, in B, the
// input columns of each output channel. Without one, the data-free choice above.
//
// Exactness: no activation and ReLU commute with a positive scale. ReLU6 does not
// (min(x, 6) / s != min(x / s, 6) when the clamp is reached), so a channel behind a ReLU6
// is scaled only where an interval bound U of the pre-activation, propagated from the
// input spec's pixel range through the graph, proves the clamp is never reached before
// or after the scaling: U <= 6, and s_c raised to at least U / 6 (both with a 1e-5
// margin); where U > 6, s_c = 1. Pairs whose weights or bias are shared with another
// layer (as tensors or buffers) are left alone: the scaling edits them in place.
#pragma once

#include <cstdint>
#include <vector>

#include "convert/quantize.h"
#include "core/status.h"
#include "model/model.h"

namespace edgeclr::convert {

struct EqualizeReport {
  size_t pairs = 0;            // A -> B pairs found
  size_t channels = 0;         // channels between them
  size_t scaled = 0;           // of those, scaled by more than 1% (in the last sweep's product)
  size_t clamp_limited = 0;    // ReLU6 channels held at s = 1 or raised to U / 6 (last sweep)
  size_t sweeps = 0;
};

// The equalized model's bytes (fp32; the same tensors, operators and head). `calibration`
// may be null (data-free).
Result<std::vector<uint8_t>> equalize_model(const Model& fp32, const Calibration* calibration, EqualizeReport* report);

}  // namespace edgeclr::convert
