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

TEST_CASE("1-NN accuracy: the label of the most similar bank row; leave-one-out skips the query") {
  // Bank A=(1,0) label 0, B=(0,1) label 1, C=(-1,0) label 2. The nearest rows of
  // (0.9,0.1), (0.1,0.9) and (-0.2,-1) are A, B and C (cosines 0.99, 0.99, 0.2).
  const Vectors bank = make({{1, 0}, {0, 1}, {-1, 0}});
  const std::vector<int32_t> bank_labels = {0, 1, 2};
  const Vectors queries = make({{0.9f, 0.1f}, {0.1f, 0.9f}, {-0.2f, -1}});
  CHECK(nn1_accuracy(queries, {0, 1, 2}, bank, bank_labels, 1, false) == 1.0);
  CHECK(nn1_accuracy(queries, {0, 1, 1}, bank, bank_labels, 2, false) == doctest::Approx(2.0 / 3.0));
  // (1,1) is exactly as close to A as to B: the first bank row, A, counts.
  const Vectors diagonal = make({{1, 1}});
  CHECK(nn1_accuracy(diagonal, {0}, bank, bank_labels, 1, false) == 1.0);
  CHECK(nn1_accuracy(diagonal, {1}, bank, bank_labels, 1, false) == 0.0);
  // Leave-one-out on r0=(1,0), r1=(0.9,0.1) labelled 0 and r2=(0,1) labelled 1: r0 and
  // r1 are each other's nearest; r2's nearest other row is r1 (cosine 0.11 against 0),
  // another label. Without leaving out, every row finds itself.
  const Vectors set = make({{1, 0}, {0.9f, 0.1f}, {0, 1}});
  CHECK(nn1_accuracy(set, {0, 0, 1}, set, {0, 0, 1}, 1, true) == doctest::Approx(2.0 / 3.0));
  CHECK(nn1_accuracy(set, {0, 0, 1}, set, {0, 0, 1}, 1, false) == 1.0);
}

TEST_CASE("prototype accuracy: the label of the nearest normalised class mean") {
  // Class 0: (1,0) and (-0.6,0.8), mean (0.2,0.4), unit (0.447,0.894). Class 1: (0.8,0.6).
  // The query (1,0) has (1,0) itself as nearest row (class 0) but is closer to class 1's
  // mean: cosine 0.8 against 0.447.
  const Vectors bank = make({{1, 0}, {-0.6f, 0.8f}, {0.8f, 0.6f}});
  const std::vector<int32_t> bank_labels = {0, 0, 1};
  const Vectors query = make({{1, 0}});
  CHECK(prototype_accuracy(query, {1}, bank, bank_labels, false) == 1.0);
  CHECK(prototype_accuracy(query, {0}, bank, bank_labels, false) == 0.0);
  CHECK(nn1_accuracy(query, {0}, bank, bank_labels, 1, false) == 1.0);
  // A label the bank lacks is never right.
  CHECK(prototype_accuracy(query, {7}, bank, bank_labels, false) == 0.0);
}

TEST_CASE("prototype accuracy compares cosines: means are normalised before comparing") {
  // Class 0: (0.8,0.6) twice, mean (0.8,0.6) of length 1. Class 1: (1,0) and (0,1), mean
  // (0.5,0.5) of length 0.707. For the query (0.6,0.8) the raw dot products are 0.96 and
  // 0.70 (class 0 would win), the cosines 0.96 and 0.99 (class 1 wins).
  const Vectors bank = make({{0.8f, 0.6f}, {0.8f, 0.6f}, {1, 0}, {0, 1}});
  const Vectors query = make({{0.6f, 0.8f}});
  CHECK(prototype_accuracy(query, {1}, bank, {0, 0, 1, 1}, false) == 1.0);
  // Rows summing to zero make no direction: that class has cosine 0 with everything, so
  // here it beats class 1 at cosine -1 for the query (0,1).
  const Vectors cancel = make({{1, 0}, {-1, 0}, {0, -1}});
  CHECK(prototype_accuracy(make({{0, 1}}), {0}, cancel, {0, 0, 1}, false) == 1.0);
  // Of equal cosines the smaller label wins: (1,1) is as close to (1,0) as to (0,1).
  CHECK(prototype_accuracy(make({{1, 1}}), {3}, make({{0, 1}, {1, 0}}), {5, 3}, false) == 1.0);
}

TEST_CASE("prototype accuracy with leave-one-out leaves each query out of its own class mean") {
  // r0=(1,0), r1=(0.8,0.6) labelled 0; r2=(0,1), r3=(0.6,0.8) labelled 1. Class means,
  // unit: class 0 (0.949,0.316), class 1 (0.316,0.949).
  // Leaving out: r0's own prototype is r1 (cosine 0.8), class 1's is 0.316: right. r1's
  // own prototype is r0 (0.8), class 1's 0.822: wrong. r2 and r3 mirror r0 and r1.
  // Keeping the query in, all four are right (r1: 0.949 against 0.822).
  const Vectors set = make({{1, 0}, {0.8f, 0.6f}, {0, 1}, {0.6f, 0.8f}});
  const std::vector<int32_t> labels = {0, 0, 1, 1};
  CHECK(prototype_accuracy(set, labels, set, labels, true) == 0.5);
  CHECK(prototype_accuracy(set, labels, set, labels, false) == 1.0);
  // A query alone in its class has no prototype of its class (not an empty one at cosine
  // 0): (0,1) below is wrong though class 0 is at a negative cosine; the two label-0 rows
  // find each other.
  const Vectors lonely = make({{1, -0.2f}, {0.9f, -0.3f}, {0, 1}});
  CHECK(prototype_accuracy(lonely, {0, 0, 1}, lonely, {0, 0, 1}, true) == doctest::Approx(2.0 / 3.0));
}
