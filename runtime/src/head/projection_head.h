// The projection head: a small fp32 MLP from feature to embedding, then (optionally)
// L2 normalisation. It holds its own copy of the weights, so it can be trained on the
// device without touching the model file.
#pragma once

#include <cstdint>
#include <vector>

#include "schema/edgeclr_generated.h"

namespace edgeclr {

struct DenseLayer {
  uint32_t in_dim = 0;
  uint32_t out_dim = 0;
  std::vector<float> weight;  // row-major (out_dim, in_dim)
  std::vector<float> bias;    // out_dim values, or empty
  schema::Activation activation = schema::Activation_NONE;
};

class ProjectionHead {
 public:
  // Copies the layers of a verified model's head.
  static ProjectionHead from_schema(const schema::Head& head, uint32_t feature_dim);

  uint32_t feature_dim() const { return feature_dim_; }
  uint32_t embedding_dim() const { return layers_.empty() ? feature_dim_ : layers_.back().out_dim; }
  bool l2_normalize() const { return l2_normalize_; }
  const std::vector<DenseLayer>& layers() const { return layers_; }
  // For training: shapes must not change.
  std::vector<DenseLayer>& mutable_layers() { return layers_; }

  // Floats of scratch that forward() needs for `batch` rows.
  size_t scratch_floats(uint32_t batch) const;

  // features (batch, feature_dim) -> embeddings (batch, embedding_dim).
  // `scratch` holds scratch_floats(batch) floats. No allocation; const, so one head may
  // serve several threads, each with its own scratch.
  void forward(const float* features, uint32_t batch, float* embeddings, float* scratch) const;

  // The same for bulk work (a gallery's adds and re-projection): the layers run through
  // XNNPACK's fully connected operator (head/dense_gemm.h), 20x and more the speed of
  // forward()'s loops on a large batch. Allocates; agrees with forward() to rounding.
  void forward_bulk(const float* features, size_t rows, float* embeddings) const;

 private:
  uint32_t feature_dim_ = 0;
  bool l2_normalize_ = true;
  uint32_t max_width_ = 0;  // widest layer output
  std::vector<DenseLayer> layers_;
};

// in (rows, in_dim), weight (out_dim, in_dim), bias (out_dim) -> out (rows, out_dim),
// then the layer's activation.
void dense_forward(const DenseLayer& layer, const float* in, uint32_t rows, float* out);

// The same without the activation (training keeps the pre-activation values).
void dense_linear(const DenseLayer& layer, const float* in, uint32_t rows, float* out);

// The layer's activation of one pre-activation value.
float apply_activation(schema::Activation activation, float x);

// Scales each row of x (rows, dim) to unit L2 norm; an all-zero row stays zero.
void l2_normalize_rows(float* x, uint32_t rows, uint32_t dim);

}  // namespace edgeclr
