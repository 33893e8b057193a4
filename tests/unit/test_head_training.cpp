// Training the head: losses and backward checked by finite differences and by values
// worked out by hand; optimiser steps against PyTorch's update rules done by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>

#include "head/head_training.h"
#include "head/losses.h"
#include "head/optimizer.h"

using namespace edgeclr;

namespace {

std::vector<float> random_rows(uint32_t rows, uint32_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f / std::sqrt(float(dim)));
  std::vector<float> v(size_t{rows} * dim);
  for (float& x : v) x = dist(rng);
  return v;
}

// Central differences of `loss` at `x`, compared with `analytic` for every element.
// Float losses of O(1): rounding contributes about eps x |L| / h ~ 1e-4 at h = 1e-3,
// truncation h^2 x |L'''| ~ 1e-6 x (1 / T^3 ~ 100) = 1e-4; 1e-3 leaves a 5x margin while a
// wrong sign or factor (errors of O(|g|)) fails.
void expect_gradient(std::vector<float> x, const std::vector<float>& analytic,
                     const std::function<float(const std::vector<float>&)>& loss) {
  constexpr float h = 1e-3f;
  for (size_t i = 0; i < x.size(); ++i) {
    const float saved = x[i];
    x[i] = saved + h;
    const double up = loss(x);
    x[i] = saved - h;
    const double down = loss(x);
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    INFO("element ", i, ": analytic ", analytic[i], ", numeric ", numeric);
    CHECK(std::abs(numeric - analytic[i]) <= 1e-3 * std::max(1.0, std::abs(numeric)));
  }
}

PairBatch pairs_of_six() {
  // rows 0..5: pairs (0,1), (2,3), (4,5); anchor 0 also has rows 3 and 5 as negatives.
  return PairBatch{{0, 2, 4}, {1, 3, 5}, {{3, 5}, {}, {}}};
}

}  // namespace

TEST_CASE("InfoNCE, triplet and supervised contrastive gradients match finite differences") {
  const uint32_t rows = 6, dim = 5;
  const std::vector<float> x = random_rows(rows, dim, 3);
  std::vector<float> grad(x.size());
  const PairBatch batch = pairs_of_six();
  info_nce_loss(x.data(), dim, batch, 0.5f, grad.data(), rows);
  expect_gradient(x, grad, [&](const std::vector<float>& v) {
    std::vector<float> g(v.size());
    return info_nce_loss(v.data(), dim, batch, 0.5f, g.data(), rows);
  });
  triplet_loss(x.data(), dim, batch, 1.0f, grad.data(), rows);
  expect_gradient(x, grad, [&](const std::vector<float>& v) {
    std::vector<float> g(v.size());
    return triplet_loss(v.data(), dim, batch, 1.0f, g.data(), rows);
  });
  const std::vector<int32_t> labels = {0, 0, 1, 1, 1, 2};  // row 5 has no positive: not an anchor
  supcon_loss(x.data(), rows, dim, labels, 0.5f, grad.data());
  expect_gradient(x, grad, [&](const std::vector<float>& v) {
    std::vector<float> g(v.size());
    return supcon_loss(v.data(), rows, dim, labels, 0.5f, g.data());
  });
}

