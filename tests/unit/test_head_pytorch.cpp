// Head training against PyTorch: losses, gradients of every head parameter, and three
// optimiser steps, from tests/fixtures/head (made once by make_head_fixture.py with
// Debian's python3-torch).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "head/head_training.h"
#include "head/losses.h"
#include "head/optimizer.h"
#include "support/npy_reader.h"

using namespace edgeclr;

namespace {

const std::string kDir = std::string(EDGECLR_SOURCE_DIR) + "/tests/fixtures/head/";

std::vector<float> load(const std::string& name) {
  auto a = testing::read_npy(kDir + name + ".npy");
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  return std::vector<float>(a->f32(), a->f32() + a->count());
}

ProjectionHead fixture_head() {
  flatbuffers::FlatBufferBuilder fbb;
  const auto w1 = load("w1"), b1 = load("b1"), w2 = load("w2"), b2 = load("b2");
  const std::vector<flatbuffers::Offset<schema::DenseLayer>> layers = {
      schema::CreateDenseLayerDirect(fbb, 16, 12, &w1, &b1, schema::Activation_RELU),
      schema::CreateDenseLayerDirect(fbb, 12, 6, &w2, &b2, schema::Activation_NONE)};
  fbb.Finish(schema::CreateHeadDirect(fbb, &layers, 6, true));
  return ProjectionHead::from_schema(*flatbuffers::GetRoot<schema::Head>(fbb.GetBufferPointer()), 16);
}

const PairBatch kPairs{{0, 2, 4, 6}, {1, 3, 5, 7}, {{3, 5}, {}, {}, {}}};
const std::vector<int32_t> kLabels = {0, 0, 1, 1, 2, 2, 3, 3};

using Loss = std::function<float(const float* embeddings, float* grad)>;

Loss loss_named(const std::string& name) {
  if (name == "infonce") return [](const float* e, float* g) { return info_nce_loss(e, 6, kPairs, 0.5f, g, 8); };
  if (name == "triplet") return [](const float* e, float* g) { return triplet_loss(e, 6, kPairs, 0.5f, g, 8); };
  return [](const float* e, float* g) { return supcon_loss(e, 8, 6, kLabels, 0.5f, g); };
}

// Both sides compute in float over sums of at most 16 terms of O(1), in different
// orders: differences of a few ulps of the largest value. 1e-5 of the largest value
// (about 100 ulps) is far below any wrong term, factor or sign.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  REQUIRE(got.size() == want.size());
  double scale = 0, worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::abs(double{want[i]}));
    worst = std::max(worst, std::abs(double{got[i]} - want[i]));
  }
  INFO(what, ": max difference ", worst, " of max |value| ", scale);
  CHECK(worst <= 1e-5 * std::max(scale, 1e-3));
}

}  // namespace

TEST_CASE("losses and gradients of every head parameter match PyTorch") {
  const std::vector<float> features = load("features");
  for (const std::string name : {"infonce", "triplet", "supcon"}) {
    const ProjectionHead head = fixture_head();
    HeadTape tape;
    forward_train(head, features.data(), 8, &tape);
    std::vector<float> d(tape.embedding.size());
    const float loss = loss_named(name)(tape.embedding.data(), d.data());
    CHECK_MESSAGE(loss == doctest::Approx(load(name + "_loss")[0]).epsilon(1e-5), name);
    HeadGradients grads;
    std::vector<float> scratch;
    backward(head, tape, d.data(), &grads, &scratch);
    expect_close(grads.weight[0], load(name + "_grad_w1"), name + " w1");
    expect_close(grads.bias[0], load(name + "_grad_b1"), name + " b1");
    expect_close(grads.weight[1], load(name + "_grad_w2"), name + " w2");
    expect_close(grads.bias[1], load(name + "_grad_b2"), name + " b2");
  }
}

TEST_CASE("three SGD-momentum and three Adam steps match torch.optim") {
  const std::vector<float> features = load("features");
  for (const std::string name : {"sgd", "adam"}) {
    ProjectionHead head = fixture_head();
    OptimizerOptions options;
    options.kind = name == "sgd" ? OptimizerOptions::Kind::kSgd : OptimizerOptions::Kind::kAdam;
    options.weight_decay = 1e-4f;
    const float lr = name == "sgd" ? 0.1f : 0.01f;
    HeadOptimizer optimizer(options, head);
    HeadTape tape;
    HeadGradients grads;
    std::vector<float> d, scratch;
    for (int step = 0; step < 3; ++step) {
      forward_train(head, features.data(), 8, &tape);
      d.resize(tape.embedding.size());
      info_nce_loss(tape.embedding.data(), 6, kPairs, 0.5f, d.data(), 8);
      backward(head, tape, d.data(), &grads, &scratch);
      optimizer.step(&head, grads, lr);
    }
    expect_close(head.layers()[0].weight, load(name + "_after3_w1"), name + " w1");
    expect_close(head.layers()[0].bias, load(name + "_after3_b1"), name + " b1");
    expect_close(head.layers()[1].weight, load(name + "_after3_w2"), name + " w2");
    expect_close(head.layers()[1].bias, load(name + "_after3_b2"), name + " b2");
  }
}
