// Space metrics on hand-made unit vectors whose answers are worked out by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "eval/space_metrics.h"

using namespace edgeclr::eval;

namespace {

Vectors make(std::vector<std::vector<float>> rows) {
  Vectors v;
  v.rows = rows.size();
  v.dim = rows[0].size();
  for (const auto& r : rows) v.values.insert(v.values.end(), r.begin(), r.end());
  normalize_rows(&v);
  return v;
}

}  // namespace

TEST_CASE("kNN votes by similarity-weighted neighbours, and leave-one-out skips the query") {
  // Bank: two label-0 rows near +x, one label-1 row near +y.
  const Vectors bank = make({{1, 0.1f}, {1, -0.1f}, {0.1f, 1}});
  const std::vector<int32_t> bank_labels = {0, 0, 1};
  // Query near +y: its nearest is the label-1 row; with k = 3 and T = 0.07 the weight
  // exp(cos/T) of that row (cos ~ 0.99) beats the two label-0 rows (cos ~ 0.2) combined.
  const Vectors queries = make({{0.2f, 1}, {1, 0}});
  KnnOptions o;
  o.k = 3;
  CHECK(knn_accuracy(queries, {1, 0}, bank, bank_labels, o, false) == 1.0);
  CHECK(knn_accuracy(queries, {0, 0}, bank, bank_labels, o, false) == 0.5);
  // With a very high temperature all three weigh nearly the same: majority (label 0) wins.
  o.temperature = 1000.0f;
  CHECK(knn_accuracy(queries, {1, 0}, bank, bank_labels, o, false) == 0.5);
  // Leave-one-out on the bank itself with k = 1: each label-0 row's nearest other row is
  // the other label-0 row; the label-1 row's nearest is a label-0 row.
  o.k = 1;
  CHECK(knn_accuracy(bank, bank_labels, bank, bank_labels, o, true) == doctest::Approx(2.0 / 3.0));
  CHECK(recall_at_1(bank, bank_labels, 2) == doctest::Approx(2.0 / 3.0));
}

TEST_CASE("the cosine gap is mean same-label cosine minus mean different-label cosine") {
  // Rows: a=(1,0), b=(0,1), c=(1,0), d=(0,1); labels a,c = 0 and b,d = 1.
  // Same-label pairs (a,c),(b,d): cosine 1. Different-label pairs: cosine 0. Gap 1.
  CHECK(positive_negative_gap(make({{1, 0}, {0, 1}, {1, 0}, {0, 1}}), {0, 1, 0, 1}) == doctest::Approx(1.0));
  // Labels a,b = 0 and c,d = 1: same-label cosines 0 and 0; different-label pairs
  // (a,c)=1, (a,d)=0, (b,c)=0, (b,d)=1: mean 0.5. Gap -0.5.
  CHECK(positive_negative_gap(make({{1, 0}, {0, 1}, {1, 0}, {0, 1}}), {0, 0, 1, 1}) == doctest::Approx(-0.5));
  // Three rows at 0, 60 and 120 degrees, the first two labelled 0: same-label cosine 0.5,
  // different-label cosines cos(120) = -0.5 and cos(60) = 0.5, mean 0. Gap 0.5.
  const float s = std::sqrt(3.0f) / 2;
  CHECK(positive_negative_gap(make({{1, 0}, {0.5f, s}, {-0.5f, s}}), {0, 0, 1}) == doctest::Approx(0.5));
}
