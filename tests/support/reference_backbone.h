// Runs a verified model's backbone op by op with the reference kernels (the oracle the
// XNNPACK backbone is compared with), and bounds how far a correct XNNPACK run may be
// from it, element by element.
//
// The bound is carried alongside every tensor through the graph: each op adds its own
// rounding error (fp32: Higham's gamma_n bound on sums of products; int8: whether the
// pre-rounding value can land on the other side of a rounding boundary) and passes its
// inputs' bounds through (|W| times the input bound for linear ops, the Lipschitz
// constant for the others). reference_backbone.cpp lists the rule of every op.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace edgeclr::testing {

struct ReferenceFeature {
  std::vector<float> feature;      // batch x feature_dim
  std::vector<double> tolerance;   // batch x feature_dim: largest |XNNPACK - feature| a correct run may show
};

// `input`: batch x H x W x C floats (NHWC, the preprocessed image). Images are run one
// at a time through the model's batch-1 shapes. Throws std::exception on a model the
// reference cannot run (never on a verified one).
ReferenceFeature reference_feature_with_tolerance(const Model& model, const float* input, uint32_t batch);

// The feature alone: batch x feature_dim.
std::vector<float> reference_feature(const Model& model, const float* input, uint32_t batch);

}  // namespace edgeclr::testing
