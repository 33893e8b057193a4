// The guarded head trainer (adapt/adapt_trainer.h) on synthetic feature sets whose
// answer is known: separable groups a mixing head must learn, sets with no signal at
// all, and pairs told apart only by their explicit negatives.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "adapt/adapt_trainer.h"
#include "head/head_training.h"

using namespace edgeclr;

namespace {

constexpr uint32_t kFeatureDim = 16;
constexpr uint32_t kEmbeddingDim = 4;

ProjectionHead head_from(const std::vector<std::vector<float>>& weights, const std::vector<std::vector<float>>& biases,
                         const std::vector<uint32_t>& widths) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<schema::DenseLayer>> layers;
  for (size_t l = 0; l < weights.size(); ++l) {
    const bool last = l + 1 == weights.size();
    layers.push_back(schema::CreateDenseLayerDirect(fbb, widths[l], widths[l + 1], &weights[l],
                                                    biases[l].empty() ? nullptr : &biases[l],
                                                    last ? schema::Activation_NONE : schema::Activation_RELU));
  }
  fbb.Finish(schema::CreateHeadDirect(fbb, &layers, widths.back(), true));
  return ProjectionHead::from_schema(*flatbuffers::GetRoot<schema::Head>(fbb.GetBufferPointer()), widths.front());
}

// A linear 16 -> 4 head reading features `first` .. `first` + 3 only.
ProjectionHead reading(uint32_t first) {
  std::vector<float> w(kEmbeddingDim * kFeatureDim, 0.0f);
  for (uint32_t e = 0; e < kEmbeddingDim; ++e) w[e * kFeatureDim + first + e] = 1.0f;
  return head_from({w}, {{}}, {kFeatureDim, kEmbeddingDim});
}

// A 16 -> 8 (ReLU) -> 4 head with biases, random from `seed`.
ProjectionHead random_mlp(uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 0.4f);
  const auto values = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
  };
  return head_from({values(8 * kFeatureDim), values(kEmbeddingDim * 8)}, {values(8), values(kEmbeddingDim)},
                   {kFeatureDim, 8, kEmbeddingDim});
}

bool same_weights(const ProjectionHead& a, const ProjectionHead& b) {
  if (a.layers().size() != b.layers().size()) return false;
  for (size_t l = 0; l < a.layers().size(); ++l) {
    if (a.layers()[l].weight != b.layers()[l].weight || a.layers()[l].bias != b.layers()[l].bias) return false;
  }
  return true;
}

std::vector<float> embed(const ProjectionHead& head, const float* features, uint32_t rows) {
  HeadTape tape;
  forward_train(head, features, rows, &tape);
  return tape.embedding;
}

double dot(const float* a, const float* b) {
  double s = 0;
  for (uint32_t i = 0; i < kEmbeddingDim; ++i) s += double{a[i]} * b[i];
  return s;
}

// Features of `groups` groups: group g is one-hot in feature g (x 1, noise 0.05), the other
// features noise (sd 0.3) that says nothing about the group. A head reading features 8..11
// sees only the noise and mixes the groups; one reading the first features separates them.
// Views are the feature with noise 0.1 added.
AdaptSet separable_groups(uint32_t groups, uint32_t per_group, uint32_t views, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nuisance(0.0f, 0.3f), jitter(0.0f, 0.05f);
  AdaptSet set(AdaptKind::kGroups, kFeatureDim);
  std::vector<float> feature(kFeatureDim), view_features(size_t{views} * kFeatureDim);
  for (uint32_t i = 0; i < per_group; ++i) {
    for (uint32_t g = 0; g < groups; ++g) {
      for (uint32_t d = 0; d < kFeatureDim; ++d) {
        feature[d] = d < groups ? (d == g ? 1.0f : 0.0f) + jitter(gen) : nuisance(gen);
      }
      for (uint32_t v = 0; v < views; ++v) {
        for (uint32_t d = 0; d < kFeatureDim; ++d) view_features[v * kFeatureDim + d] = feature[d] + 2 * jitter(gen);
      }
      set.add_item(feature.data(), view_features.data(), views, static_cast<int32_t>(g));
    }
  }
  return set;
}

