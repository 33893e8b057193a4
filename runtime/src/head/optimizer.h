// Optimisers for the head, with PyTorch's update rules (torch.optim.SGD with momentum,
// torch.optim.Adam), weight decay, a cosine learning-rate schedule and an L2 pull
// towards a reference head (the shipped one), so a few pairs cannot drag the space far.
#pragma once

#include <cstdint>
#include <vector>

#include "head/head_training.h"
#include "head/projection_head.h"

namespace edgeclr {

struct OptimizerOptions {
  enum class Kind { kSgd, kAdam } kind = Kind::kAdam;
  float momentum = 0.9f;                      // SGD
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // Adam
  float weight_decay = 0.0f;                  // added to the gradient as decay x w (L2, as PyTorch)
  float pull = 0.0f;                          // added to the gradient as pull x (w - w_reference)
};

// Learning rate at `step` of `total` (0-based): base to 0 along half a cosine.
float cosine_learning_rate(float base, uint32_t step, uint32_t total);

class HeadOptimizer {
 public:
  // `reference`: the head the pull draws towards (copied).
  HeadOptimizer(const OptimizerOptions& options, const ProjectionHead& reference);

  // One update of `head`'s weights and biases with learning rate `lr`.
  void step(ProjectionHead* head, const HeadGradients& grads, float lr);

 private:
  void update(std::vector<float>* w, const std::vector<float>& g, const std::vector<float>& reference,
              std::vector<float>* m, std::vector<float>* v, float lr);

  OptimizerOptions options_;
  std::vector<DenseLayer> reference_;
  std::vector<std::vector<float>> m_, v_;  // per parameter array: momentum / Adam moments
  uint32_t steps_ = 0;
};

}  // namespace edgeclr
