// Comparing edgeclr's output for an ONNX test case with ONNX's expected output, within a
// per-element tolerance derived from the computation (STYLE habit 8).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "head/projection_head.h"

namespace edgeclr::conformance {

// Bounds `bound` (per element of `features`, one row) through the head's dense layers:
// returns the bound on the head output. Same rules as the backbone reference
// (tests/support/reference_backbone.cpp): a dense layer moves input errors by sum |w| E
// and adds its own fp32 rounding gamma(K + 1) (sum |w| (|x| + E) + |b|); ReLU passes E.
std::vector<double> head_output_bound(const ProjectionHead& head, const std::vector<float>& features,
                                      const std::vector<double>& bound);

// ONNX's expected output in the order edgeclr produces it: a 4-D [1,C,H,W] tensor
// transposed to NHWC and flattened (the converter flattens a spatial feature as H, W, C);
// any other rank flattened as it is.
std::vector<float> expected_in_edgeclr_order(const std::vector<int64_t>& dims, const std::vector<float>& values);

struct Comparison {
  size_t out_of_tolerance = 0;  // elements of `got` outside their tolerance
  size_t worst = 0;             // index (edgeclr order) with the largest |diff| / tolerance
  double worst_diff = 0;
  double worst_tolerance = 0;
};

// |got[i] - expected[i]| <= tolerance[i] for every i; a non-finite expected value must be
// matched exactly (inf by the same inf, NaN by NaN).
Comparison compare(const std::vector<float>& got, const std::vector<float>& expected,
                   const std::vector<double>& tolerance);

// Where index `i` of the edgeclr-order output lies in ONNX's tensor, e.g. "[c=3,h=0,w=2]"
// for a 4-D output, "[17]" otherwise.
std::string onnx_position(const std::vector<int64_t>& dims, size_t i);

}  // namespace edgeclr::conformance