// Every image the same feature, groups assigned in turn: nothing can be learnt, every head
// scores the held-out images the same.
AdaptSet no_signal_groups() {
  AdaptSet set(AdaptKind::kGroups, kFeatureDim);
  std::vector<float> feature(kFeatureDim), views(2 * kFeatureDim);
  for (uint32_t d = 0; d < kFeatureDim; ++d) feature[d] = 0.1f * float(d) - 0.7f;
  for (uint32_t d = 0; d < 2 * kFeatureDim; ++d) views[d] = feature[d % kFeatureDim];
  for (int32_t i = 0; i < 30; ++i) set.add_item(feature.data(), views.data(), 2, i % 3);
  return set;
}

// `pairs` pairs: anchor and positive share a random direction, mostly in features 0..7
// (positive jittered); each anchor has the next pair's anchor as explicit negative.
AdaptSet random_pairs(uint32_t pairs, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f), jitter(0.0f, 0.1f);
  AdaptSet set(AdaptKind::kPairs, kFeatureDim);
  std::vector<float> anchor(kFeatureDim), positive(kFeatureDim), views(2 * kFeatureDim);
  for (uint32_t i = 0; i < pairs; ++i) {
    for (uint32_t d = 0; d < kFeatureDim; ++d) {
      anchor[d] = d < 8 ? dist(gen) : 0.3f * dist(gen);
      positive[d] = anchor[d] + jitter(gen);
    }
    for (const std::vector<float>* f : {&anchor, &positive}) {
      for (uint32_t d = 0; d < 2 * kFeatureDim; ++d) views[d] = (*f)[d % kFeatureDim] + jitter(gen);
      set.add_item(f->data(), views.data(), 2, 0);
    }
  }
  for (uint32_t i = 0; i < pairs; ++i) {
    set.add_pair(2 * i, 2 * i + 1, {2 * ((i + 1) % pairs)});
  }
  return set;
}

// Small, fast runs; every setting the tests rely on is spelt out rather than taken from
// the defaults, which are tuned for real data.
AdaptOptions quick_options() {
  AdaptOptions o;
  o.loss = AdaptLoss::kAuto;
  o.epochs = 12;
  o.batch = 16;
  o.learning_rate = 0.05f;
  o.temperature = 0.1f;
  o.optimizer = OptimizerOptions{};  // Adam
  o.optimizer.pull = 1e-2f;
  o.patience = 8;
  o.holdout = 0.2f;
  o.collapse_rank_ratio = 0.5f;
  o.seed = 3;
  return o;
}

