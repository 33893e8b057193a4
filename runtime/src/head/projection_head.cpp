#include "head/projection_head.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backbone/dense_gemm.h"

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define EDGECLR_HEAD_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define EDGECLR_HEAD_KERNEL
#endif

namespace edgeclr {

ProjectionHead ProjectionHead::from_schema(const schema::Head& head, uint32_t feature_dim) {
  ProjectionHead h;
  h.feature_dim_ = feature_dim;
  h.l2_normalize_ = head.l2_normalize();
  if (const auto* layers = head.layers()) {
    for (const schema::DenseLayer* l : *layers) {
      DenseLayer layer;
      layer.in_dim = l->in_dim();
      layer.out_dim = l->out_dim();
      layer.weight.assign(l->weight()->begin(), l->weight()->end());
      if (l->bias() != nullptr) layer.bias.assign(l->bias()->begin(), l->bias()->end());
      layer.activation = l->activation();
      h.max_width_ = std::max(h.max_width_, layer.out_dim);
      h.layers_.push_back(std::move(layer));
    }
  }
  return h;
}

size_t ProjectionHead::scratch_floats(uint32_t batch) const { return size_t{2} * batch * max_width_; }

float apply_activation(schema::Activation activation, float x) {
  if (activation == schema::Activation_RELU) return std::max(x, 0.0f);
  if (activation == schema::Activation_RELU6) return std::min(std::max(x, 0.0f), 6.0f);
  return x;
}

// The head's inner product runs once per output per image at encode time (ResNet-50:
// 2048 x 1000), so it is written to vectorize: 8 partial sums per output (lane l adds the
// products i = l mod 8), combined in a fixed order. With AVX2 (a clone chosen at load
// time, no FMA) and without, the additions happen in the same order: the same bits on
// every x86-64. One running sum, as before, was a chain of dependent adds the compiler
// may not reorder: MobileNetV3-Small's 1024 x 1000 head took 0.55 ms, now 0.27 ms
// (edgeclr bench: model_p50_ms - backbone_p50_ms), bound by reading its 4 MB of weights.
EDGECLR_HEAD_KERNEL void dense_linear(const DenseLayer& layer, const float* in, uint32_t rows, float* out) {
  constexpr size_t kLanes = 8;
  const size_t n_in = layer.in_dim;
  const uint32_t n_out = layer.out_dim;
  for (uint32_t r = 0; r < rows; ++r) {
    const float* x = in + size_t{r} * n_in;
    float* y = out + size_t{r} * n_out;
    for (uint32_t o = 0; o < n_out; ++o) {
      const float* w = layer.weight.data() + size_t{o} * n_in;
      float lanes[kLanes] = {};
      size_t i = 0;
      for (; i + kLanes <= n_in; i += kLanes) {
        for (size_t l = 0; l < kLanes; ++l) lanes[l] += w[i + l] * x[i + l];
      }
      float acc = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
      for (; i < n_in; ++i) acc += w[i] * x[i];
      y[o] = layer.bias.empty() ? acc : acc + layer.bias[o];
    }
  }
}

void dense_forward(const DenseLayer& layer, const float* in, uint32_t rows, float* out) {
  dense_linear(layer, in, rows, out);
  if (layer.activation == schema::Activation_NONE) return;
  for (size_t i = 0; i < size_t{rows} * layer.out_dim; ++i) out[i] = apply_activation(layer.activation, out[i]);
}

void l2_normalize_rows(float* x, uint32_t rows, uint32_t dim) {
  for (uint32_t r = 0; r < rows; ++r) {
    float* row = x + size_t{r} * dim;
    double sum = 0.0;
    for (uint32_t i = 0; i < dim; ++i) sum += double{row[i]} * row[i];
    if (sum == 0.0) continue;
    const auto inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (uint32_t i = 0; i < dim; ++i) row[i] *= inv;
  }
}

void ProjectionHead::forward(const float* features, uint32_t batch, float* embeddings, float* scratch) const {
  const float* in = features;
  float* buffers[2] = {scratch, scratch + size_t{batch} * max_width_};
  for (size_t i = 0; i < layers_.size(); ++i) {
    float* out = i + 1 == layers_.size() ? embeddings : buffers[i % 2];
    dense_forward(layers_[i], in, batch, out);
    in = out;
  }
  if (layers_.empty()) std::memcpy(embeddings, features, sizeof(float) * batch * feature_dim_);
  if (l2_normalize_) l2_normalize_rows(embeddings, batch, embedding_dim());
}

void ProjectionHead::forward_bulk(const float* features, size_t rows, float* embeddings) const {
  constexpr size_t kChunk = 1024;  // rows per product: bounded scratch, big enough to amortize packing
  std::vector<float> a, b;
  for (size_t first = 0; first < rows; first += kChunk) {
    const auto m = static_cast<uint32_t>(std::min(kChunk, rows - first));
    const float* in = features + first * feature_dim_;
    float* result = embeddings + first * embedding_dim();
    for (size_t i = 0; i < layers_.size(); ++i) {
      const DenseLayer& layer = layers_[i];
      std::vector<float>& buffer = i % 2 ? b : a;
      float* out = i + 1 == layers_.size() ? result : (buffer.resize(size_t{m} * layer.out_dim), buffer.data());
      gemm_abt(in, layer.weight.data(), layer.bias.empty() ? nullptr : layer.bias.data(), m, layer.out_dim, layer.in_dim,
               out);
      if (layer.activation != schema::Activation_NONE) {
        for (size_t j = 0; j < size_t{m} * layer.out_dim; ++j) out[j] = apply_activation(layer.activation, out[j]);
      }
      in = out;
    }
    if (layers_.empty()) std::memcpy(result, in, sizeof(float) * m * feature_dim_);
    if (l2_normalize_) l2_normalize_rows(result, m, embedding_dim());
  }
}

}  // namespace edgeclr
