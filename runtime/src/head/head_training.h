// Training the projection head on the device: a forward pass that keeps what backward
// needs, backward through L2 normalisation, activations and dense layers, and the
// gradients of the weights. The backbone is frozen; features come from a cache.
#pragma once

#include <cstdint>
#include <vector>

#include "head/projection_head.h"

namespace edgeclr {

// What forward_train keeps for backward, sized for `rows` on first use and reused.
struct HeadTape {
  uint32_t rows = 0;
  std::vector<std::vector<float>> inputs;  // per layer: its input (rows, in_dim)
  std::vector<std::vector<float>> pre;     // per layer: before the activation (rows, out_dim)
  std::vector<float> output;               // last layer's output (rows, E), before normalisation
  std::vector<float> embedding;            // the embedding (rows, E): normalised if the head normalises
};

// Gradients of the loss for each layer's weight (out, in) and bias (out).
struct HeadGradients {
  std::vector<std::vector<float>> weight;
  std::vector<std::vector<float>> bias;

  void resize_like(const ProjectionHead& head);
  void zero();
};

// features (rows, feature_dim) -> tape->embedding (rows, E).
void forward_train(const ProjectionHead& head, const float* features, uint32_t rows, HeadTape* tape);

// d_embedding (rows, E): gradient of the loss wrt tape.embedding. Writes (not adds) the
// weight and bias gradients. `scratch` is resized as needed.
void backward(const ProjectionHead& head, const HeadTape& tape, const float* d_embedding, HeadGradients* grads,
              std::vector<float>* scratch);

}  // namespace edgeclr