AdaptResult adapt_ok(const AdaptSet& set, const ProjectionHead& start, const ProjectionHead& shipped,
                     const AdaptOptions& options, const EpochCallback& on_epoch = nullptr) {
  auto result = adapt_head(set, start, shipped, options, on_epoch);
  REQUIRE_MESSAGE(result.ok(), result.status().message());
  return std::move(result).value();
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("adapt_head learns separable groups a mixing head confuses, and accepts it") {
  const AdaptSet set = separable_groups(5, 12, 2, 1);
  const ProjectionHead start = reading(8);  // sees only the nuisance features
  const AdaptResult r = adapt_ok(set, start, start, quick_options());
  INFO(r.reason);
  CHECK(r.accepted);
  CHECK(starts_with(r.reason, "accepted epoch "));
  CHECK(r.loss == AdaptLoss::kSupCon);  // auto, for groups
  CHECK(r.train_items + r.holdout_items == 60);
  CHECK(r.holdout_items == 10);  // round(0.2 x 12) = 2 of each of the 5 groups
  CHECK(r.validation_before.count == 10);
  CHECK(r.split.holdout_items.size() == r.holdout_items);
  CHECK(r.split.train_items.size() == r.train_items);
  // Five groups scored by chance before: accuracy about 1/5. After, nearly all right.
  CHECK(r.validation_before.accuracy <= 0.5);
  CHECK(r.validation_after.accuracy >= 0.9);
  CHECK(r.validation_after.loss < 0.5 * r.validation_before.loss);
  REQUIRE(r.best_epoch >= 1);
  REQUIRE(r.best_epoch <= r.epochs.size());
  CHECK(r.epochs[r.best_epoch - 1].best);
  CHECK(r.epochs[r.best_epoch - 1].validation.loss == r.validation_after.loss);
  CHECK_FALSE(same_weights(r.head, start));

  // The returned head separates the groups on all images, held out or not: each image's
  // embedding is nearer its own group's mean than any other's.
  const uint32_t n = static_cast<uint32_t>(set.items().size());
  std::vector<float> features;
  for (const AdaptItem& item : set.items()) {
    features.insert(features.end(), set.row(item.row), set.row(item.row) + kFeatureDim);
  }
  const std::vector<float> z = embed(r.head, features.data(), n);
  std::vector<double> mean(5 * kEmbeddingDim, 0.0);
  for (uint32_t i = 0; i < n; ++i) {
    const auto group = static_cast<uint32_t>(set.items()[i].group);
    for (uint32_t d = 0; d < kEmbeddingDim; ++d) mean[group * kEmbeddingDim + d] += z[i * kEmbeddingDim + d];
  }
  uint32_t right = 0;
  for (uint32_t i = 0; i < n; ++i) {
    int best = -1;
    double best_score = -1e9;
    for (int g = 0; g < 5; ++g) {
      double score = 0;
      for (uint32_t d = 0; d < kEmbeddingDim; ++d) score += mean[g * kEmbeddingDim + d] * z[i * kEmbeddingDim + d];
      if (score > best_score) best_score = score, best = g;
    }
    right += best == set.items()[i].group;
  }
  CHECK(right >= n - 3);
}

TEST_CASE("adapt_head is deterministic for a seed") {
  const AdaptSet set = separable_groups(4, 8, 2, 2);
  const ProjectionHead start = random_mlp(7);
  const ProjectionHead shipped = random_mlp(8);
  AdaptOptions o = quick_options();
  o.epochs = 5;
  const AdaptResult a = adapt_ok(set, start, shipped, o), b = adapt_ok(set, start, shipped, o);
  CHECK(same_weights(a.head, b.head));
  CHECK(a.accepted == b.accepted);
  CHECK(a.reason == b.reason);
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (size_t e = 0; e < a.epochs.size(); ++e) {
    INFO("epoch ", e + 1);
    CHECK(a.epochs[e].epoch == b.epochs[e].epoch);
    CHECK(a.epochs[e].train_loss == b.epochs[e].train_loss);
    CHECK(a.epochs[e].learning_rate == b.epochs[e].learning_rate);
    CHECK(a.epochs[e].validation.loss == b.epochs[e].validation.loss);
    CHECK(a.epochs[e].validation.accuracy == b.epochs[e].validation.accuracy);
    CHECK(a.epochs[e].space.effective_rank == b.epochs[e].space.effective_rank);
    CHECK(a.epochs[e].space.uniformity == b.epochs[e].space.uniformity);
    CHECK(a.epochs[e].space.alignment == b.epochs[e].space.alignment);
    CHECK(a.epochs[e].best == b.epochs[e].best);
  }
  // The seed matters: another one splits and shuffles differently.
  o.seed = 4;
  const AdaptResult c = adapt_ok(set, start, shipped, o);
  CHECK(c.epochs.front().train_loss != a.epochs.front().train_loss);
}

TEST_CASE("adapt_head rolls back when the space collapses") {
  // A ratio of 100 makes every epoch's rank count as collapsed.
  const AdaptSet set = separable_groups(5, 12, 2, 1);
  const ProjectionHead start = reading(8);
  AdaptOptions o = quick_options();
  o.collapse_rank_ratio = 100.0f;
  const AdaptResult r = adapt_ok(set, start, start, o);
  INFO(r.reason);
  CHECK(r.epochs_run == 1);
  REQUIRE(r.epochs.size() == 1);
  CHECK_FALSE(r.epochs[0].best);
  CHECK_FALSE(r.accepted);
  CHECK(r.best_epoch == 0);
  CHECK(r.reason.find("collapsed at epoch 1") != std::string::npos);
  CHECK(starts_with(r.reason, "kept the current head"));
  CHECK(same_weights(r.head, start));
  CHECK(r.validation_after.loss == r.validation_before.loss);
  CHECK(r.space_after.effective_rank == r.space_before.effective_rank);
}

TEST_CASE("adapt_head stops early after `patience` epochs without a better validation") {
  // A learning rate of 1e-30 is far below the float spacing of every (non-zero) weight, so
  // no step changes the head: nothing improves and training stops after exactly
  // `patience` epochs.
  const AdaptSet set = separable_groups(5, 12, 2, 1);
  const ProjectionHead start = random_mlp(3);
  AdaptOptions o = quick_options();
  o.learning_rate = 1e-30f;
  for (uint32_t patience : {1u, 3u}) {
    o.patience = patience;
    const AdaptResult r = adapt_ok(set, start, start, o);
    INFO("patience ", patience, ": ", r.reason);
    CHECK(r.epochs_run == patience);
    CHECK(r.epochs.size() == patience);
    CHECK(r.best_epoch == 0);
    CHECK(r.reason.find("stopped early: no better validation for " + std::to_string(patience) + " epochs") !=
          std::string::npos);
  }
}

TEST_CASE("adapt_head keeps the starting head when no epoch improves") {
  // No signal: every head scores the held-out images the same. The pull towards another
  // shipped head still changes the weights while training.
  const AdaptSet set = no_signal_groups();
  const ProjectionHead start = random_mlp(5);
  const ProjectionHead shipped = random_mlp(6);
  AdaptOptions o = quick_options();
  o.epochs = 4;
  o.optimizer.pull = 1.0f;
  const AdaptResult r = adapt_ok(set, start, shipped, o);
  INFO(r.reason);
  CHECK_FALSE(r.accepted);
  CHECK(r.best_epoch == 0);
  CHECK(starts_with(r.reason, "kept the current head"));
  CHECK(same_weights(r.head, start));
  CHECK(r.validation_after.loss == r.validation_before.loss);
  CHECK(r.validation_after.accuracy == r.validation_before.accuracy);
  // Three equally likely groups: the loss is log 3 whatever the head.
  CHECK(r.validation_before.loss == doctest::Approx(std::log(3.0)).epsilon(1e-6));
  for (const EpochReport& e : r.epochs) CHECK_FALSE(e.best);
}

TEST_CASE("adapt_head refuses options it cannot train with") {
  const AdaptSet set = separable_groups(3, 6, 2, 1);
  const ProjectionHead head = reading(8);
  const auto refused = [&](const AdaptOptions& o, const ProjectionHead& start, const ProjectionHead& shipped) {
    auto r = adapt_head(set, start, shipped, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(starts_with(r.status().message(), "failed to adapt: "));
  };
  AdaptOptions o = quick_options();
  o.epochs = 0;
  refused(o, head, head);
  for (float holdout : {0.0f, 1.0f, -0.5f, 1.5f, NAN}) {
    INFO("holdout ", holdout);
    o = quick_options();
    o.holdout = holdout;
    refused(o, head, head);
  }
  for (float temperature : {0.0f, -1.0f, NAN}) {
    o = quick_options();
    o.temperature = temperature;
    refused(o, head, head);
  }
  for (uint32_t batch : {0u, 1u}) {
    o = quick_options();
    o.batch = batch;
    refused(o, head, head);
  }
  for (float lr : {0.0f, -1e-3f, NAN}) {
    o = quick_options();
    o.learning_rate = lr;
    refused(o, head, head);
  }
  // Heads for 12-dim features on a 16-dim set, as start or as shipped.
  std::vector<float> w(kEmbeddingDim * 12, 0.1f);
  const ProjectionHead narrow = head_from({w}, {{}}, {12, kEmbeddingDim});
  refused(quick_options(), narrow, head);
  refused(quick_options(), head, narrow);
  // Too small a set: the split's refusal.
  const AdaptSet one_group = separable_groups(1, 6, 2, 1);
  auto small = adapt_head(one_group, head, head, quick_options());
  REQUIRE_FALSE(small.ok());
  CHECK(small.status().code() == StatusCode::kInvalidArgument);
  CHECK(small.status().message().find("too little data") != std::string::npos);
  // The edges that are allowed.
  o = quick_options();
  o.batch = 2;
  o.epochs = 1;
  o.holdout = 0.01f;
  CHECK(adapt_head(set, head, head, o).ok());
}

TEST_CASE("adapt_head runs every loss on pairs, groups and unlabeled sets with finite losses") {
  const AdaptSet groups = separable_groups(4, 6, 2, 3);
  const AdaptSet pairs = random_pairs(12, 4);
  AdaptSet unlabeled(AdaptKind::kUnlabeled, kFeatureDim);
  for (uint32_t i = 0; i < pairs.items().size(); i += 2) {
    const AdaptItem& item = pairs.items()[i];
    unlabeled.add_item(pairs.row(item.row), pairs.row(item.first_view), item.views, 0);
  }
  const ProjectionHead start = random_mlp(9);
  for (const AdaptSet* set : std::vector<const AdaptSet*>{&groups, &pairs, &unlabeled}) {
    for (AdaptLoss loss : {AdaptLoss::kInfoNce, AdaptLoss::kTriplet, AdaptLoss::kSupCon, AdaptLoss::kAuto}) {
      INFO(adapt_kind_name(set->kind()), " with ", adapt_loss_name(loss));
      AdaptOptions o = quick_options();
      o.epochs = 3;
      o.loss = loss;
      const AdaptResult r = adapt_ok(*set, start, start, o);
      CHECK(r.loss == resolve_loss(loss, set->kind()));
      CHECK(r.epochs_run >= 1);
      REQUIRE(r.epochs.size() == r.epochs_run);
      CHECK(std::isfinite(r.validation_before.loss));
      CHECK(r.validation_before.count == r.holdout_items);
      for (const EpochReport& e : r.epochs) {
        CHECK(std::isfinite(e.train_loss));
        CHECK(e.train_loss >= 0);
        CHECK(std::isfinite(e.validation.loss));
        CHECK(std::isfinite(e.space.effective_rank));
        CHECK(e.space.effective_rank >= 1.0);
        CHECK(e.space.effective_rank <= kEmbeddingDim + 1e-6);
      }
      // The training loss is not stuck at 0: each loss sees pairs or labels it can use.
      CHECK(r.epochs.front().train_loss > 0);
    }
  }
  CHECK(resolve_loss(AdaptLoss::kAuto, AdaptKind::kGroups) == AdaptLoss::kSupCon);
  CHECK(resolve_loss(AdaptLoss::kAuto, AdaptKind::kPairs) == AdaptLoss::kInfoNce);
  CHECK(resolve_loss(AdaptLoss::kAuto, AdaptKind::kUnlabeled) == AdaptLoss::kInfoNce);
}

TEST_CASE("adapt_head calls on_epoch once per epoch, in order") {
  const AdaptSet set = separable_groups(3, 8, 2, 5);
  const ProjectionHead start = reading(8);
  AdaptOptions o = quick_options();
  o.epochs = 6;
  o.patience = 100;
  std::vector<uint32_t> seen;
  std::vector<double> losses;
  const AdaptResult r = adapt_ok(set, start, start, o, [&](const EpochReport& e, uint32_t max_epochs) {
    CHECK(max_epochs == 6);
    seen.push_back(e.epoch);
    losses.push_back(e.train_loss);
  });
  CHECK(r.epochs_run == 6);
  CHECK(seen == std::vector<uint32_t>{1, 2, 3, 4, 5, 6});
  REQUIRE(r.epochs.size() == 6);
  for (size_t e = 0; e < 6; ++e) CHECK(losses[e] == r.epochs[e].train_loss);

  // Stopping early stops the calls too.
  seen.clear();
  o.collapse_rank_ratio = 100.0f;
  adapt_ok(set, start, start, o, [&](const EpochReport& e, uint32_t) { seen.push_back(e.epoch); });
  CHECK(seen == std::vector<uint32_t>{1});
}

TEST_CASE("adapt_head learns from explicit negatives") {
  // Anchors and positives differ between pairs only in features 0..3, which the start
  // head reads; features 4..7 are 0 for them. Each anchor's explicit negative equals it in
  // 0..3 but not in 4..7: to the start head it is the positive's twin. Only the
  // negatives can teach the head to read 4..7; without them the gradient there is 0.
  std::mt19937 gen(12);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const uint32_t pairs = 16;
  const auto make = [&](bool with_negatives) {
    std::mt19937 g = gen;
    AdaptSet set(AdaptKind::kPairs, kFeatureDim);
    std::vector<float> anchor(kFeatureDim, 0.0f), negative(kFeatureDim, 0.0f);
    for (uint32_t i = 0; i < pairs; ++i) {
      for (uint32_t d = 0; d < 4; ++d) anchor[d] = negative[d] = dist(g);
      for (uint32_t d = 4; d < 8; ++d) negative[d] = 2 * dist(g);
      const uint32_t a = set.add_item(anchor.data(), nullptr, 0, 0);
      const uint32_t p = set.add_item(anchor.data(), nullptr, 0, 0);
      const uint32_t n = set.add_item(negative.data(), nullptr, 0, 0);
      set.add_pair(a, p, with_negatives ? std::vector<uint32_t>{n} : std::vector<uint32_t>{});
    }
    return set;
  };
  const AdaptSet with = make(true), without = make(false);
  const ProjectionHead start = reading(0);
  AdaptOptions o = quick_options();
  o.epochs = 15;
  o.batch = 8;

  // The negatives' margin under a head: cos(anchor, positive) - cos(anchor, negative),
  // the smallest over all pairs.
  const auto margin = [&](const ProjectionHead& head) {
    double least = 1e9;
    for (const AdaptPair& p : with.pairs()) {
      std::vector<float> f;
      for (uint32_t item : {p.anchor, p.positive, p.negatives[0]}) {
        f.insert(f.end(), with.row(item), with.row(item) + kFeatureDim);
      }
      const std::vector<float> z = embed(head, f.data(), 3);
      least = std::min(least, dot(&z[0], &z[kEmbeddingDim]) - dot(&z[0], &z[2 * kEmbeddingDim]));
    }
    return least;
  };
  CHECK(margin(start) == doctest::Approx(0.0).epsilon(1e-6));

  const AdaptResult learnt = adapt_ok(with, start, start, o);
  INFO(learnt.reason);
  CHECK(learnt.accepted);
  CHECK(learnt.validation_after.loss < learnt.validation_before.loss - 0.2);
  CHECK(margin(learnt.head) > 0.05);

  // Without the negatives the weights on features 4..7 never move (and the embedding of
  // a negative stays the positive's).
  const AdaptResult blind = adapt_ok(without, start, start, o);
  for (uint32_t e = 0; e < kEmbeddingDim; ++e) {
    for (uint32_t d = 4; d < 8; ++d) CHECK(blind.head.layers()[0].weight[e * kFeatureDim + d] == 0.0f);
  }
  CHECK(margin(blind.head) == doctest::Approx(0.0).epsilon(1e-6));
}

TEST_CASE("adaptation: held-out pairs sharing a positive are scored once per distinct positive") {
  // Eight anchors near one shared positive: a head that reads feature 0 ranks it first
  // for every anchor, so accuracy is 1 and the loss is 0 (one candidate).
  AdaptSet set(AdaptKind::kPairs, 16);
  std::vector<float> f(16, 0.0f);
  f[0] = 1;
  const uint32_t shared = set.add_item(f.data(), nullptr, 0, 0);
  for (int i = 0; i < 8; ++i) {
    f[1] = 0.01f * i;
    set.add_pair(set.add_item(f.data(), nullptr, 0, 0), shared, {});
  }
  AdaptOptions o;
  o.epochs = 1;
  o.holdout = 0.5f;
  auto r = adapt_head(set, reading(0), reading(0), o);
  REQUIRE(r.ok());
  CHECK(r->validation_before.accuracy == 1.0);
  CHECK(r->validation_before.loss == doctest::Approx(0.0));
}

TEST_CASE("adaptation: patience 0 and a set with nothing to train on are refused") {
  AdaptOptions o;
  o.patience = 0;
  auto r = adapt_head(separable_groups(3, 5, 1, 1), reading(0), reading(0), o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("patience") != std::string::npos);

  // Groups of two images without views: one trains, one is held out, so no training
  // image has a positive.
  AdaptSet set(AdaptKind::kGroups, 16);
  std::vector<float> f(16, 0.0f);
  for (int g = 0; g < 3; ++g) {
    for (int k = 0; k < 2; ++k) {
      f[g] = 1.0f + k;
      set.add_item(f.data(), nullptr, 0, g);
    }
  }
  auto nothing = adapt_head(set, reading(0), reading(0), AdaptOptions());
  REQUIRE_FALSE(nothing.ok());
  CHECK(nothing.status().message().find("nothing to train on") != std::string::npos);
}
