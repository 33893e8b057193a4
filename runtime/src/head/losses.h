// Contrastive losses over L2-normalised embeddings, with their gradients.
//
// Each takes embeddings (rows, dim), row-major, and returns the mean loss; `grad`
// (rows, dim) receives d loss / d embedding (overwritten). Rows not used get 0.
#pragma once

#include <cstdint>
#include <vector>

namespace edgeclr {

// Which rows form pairs: anchor a[i] with positive p[i]; negatives[i] lists explicit
// negatives of anchor i (may be empty).
struct PairBatch {
  std::vector<uint32_t> anchors;
  std::vector<uint32_t> positives;
  std::vector<std::vector<uint32_t>> negatives;
};

// InfoNCE: for anchor i, softmax over [a_i . p_j / T for every pair j] plus
// [a_i . n / T for its explicit negatives], cross-entropy with target p_i. The other
// pairs' positives are the in-batch negatives.
float info_nce_loss(const float* embeddings, uint32_t dim, const PairBatch& batch, float temperature, float* grad,
                    uint32_t rows);

// Triplet margin (PyTorch's TripletMarginLoss, p = 2, eps = 1e-6): mean over anchors of
// max(0, |a - p + eps| - |a - n + eps| + margin), n the anchor's first explicit negative,
// or the next pair's positive when it has none.
float triplet_loss(const float* embeddings, uint32_t dim, const PairBatch& batch, float margin, float* grad,
                   uint32_t rows);

// Supervised contrastive (Khosla et al. 2020, L_out): for each row i with at least one
// other row of its label, -1/|P(i)| sum_{p in P(i)} log(exp(z_i.z_p/T) / sum_{a != i} exp(z_i.z_a/T)),
// averaged over those rows.
float supcon_loss(const float* embeddings, uint32_t rows, uint32_t dim, const std::vector<int32_t>& labels,
                  float temperature, float* grad);

}  // namespace edgeclr
