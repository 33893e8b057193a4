#include "head/losses.h"

#include <algorithm>
#include <cmath>

#include "backbone/dense_gemm.h"

namespace edgeclr {
namespace {

double dot(const float* a, const float* b, uint32_t n) {
  double s = 0;
  for (uint32_t i = 0; i < n; ++i) s += double{a[i]} * b[i];
  return s;
}

// grad[row] += scale * v
void add_scaled(float* grad, uint32_t row, uint32_t dim, double scale, const float* v) {
  float* g = grad + size_t{row} * dim;
  for (uint32_t i = 0; i < dim; ++i) g[i] += static_cast<float>(scale * v[i]);
}

}  // namespace

float info_nce_loss(const float* e, uint32_t dim, const PairBatch& batch, float temperature, float* grad,
                    uint32_t rows) {
  std::fill(grad, grad + size_t{rows} * dim, 0.0f);
  const auto pairs = static_cast<uint32_t>(batch.anchors.size());
  if (pairs == 0) return 0.0f;
  // Anchors A and positives P gathered (pairs x dim); in-batch logits A P^T / T through
  // one matrix product, explicit negatives one by one.
  std::vector<float> a(size_t{pairs} * dim), p(size_t{pairs} * dim), logits(size_t{pairs} * pairs);
  for (uint32_t i = 0; i < pairs; ++i) {
    std::copy_n(e + size_t{batch.anchors[i]} * dim, dim, a.data() + size_t{i} * dim);
    std::copy_n(e + size_t{batch.positives[i]} * dim, dim, p.data() + size_t{i} * dim);
  }
  gemm_abt(a.data(), p.data(), nullptr, pairs, pairs, dim, logits.data());
  // g_pos (pairs x pairs): d loss / d (a_i . p_j) = (softmax_ij - [i == j]) / (pairs T).
  std::vector<float> g_pos(size_t{pairs} * pairs), g_pos_t(size_t{pairs} * pairs);
  std::vector<double> row;
  double total = 0;
  const double scale = 1.0 / (double(pairs) * temperature);
  for (uint32_t i = 0; i < pairs; ++i) {
    const std::vector<uint32_t>* negatives = i < batch.negatives.size() ? &batch.negatives[i] : nullptr;
    const size_t n_neg = negatives ? negatives->size() : 0;
    row.resize(pairs + n_neg);
    for (uint32_t j = 0; j < pairs; ++j) row[j] = double{logits[size_t{i} * pairs + j]} / temperature;
    for (size_t k = 0; k < n_neg; ++k) row[pairs + k] = dot(a.data() + size_t{i} * dim, e + size_t{(*negatives)[k]} * dim, dim) / temperature;
    const double max = *std::max_element(row.begin(), row.end());
    double sum = 0;
    for (double l : row) sum += std::exp(l - max);
    total += max + std::log(sum) - row[i];
    for (uint32_t j = 0; j < pairs; ++j) {
      const auto g = static_cast<float>((std::exp(row[j] - max) / sum - (j == i ? 1.0 : 0.0)) * scale);
      g_pos[size_t{i} * pairs + j] = g;
      g_pos_t[size_t{j} * pairs + i] = g;
    }
    for (size_t k = 0; k < n_neg; ++k) {
      const double g = std::exp(row[pairs + k] - max) / sum * scale;
      add_scaled(grad, batch.anchors[i], dim, g, e + size_t{(*negatives)[k]} * dim);
      add_scaled(grad, (*negatives)[k], dim, g, a.data() + size_t{i} * dim);
    }
  }
  // d/dA = g_pos P, d/dP = g_pos^T A, scattered back to the rows.
  std::vector<float> d_a(size_t{pairs} * dim), d_p(size_t{pairs} * dim);
  gemm_ab(g_pos.data(), p.data(), pairs, dim, pairs, d_a.data());
  gemm_ab(g_pos_t.data(), a.data(), pairs, dim, pairs, d_p.data());
  for (uint32_t i = 0; i < pairs; ++i) {
    add_scaled(grad, batch.anchors[i], dim, 1.0, d_a.data() + size_t{i} * dim);
    add_scaled(grad, batch.positives[i], dim, 1.0, d_p.data() + size_t{i} * dim);
  }
  return static_cast<float>(total / double(pairs));
}

float triplet_loss(const float* e, uint32_t dim, const PairBatch& batch, float margin, float* grad, uint32_t rows) {
  std::fill(grad, grad + size_t{rows} * dim, 0.0f);
  const size_t pairs = batch.anchors.size();
  if (pairs == 0) return 0.0f;
  constexpr double kEps = 1e-6;  // as torch.nn.functional.pairwise_distance
  double total = 0;
  std::vector<double> dp(dim), dn(dim);
  for (size_t i = 0; i < pairs; ++i) {
    const uint32_t a = batch.anchors[i], p = batch.positives[i];
    const bool explicit_negative = i < batch.negatives.size() && !batch.negatives[i].empty();
    if (!explicit_negative && pairs < 2) continue;
    const uint32_t n = explicit_negative ? batch.negatives[i][0] : batch.positives[(i + 1) % pairs];
    double lp = 0, ln = 0;
    for (uint32_t k = 0; k < dim; ++k) {
      dp[k] = double{e[size_t{a} * dim + k]} - e[size_t{p} * dim + k] + kEps;
      dn[k] = double{e[size_t{a} * dim + k]} - e[size_t{n} * dim + k] + kEps;
      lp += dp[k] * dp[k];
      ln += dn[k] * dn[k];
    }
    lp = std::sqrt(lp);
    ln = std::sqrt(ln);
    const double loss = lp - ln + margin;
    if (loss <= 0) continue;
    total += loss;
    for (uint32_t k = 0; k < dim; ++k) {
      const double gp = lp > 0 ? dp[k] / lp / double(pairs) : 0.0;
      const double gn = ln > 0 ? dn[k] / ln / double(pairs) : 0.0;
      grad[size_t{a} * dim + k] += static_cast<float>(gp - gn);
      grad[size_t{p} * dim + k] -= static_cast<float>(gp);
      grad[size_t{n} * dim + k] += static_cast<float>(gn);
    }
  }
  return static_cast<float>(total / double(pairs));
}

float supcon_loss(const float* e, uint32_t rows, uint32_t dim, const std::vector<int32_t>& labels, float temperature,
                  float* grad) {
  std::fill(grad, grad + size_t{rows} * dim, 0.0f);
  std::vector<double> logits(rows);
  std::vector<uint32_t> anchors;
  for (uint32_t i = 0; i < rows; ++i) {
    for (uint32_t j = 0; j < rows; ++j) {
      if (j != i && labels[j] == labels[i]) {
        anchors.push_back(i);
        break;
      }
    }
  }
  if (anchors.empty()) return 0.0f;
  double total = 0;
  for (uint32_t i : anchors) {
    const float* zi = e + size_t{i} * dim;
    double max = -INFINITY;
    uint32_t positives = 0;
    for (uint32_t a = 0; a < rows; ++a) {
      if (a == i) continue;
      logits[a] = dot(zi, e + size_t{a} * dim, dim) / temperature;
      max = std::max(max, logits[a]);
      positives += labels[a] == labels[i] ? 1 : 0;
    }
    double sum = 0;
    for (uint32_t a = 0; a < rows; ++a) sum += a == i ? 0.0 : std::exp(logits[a] - max);
    const double log_z = max + std::log(sum);
    for (uint32_t a = 0; a < rows; ++a) {
      if (a == i) continue;
      const bool positive = labels[a] == labels[i];
      if (positive) total -= (logits[a] - log_z) / positives;
      // d loss_i / d logit_a = softmax_a - [a in P(i)] / |P(i)|; averaged over anchors.
      const double g = (std::exp(logits[a] - log_z) - (positive ? 1.0 / positives : 0.0)) /
                       double(anchors.size()) / temperature;
      add_scaled(grad, i, dim, g, e + size_t{a} * dim);
      add_scaled(grad, a, dim, g, zi);
    }
  }
  return static_cast<float>(total / double(anchors.size()));
}

}  // namespace edgeclr
