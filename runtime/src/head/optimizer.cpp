#include "head/optimizer.h"

#include <cmath>

namespace edgeclr {

float cosine_learning_rate(float base, uint32_t step, uint32_t total) {
  if (total <= 1) return base;
  const double t = double(step) / double(total - 1);
  return static_cast<float>(0.5 * base * (1.0 + std::cos(M_PI * t)));
}

HeadOptimizer::HeadOptimizer(const OptimizerOptions& options, const ProjectionHead& reference)
    : options_(options), reference_(reference.layers()) {
  for (const DenseLayer& l : reference_) {
    for (size_t size : {l.weight.size(), l.bias.size()}) {
      m_.emplace_back(size, 0.0f);
      v_.emplace_back(size, 0.0f);
    }
  }
}

void HeadOptimizer::update(std::vector<float>* w, const std::vector<float>& g, const std::vector<float>& reference,
                           std::vector<float>* m, std::vector<float>* v, float lr) {
  const OptimizerOptions& o = options_;
  const double correction1 = 1.0 - std::pow(double{o.beta1}, steps_);
  const double correction2 = 1.0 - std::pow(double{o.beta2}, steps_);
  for (size_t i = 0; i < w->size(); ++i) {
    float& x = (*w)[i];
    const float grad = g[i] + o.weight_decay * x + o.pull * (x - reference[i]);
    if (o.kind == OptimizerOptions::Kind::kSgd) {
      // torch.optim.SGD: buf = momentum * buf + grad (buf = grad on the first step).
      (*m)[i] = steps_ == 1 ? grad : o.momentum * (*m)[i] + grad;
      x -= lr * (*m)[i];
    } else {
      (*m)[i] = o.beta1 * (*m)[i] + (1 - o.beta1) * grad;
      (*v)[i] = o.beta2 * (*v)[i] + (1 - o.beta2) * grad * grad;
      const double denom = std::sqrt((*v)[i] / correction2) + o.eps;
      x -= static_cast<float>(lr / correction1 * (*m)[i] / denom);
    }
  }
}

void HeadOptimizer::step(ProjectionHead* head, const HeadGradients& grads, float lr) {
  ++steps_;
  std::vector<DenseLayer>& layers = head->mutable_layers();
  size_t k = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    update(&layers[l].weight, grads.weight[l], reference_[l].weight, &m_[k], &v_[k], lr);
    ++k;
    if (!layers[l].bias.empty()) update(&layers[l].bias, grads.bias[l], reference_[l].bias, &m_[k], &v_[k], lr);
    ++k;
  }
}

}  // namespace edgeclr