TEST_CASE("loss values worked out by hand") {
  // a1 = p1 = (1,0), a2 = p2 = (0,1), T = 1: anchor 1's logits are [1, 0], so its loss is
  // -1 + log(e + 1) = log(1 + 1/e); anchor 2 likewise.
  const std::vector<float> e = {1, 0, 1, 0, 0, 1, 0, 1};
  std::vector<float> g(e.size());
  const double expected = std::log(1.0 + std::exp(-1.0));
  CHECK(info_nce_loss(e.data(), 2, PairBatch{{0, 2}, {1, 3}, {}}, 1.0f, g.data(), 4) == doctest::Approx(expected));
  // Triplet a = p = (1,0), n = (0,1): d(a,p) ~ 0, d(a,n) = sqrt(2): margin 1 gives 0,
  // margin 2 gives 2 - sqrt(2).
  const std::vector<float> t = {1, 0, 1, 0, 0, 1};
  std::vector<float> gt(t.size());
  const PairBatch one{{0}, {1}, {{2}}};
  CHECK(triplet_loss(t.data(), 2, one, 1.0f, gt.data(), 3) == doctest::Approx(0.0));
  CHECK(triplet_loss(t.data(), 2, one, 2.0f, gt.data(), 3) == doctest::Approx(2.0 - std::sqrt(2.0)).epsilon(1e-5));
  // SupCon: z0 = z1 = (1,0) label 0, z2 = (0,1) label 1, T = 1. Anchors 0 and 1 (z2 has
  // no positive), each with logits [1 (positive), 0]: log(1 + 1/e) again.
  CHECK(supcon_loss(t.data(), 3, 2, {0, 0, 1}, 1.0f, gt.data()) == doctest::Approx(expected));
}

TEST_CASE("head backward through dense layers, ReLU and L2 normalisation matches finite differences") {
  // A 4 -> 6 (ReLU) -> 3 head with normalisation, from a Head table like a model's.
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 0.7f);
  auto values = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
  };
  flatbuffers::FlatBufferBuilder fbb;
  const auto w1 = values(24), b1 = values(6), w2 = values(18), b2 = values(3);
  const std::vector<flatbuffers::Offset<schema::DenseLayer>> layers = {
      schema::CreateDenseLayerDirect(fbb, 4, 6, &w1, &b1, schema::Activation_RELU),
      schema::CreateDenseLayerDirect(fbb, 6, 3, &w2, &b2, schema::Activation_NONE)};
  fbb.Finish(schema::CreateHeadDirect(fbb, &layers, 3, true));
  ProjectionHead head = ProjectionHead::from_schema(*flatbuffers::GetRoot<schema::Head>(fbb.GetBufferPointer()), 4);

  const uint32_t rows = 3;
  const std::vector<float> features = values(rows * 4);
  const std::vector<float> c = values(rows * 3);  // loss = sum c . embedding
  const auto loss = [&](const ProjectionHead& h) {
    HeadTape tape;
    forward_train(h, features.data(), rows, &tape);
    double s = 0;
    for (size_t i = 0; i < c.size(); ++i) s += double{c[i]} * tape.embedding[i];
    return s;
  };
  HeadTape tape;
  forward_train(head, features.data(), rows, &tape);
  HeadGradients grads;
  std::vector<float> scratch;
  backward(head, tape, c.data(), &grads, &scratch);
  for (size_t l = 0; l < 2; ++l) {
    for (int which = 0; which < 2; ++which) {
      std::vector<float>& params = which == 0 ? head.mutable_layers()[l].weight : head.mutable_layers()[l].bias;
      const std::vector<float>& analytic = which == 0 ? grads.weight[l] : grads.bias[l];
      for (size_t i = 0; i < params.size(); ++i) {
        const float saved = params[i];
        params[i] = saved + 1e-3f;
        const double up = loss(head);
        params[i] = saved - 1e-3f;
        const double down = loss(head);
        params[i] = saved;
        const double numeric = (up - down) / 2e-3;
        INFO("layer ", l, which == 0 ? " weight " : " bias ", i);
        CHECK(std::abs(numeric - analytic[i]) <= 1e-3 * std::max(1.0, std::abs(numeric)));
      }
    }
  }
}

