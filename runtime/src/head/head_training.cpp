#include "head/head_training.h"

#include <algorithm>
#include <cmath>

#include "backbone/dense_gemm.h"

namespace edgeclr {

void HeadGradients::resize_like(const ProjectionHead& head) {
  weight.resize(head.layers().size());
  bias.resize(head.layers().size());
  for (size_t i = 0; i < head.layers().size(); ++i) {
    weight[i].assign(head.layers()[i].weight.size(), 0.0f);
    bias[i].assign(head.layers()[i].out_dim, 0.0f);
  }
}

void HeadGradients::zero() {
  for (auto& w : weight) std::fill(w.begin(), w.end(), 0.0f);
  for (auto& b : bias) std::fill(b.begin(), b.end(), 0.0f);
}

namespace {

// Derivative of the activation at pre-activation x (0 at the kinks, as PyTorch).
float activate_grad(schema::Activation act, float x) {
  if (act == schema::Activation_RELU) return x > 0.0f ? 1.0f : 0.0f;
  if (act == schema::Activation_RELU6) return x > 0.0f && x < 6.0f ? 1.0f : 0.0f;
  return 1.0f;
}

}  // namespace

void forward_train(const ProjectionHead& head, const float* features, uint32_t rows, HeadTape* tape) {
  const auto& layers = head.layers();
  tape->rows = rows;
  tape->inputs.resize(layers.size());
  tape->pre.resize(layers.size());
  const float* in = features;
  size_t in_dim = head.feature_dim();
  for (size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& layer = layers[l];
    tape->inputs[l].assign(in, in + rows * in_dim);
    tape->pre[l].resize(size_t{rows} * layer.out_dim);
    gemm_abt(tape->inputs[l].data(), layer.weight.data(), layer.bias.empty() ? nullptr : layer.bias.data(), rows,
             layer.out_dim, layer.in_dim, tape->pre[l].data());
    tape->output.resize(tape->pre[l].size());
    for (size_t i = 0; i < tape->pre[l].size(); ++i) tape->output[i] = apply_activation(layer.activation, tape->pre[l][i]);
    in = tape->output.data();
    in_dim = layer.out_dim;
  }
  if (layers.empty()) tape->output.assign(features, features + size_t{rows} * head.feature_dim());
  tape->embedding = tape->output;
  if (head.l2_normalize()) l2_normalize_rows(tape->embedding.data(), rows, head.embedding_dim());
}

void backward(const ProjectionHead& head, const HeadTape& tape, const float* d_embedding, HeadGradients* grads,
              std::vector<float>* scratch) {
  const uint32_t rows = tape.rows;
  const uint32_t e = head.embedding_dim();
  // Through y = x / |x|: dx = (dy - y (y . dy)) / |x|.
  std::vector<float>& d = *scratch;
  d.assign(d_embedding, d_embedding + size_t{rows} * e);
  if (head.l2_normalize()) {
    for (uint32_t r = 0; r < rows; ++r) {
      const float* y = tape.embedding.data() + size_t{r} * e;
      const float* x = tape.output.data() + size_t{r} * e;
      float* g = d.data() + size_t{r} * e;
      double dot = 0, norm = 0;
      for (uint32_t i = 0; i < e; ++i) {
        dot += double{y[i]} * g[i];
        norm += double{x[i]} * x[i];
      }
      if (norm == 0) continue;
      const double inv = 1.0 / std::sqrt(norm);
      for (uint32_t i = 0; i < e; ++i) g[i] = static_cast<float>((g[i] - y[i] * dot) * inv);
    }
  }
  grads->resize_like(head);
  std::vector<float> d_in, d_t;
  for (size_t l = head.layers().size(); l-- > 0;) {
    const DenseLayer& layer = head.layers()[l];
    const uint32_t n_in = layer.in_dim, n_out = layer.out_dim;
    for (size_t i = 0; i < d.size(); ++i) d[i] *= activate_grad(layer.activation, tape.pre[l][i]);
    // dW (out, in) = dZ^T X; db = column sums of dZ; dX (rows, in) = dZ W.
    d_t.resize(d.size());
    for (uint32_t r = 0; r < rows; ++r) {
      for (uint32_t o = 0; o < n_out; ++o) d_t[size_t{o} * rows + r] = d[size_t{r} * n_out + o];
    }
    gemm_ab(d_t.data(), tape.inputs[l].data(), n_out, n_in, rows, grads->weight[l].data());
    std::vector<float>& db = grads->bias[l];
    for (uint32_t o = 0; o < n_out && !layer.bias.empty(); ++o) {
      double sum = 0;
      for (uint32_t r = 0; r < rows; ++r) sum += d_t[size_t{o} * rows + r];
      db[o] = static_cast<float>(sum);
    }
    if (l == 0) break;  // the features are frozen: no gradient for them
    d_in.resize(size_t{rows} * n_in);
    gemm_ab(d.data(), layer.weight.data(), rows, n_in, n_out, d_in.data());
    d.swap(d_in);
  }
}

}  // namespace edgeclr
