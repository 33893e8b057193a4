// Measures of a labelled representation space, over L2-normalised rows (cosine = dot):
// weighted kNN, 1-NN and nearest-class-mean accuracy against a memory bank, recall@1, and
// the mean cosine gap between same-label and different-label pairs. Neighbours are found
// by the runtime's gallery search (gallery/gallery_index.h, exact fp32), the one search
// routine apps use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gallery/gallery_index.h"

namespace edgeclr::eval {

// Rows of unit vectors, row-major: rows x dim.
struct Vectors {
  std::vector<float> values;
  size_t rows = 0;
  size_t dim = 0;
  const float* row(size_t i) const { return values.data() + i * dim; }
};

void normalize_rows(Vectors* v);

// The rows in the runtime's gallery search index (unit length, exact search; the caller
// may configure int8 or HNSW on it): what eval, search --gallery and dedup G.db search.
GalleryIndex search_index(const Vectors& rows);

struct KnnOptions {
  size_t k = 20;
  float temperature = 0.07f;  // vote weight exp(cosine / T), as in InstDisc and SimCLR
  uint32_t threads = 1;
};

// Fraction of queries whose weighted vote of their k most similar bank rows gives their
// label. When `leave_one_out`, queries and bank are the same set and a row never votes
// for itself.
double knn_accuracy(const Vectors& queries, const std::vector<int32_t>& query_labels, const Vectors& bank,
                    const std::vector<int32_t>& bank_labels, const KnnOptions& options, bool leave_one_out);

// Fraction of queries whose most similar bank row has their label; of equally similar
// rows the first in the bank counts. When `leave_one_out`, queries and bank are the same
// set and a row is never its own neighbour (then this equals recall_at_1).
double nn1_accuracy(const Vectors& queries, const std::vector<int32_t>& query_labels, const Vectors& bank,
                    const std::vector<int32_t>& bank_labels, uint32_t threads, bool leave_one_out);

// Nearest class mean: each label of the bank gets a prototype, the mean of its rows scaled
// to unit length; a query is given the label whose prototype has the highest cosine with
// it (of equal cosines, the smaller label). Returns the fraction of queries given their
// own label; a query whose label the bank lacks is never right. A class whose rows sum
// to zero has cosine 0 with every query. When `leave_one_out`, queries and bank are the
// same set and each query is left out of its own class's mean; a query alone in its
// class then has no prototype of its class, and so is wrong.
double prototype_accuracy(const Vectors& queries, const std::vector<int32_t>& query_labels, const Vectors& bank,
                          const std::vector<int32_t>& bank_labels, bool leave_one_out);

// Fraction of rows whose most similar other row has the same label.
double recall_at_1(const Vectors& v, const std::vector<int32_t>& labels, uint32_t threads);

// Mean cosine over same-label pairs minus mean cosine over different-label pairs
// (distinct rows). O(rows x dim) through per-label sums.
double positive_negative_gap(const Vectors& v, const std::vector<int32_t>& labels);

}  // namespace edgeclr::eval