TEST_CASE("SGD with momentum and Adam follow PyTorch's update rules (worked by hand)") {
  // One weight w = 1, a constant gradient 0.5, lr 0.1.
  flatbuffers::FlatBufferBuilder fbb;
  const std::vector<float> w = {1.0f};
  const std::vector<flatbuffers::Offset<schema::DenseLayer>> layers = {
      schema::CreateDenseLayerDirect(fbb, 1, 1, &w, nullptr, schema::Activation_NONE)};
  fbb.Finish(schema::CreateHeadDirect(fbb, &layers, 1, false));
  const ProjectionHead start = ProjectionHead::from_schema(*flatbuffers::GetRoot<schema::Head>(fbb.GetBufferPointer()), 1);
  HeadGradients g;
  g.resize_like(start);
  g.weight[0][0] = 0.5f;

  OptimizerOptions sgd;
  sgd.kind = OptimizerOptions::Kind::kSgd;
  ProjectionHead head = start;
  HeadOptimizer s(sgd, start);
  s.step(&head, g, 0.1f);  // buf = 0.5, w = 1 - 0.05
  CHECK(head.layers()[0].weight[0] == doctest::Approx(0.95));
  s.step(&head, g, 0.1f);  // buf = 0.9 x 0.5 + 0.5 = 0.95, w = 0.95 - 0.095
  CHECK(head.layers()[0].weight[0] == doctest::Approx(0.855));

  // Adam with a constant gradient: bias-corrected m = g and v = g^2, so each step moves
  // by lr x g / (|g| + eps) = lr.
  ProjectionHead adam_head = start;
  HeadOptimizer adam(OptimizerOptions{}, start);
  adam.step(&adam_head, g, 0.1f);
  CHECK(adam_head.layers()[0].weight[0] == doctest::Approx(0.9));
  adam.step(&adam_head, g, 0.1f);
  CHECK(adam_head.layers()[0].weight[0] == doctest::Approx(0.8));

  // The pull: with no loss gradient, SGD moves w back towards the reference (1):
  // grad = pull x (w - 1) = 0.5 x (0.5 - 1) = -0.25, w = 0.5 + 0.1 x 0.25.
  OptimizerOptions pulled = sgd;
  pulled.pull = 0.5f;
  ProjectionHead moved = start;
  moved.mutable_layers()[0].weight[0] = 0.5f;
  HeadOptimizer p(pulled, start);
  HeadGradients zero;
  zero.resize_like(start);
  p.step(&moved, zero, 0.1f);
  CHECK(moved.layers()[0].weight[0] == doctest::Approx(0.525));
}

TEST_CASE("the cosine schedule runs from the base rate to 0") {
  CHECK(cosine_learning_rate(0.1f, 0, 11) == doctest::Approx(0.1));
  CHECK(cosine_learning_rate(0.1f, 5, 11) == doctest::Approx(0.05));
  CHECK(cosine_learning_rate(0.1f, 10, 11) == doctest::Approx(0.0));
}

// dense_linear sums in 8 lanes plus a tail (projection_head.cpp); widths around the lane
// count check every path against a double-precision sum.
TEST_CASE("dense_linear matches a double-precision reference for every width around 8 lanes") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (uint32_t in_dim : {1u, 7u, 8u, 9u, 15u, 16u, 17u, 1283u}) {
    DenseLayer layer;
    layer.in_dim = in_dim;
    layer.out_dim = 5;
    layer.weight.resize(size_t{in_dim} * 5);
    layer.bias.resize(5);
    for (float& w : layer.weight) w = u(rng);
    for (float& b : layer.bias) b = u(rng);
    std::vector<float> x(size_t{in_dim} * 2), y(10);
    for (float& v : x) v = u(rng);
    dense_linear(layer, x.data(), 2, y.data());
    for (uint32_t r = 0; r < 2; ++r) {
      for (uint32_t o = 0; o < 5; ++o) {
        double want = layer.bias[o];
        for (uint32_t i = 0; i < in_dim; ++i) want += double{layer.weight[size_t{o} * in_dim + i]} * x[r * in_dim + i];
        CHECK_MESSAGE(std::abs(y[r * 5 + o] - want) <= 1e-6 * (1 + std::sqrt(static_cast<double>(in_dim))),
                      "in_dim " << in_dim << " row " << r << " out " << o);
      }
    }
  }
}
