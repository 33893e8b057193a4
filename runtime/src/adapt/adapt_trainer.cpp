#include "adapt/adapt_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "adapt/adapt_split.h"
#include "adapt/random.h"
#include "backbone/dense_gemm.h"
#include "head/head_training.h"
#include "head/losses.h"

namespace edgeclr {
namespace {

constexpr uint32_t kSpaceRows = 256;  // rows the per-epoch space measure uses

// One step's data: the set's rows it uses, and the loss's view of them (indices into
// `rows`).
struct Step {
  std::vector<uint32_t> rows;
  std::vector<int32_t> labels;  // SupCon
  PairBatch pairs;              // InfoNCE, triplet
};

// Rows of an item: its own image, then its views.
std::vector<uint32_t> item_rows(const AdaptItem& item) {
  std::vector<uint32_t> rows{item.row};
  for (uint32_t v = 0; v < item.views; ++v) rows.push_back(item.first_view + v);
  return rows;
}

uint32_t pick(const std::vector<uint32_t>& v, Rng* rng) { return v[rng->below(static_cast<uint32_t>(v.size()))]; }

// Label of each training item for SupCon: groups, the group; unlabeled, the item; pairs,
// the connected component of the positive pairs (so a pair's two images share one).
std::map<uint32_t, int32_t> supcon_labels(const AdaptSet& set, const AdaptSplit& split) {
  std::map<uint32_t, int32_t> label;
  if (set.kind() != AdaptKind::kPairs) {
    for (uint32_t item : split.train_items) label[item] = set.items()[item].group;
    return label;
  }
  std::vector<uint32_t> parent(set.items().size());
  for (uint32_t i = 0; i < parent.size(); ++i) parent[i] = i;
  const auto root = [&](uint32_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (uint32_t p : split.train_pairs) parent[root(set.pairs()[p].anchor)] = root(set.pairs()[p].positive);
  for (uint32_t p : split.train_pairs) {
    for (uint32_t item : {set.pairs()[p].anchor, set.pairs()[p].positive}) label[item] = static_cast<int32_t>(root(item));
  }
  return label;
}

// SupCon steps: items shuffled, each with all its rows, packed into steps of up to
// `batch` rows.
std::vector<Step> supcon_steps(const AdaptSet& set, const std::map<uint32_t, int32_t>& labels, uint32_t batch,
                               Rng* rng) {
  std::vector<uint32_t> order;
  for (const auto& entry : labels) order.push_back(entry.first);
  rng->shuffle(&order);
  std::vector<Step> steps(1);
  for (uint32_t item : order) {
    const std::vector<uint32_t> rows = item_rows(set.items()[item]);
    if (!steps.back().rows.empty() && steps.back().rows.size() + rows.size() > batch) steps.emplace_back();
    for (uint32_t r : rows) {
      steps.back().rows.push_back(r);
      steps.back().labels.push_back(labels.at(item));
    }
  }
  return steps;
}

// Row-level pairs of one epoch for InfoNCE and triplet: each training pair (pairs),
// each image with another image of its group or a view of itself (groups), two views of
// each image (unlabeled). Views are drawn anew each epoch.
struct RowPair {
  uint32_t anchor, positive;
  std::vector<uint32_t> negatives;
};

std::vector<RowPair> epoch_pairs(const AdaptSet& set, const AdaptSplit& split, Rng* rng) {
  const auto& items = set.items();
  std::vector<RowPair> pairs;
  if (set.kind() == AdaptKind::kPairs) {
    for (uint32_t p : split.train_pairs) {
      const AdaptPair& pair = set.pairs()[p];
      RowPair row{pick(item_rows(items[pair.anchor]), rng), pick(item_rows(items[pair.positive]), rng), {}};
      for (uint32_t n : pair.negatives) row.negatives.push_back(items[n].row);
      pairs.push_back(std::move(row));
    }
  } else if (set.kind() == AdaptKind::kUnlabeled) {
    for (uint32_t i : split.train_items) {
      std::vector<uint32_t> rows = item_rows(items[i]);
      rng->shuffle(&rows);
      pairs.push_back(RowPair{rows[0], rows[1], {}});
    }
  } else {
    std::map<int32_t, std::vector<uint32_t>> members;
    for (uint32_t i : split.train_items) members[items[i].group].push_back(i);
    for (uint32_t i : split.train_items) {
      const std::vector<uint32_t>& same = members[items[i].group];
      std::vector<uint32_t> own = item_rows(items[i]);
      rng->shuffle(&own);
      uint32_t positive = own.size() > 1 ? own[1] : own[0];
      if (same.size() > 1) {
        uint32_t other = pick(same, rng);
        while (other == i) other = pick(same, rng);
        positive = pick(item_rows(items[other]), rng);
      }
      if (positive != own[0]) pairs.push_back(RowPair{own[0], positive, {}});
    }
  }
  rng->shuffle(&pairs);
  return pairs;
}

std::vector<Step> pair_steps(std::vector<RowPair> pairs, uint32_t batch) {
  std::vector<Step> steps;
  const size_t per_step = std::max<uint32_t>(2, batch / 2);
  for (size_t start = 0; start < pairs.size(); start += per_step) {
    Step step;
    std::map<uint32_t, uint32_t> local;
    const auto at = [&](uint32_t row) {
      auto [it, fresh] = local.emplace(row, static_cast<uint32_t>(step.rows.size()));
      if (fresh) step.rows.push_back(row);
      return it->second;
    };
    for (size_t i = start; i < std::min(pairs.size(), start + per_step); ++i) {
      step.pairs.anchors.push_back(at(pairs[i].anchor));
      step.pairs.positives.push_back(at(pairs[i].positive));
      std::vector<uint32_t> negatives;
      for (uint32_t n : pairs[i].negatives) negatives.push_back(at(n));
      step.pairs.negatives.push_back(std::move(negatives));
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

// Embeddings of `rows` of the set under `head` (through the training forward, whose
// products run on XNNPACK's kernels).
std::vector<float> embed_rows(const ProjectionHead& head, const AdaptSet& set, const std::vector<uint32_t>& rows) {
  const uint32_t dim = set.feature_dim();
  std::vector<float> features(rows.size() * dim);
  for (size_t i = 0; i < rows.size(); ++i) std::copy_n(set.row(rows[i]), dim, features.data() + i * dim);
  HeadTape tape;
  forward_train(head, features.data(), static_cast<uint32_t>(rows.size()), &tape);
  return std::move(tape.embedding);
}

double dot(const float* a, const float* b, uint32_t n) {
  double s = 0;
  for (uint32_t i = 0; i < n; ++i) s += double{a[i]} * b[i];
  return s;
}

// Cross-entropy of picking `target` among `logits`, and whether it was the largest.
void score_choice(const std::vector<double>& logits, size_t target, Validation* v) {
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (double l : logits) sum += std::exp(l - max);
  v->loss += std::log(sum) + max - logits[target];
  v->accuracy += std::max_element(logits.begin(), logits.end()) - logits.begin() == static_cast<ptrdiff_t>(target);
  v->count += 1;
}

void finish(Validation* v) {
  if (v->count == 0) return;
  v->loss /= v->count;
  v->accuracy /= v->count;
}

// Groups: each held-out image against the class means of the training images.
Validation validate_groups(const ProjectionHead& head, const AdaptSet& set, const AdaptSplit& split, float t) {
  const uint32_t e = head.embedding_dim();
  std::vector<uint32_t> train_rows;
  for (uint32_t i : split.train_items) train_rows.push_back(set.items()[i].row);
  const std::vector<float> train = embed_rows(head, set, train_rows);
  std::map<int32_t, std::vector<double>> sums;
  for (size_t i = 0; i < split.train_items.size(); ++i) {
    std::vector<double>& s = sums[set.items()[split.train_items[i]].group];
    s.resize(e, 0.0);
    for (uint32_t d = 0; d < e; ++d) s[d] += train[i * e + d];
  }
  std::vector<int32_t> classes;
  std::vector<float> means;
  for (auto& [group, s] : sums) {
    double norm = 0;
    for (double x : s) norm += x * x;
    norm = norm > 0 ? std::sqrt(norm) : 1.0;
    classes.push_back(group);
    for (double x : s) means.push_back(static_cast<float>(x / norm));
  }
  std::vector<uint32_t> held_rows;
  for (uint32_t i : split.holdout_items) held_rows.push_back(set.items()[i].row);
  const std::vector<float> held = embed_rows(head, set, held_rows);
  Validation v;
  std::vector<double> logits(classes.size());
  for (size_t i = 0; i < held_rows.size(); ++i) {
    for (size_t c = 0; c < classes.size(); ++c) logits[c] = dot(held.data() + i * e, means.data() + c * e, e) / t;
    const int32_t group = set.items()[split.holdout_items[i]].group;
    score_choice(logits, std::find(classes.begin(), classes.end(), group) - classes.begin(), &v);
  }
  finish(&v);
  return v;
}

// Pairs and unlabeled: each held-out anchor against all held-out positives and its own
// negatives.
Validation validate_pairs(const ProjectionHead& head, const AdaptSet& set, const AdaptSplit& split, float t) {
  std::vector<RowPair> pairs;
  const auto& items = set.items();
  if (set.kind() == AdaptKind::kPairs) {
    for (uint32_t p : split.holdout_pairs) {
      const AdaptPair& pair = set.pairs()[p];
      RowPair row{items[pair.anchor].row, items[pair.positive].row, {}};
      for (uint32_t n : pair.negatives) row.negatives.push_back(items[n].row);
      pairs.push_back(std::move(row));
    }
  } else {
    for (uint32_t i : split.holdout_items) pairs.push_back(RowPair{items[i].first_view, items[i].first_view + 1, {}});
  }
  const Step step = pair_steps(pairs, static_cast<uint32_t>(2 * pairs.size())).front();
  const uint32_t e = head.embedding_dim();
  const std::vector<float> z = embed_rows(head, set, step.rows);
  // Candidates: each distinct held-out positive once (pairs may share one), then the
  // anchor's own negatives that are not already among them.
  std::vector<uint32_t> positives(step.pairs.positives);
  std::sort(positives.begin(), positives.end());
  positives.erase(std::unique(positives.begin(), positives.end()), positives.end());
  const auto n = static_cast<uint32_t>(step.pairs.anchors.size());
  const auto m = static_cast<uint32_t>(positives.size());
  std::vector<float> a(size_t{n} * e), p(size_t{m} * e), cos(size_t{n} * m);
  for (uint32_t i = 0; i < n; ++i) std::copy_n(z.data() + size_t{step.pairs.anchors[i]} * e, e, a.data() + size_t{i} * e);
  for (uint32_t j = 0; j < m; ++j) std::copy_n(z.data() + size_t{positives[j]} * e, e, p.data() + size_t{j} * e);
  gemm_abt(a.data(), p.data(), nullptr, n, m, e, cos.data());
  Validation v;
  std::vector<double> logits;
  for (uint32_t i = 0; i < n; ++i) {
    logits.assign(cos.begin() + size_t{i} * m, cos.begin() + size_t{i + 1} * m);
    for (uint32_t neg : step.pairs.negatives[i]) {
      if (std::binary_search(positives.begin(), positives.end(), neg)) continue;
      logits.push_back(dot(a.data() + size_t{i} * e, z.data() + size_t{neg} * e, e));
    }
    for (double& l : logits) l /= t;
    const size_t target = std::lower_bound(positives.begin(), positives.end(), step.pairs.positives[i]) - positives.begin();
    score_choice(logits, target, &v);
  }
  finish(&v);
  return v;
}

Validation validate(const ProjectionHead& head, const AdaptSet& set, const AdaptSplit& split, float t) {
  return set.kind() == AdaptKind::kGroups ? validate_groups(head, set, split, t) : validate_pairs(head, set, split, t);
}

SpaceStats measure(const ProjectionHead& head, const AdaptSet& set) {
  std::vector<uint32_t> rows;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  space_rows(set, kSpaceRows, &rows, &pairs);
  const std::vector<float> z = embed_rows(head, set, rows);
  return measure_space(z.data(), static_cast<uint32_t>(rows.size()), head.embedding_dim(), pairs);
}

// One optimiser step on `step`; returns its loss.
struct Trainer {
  const AdaptSet& set;
  const AdaptOptions& options;
  AdaptLoss loss;
  HeadOptimizer optimizer;
  HeadTape tape;
  HeadGradients grads;
  std::vector<float> features, d_embedding, scratch;

  double run(ProjectionHead* head, const Step& step, float lr) {
    const uint32_t dim = set.feature_dim();
    const auto rows = static_cast<uint32_t>(step.rows.size());
    features.resize(size_t{rows} * dim);
    for (uint32_t i = 0; i < rows; ++i) std::copy_n(set.row(step.rows[i]), dim, features.data() + size_t{i} * dim);
    forward_train(*head, features.data(), rows, &tape);
    const uint32_t e = head->embedding_dim();
    d_embedding.resize(size_t{rows} * e);
    double value = 0;
    if (loss == AdaptLoss::kSupCon) {
      value = supcon_loss(tape.embedding.data(), rows, e, step.labels, options.temperature, d_embedding.data());
    } else if (loss == AdaptLoss::kTriplet) {
      value = triplet_loss(tape.embedding.data(), e, step.pairs, options.margin, d_embedding.data(), rows);
    } else {
      value = info_nce_loss(tape.embedding.data(), e, step.pairs, options.temperature, d_embedding.data(), rows);
    }
    backward(*head, tape, d_embedding.data(), &grads, &scratch);
    optimizer.step(head, grads, lr);
    return value;
  }
};

std::vector<Step> epoch_steps(const AdaptSet& set, const AdaptSplit& split, AdaptLoss loss,
                              const std::map<uint32_t, int32_t>& labels, uint32_t batch, Rng* rng) {
  if (loss == AdaptLoss::kSupCon) return supcon_steps(set, labels, batch, rng);
  return pair_steps(epoch_pairs(set, split, rng), batch);
}

// Whether any step has something to pull together: a pair, or two rows of one label.
bool has_positives(const std::vector<Step>& steps) {
  for (const Step& step : steps) {
    if (!step.pairs.anchors.empty()) return true;
    std::set<int32_t> seen;
    for (int32_t label : step.labels) {
      if (!seen.insert(label).second) return true;
    }
  }
  return false;
}

std::string describe(const Validation& v) {
  return format("loss %.4f, accuracy %.3f", v.loss, v.accuracy);
}

// The effective rank below which the space counts as collapsed: `ratio` x the start's,
// but never above `ratio` x the number of groups, since training on G groups rightly
// gathers the space towards G directions.
double collapse_floor(const AdaptSet& set, const SpaceStats& start, float ratio) {
  std::set<int32_t> groups;
  for (const AdaptItem& item : set.items()) groups.insert(item.group);
  return ratio * std::min(start.effective_rank, double(groups.size()));
}

}  // namespace

const char* adapt_loss_name(AdaptLoss loss) {
  switch (loss) {
    case AdaptLoss::kAuto: return "auto";
    case AdaptLoss::kInfoNce: return "infonce";
    case AdaptLoss::kTriplet: return "triplet";
    case AdaptLoss::kSupCon: return "supcon";
  }
  return "?";
}

AdaptLoss resolve_loss(AdaptLoss loss, AdaptKind kind) {
  if (loss != AdaptLoss::kAuto) return loss;
  return kind == AdaptKind::kGroups ? AdaptLoss::kSupCon : AdaptLoss::kInfoNce;
}

Result<AdaptResult> adapt_head(const AdaptSet& set, const ProjectionHead& start, const ProjectionHead& shipped,
                               const AdaptOptions& options, const EpochCallback& on_epoch) {
  if (start.feature_dim() != set.feature_dim() || shipped.feature_dim() != set.feature_dim()) {
    return error(StatusCode::kInvalidArgument, "failed to adapt: the head does not take the set's features");
  }
  if (options.epochs == 0 || options.patience == 0 || options.batch < 2 || !(options.temperature > 0) ||
      !(options.learning_rate > 0) || !(options.holdout > 0 && options.holdout < 1) || !(options.margin >= 0) ||
      !(options.min_improvement >= 0 && options.min_improvement < 1) ||
      !(options.collapse_rank_ratio >= 0 && std::isfinite(options.collapse_rank_ratio))) {
    return error(StatusCode::kInvalidArgument,
                 "failed to adapt: epochs, patience and learning rate must be > 0, batch >= 2, temperature > 0, "
                 "holdout in (0, 1), margin >= 0, min_improvement in [0, 1), collapse_rank_ratio >= 0");
  }
  Rng rng(options.seed);
  auto split = split_adapt_set(set, options.holdout, &rng);
  if (!split.ok()) return split.status();

  AdaptResult result;
  result.loss = resolve_loss(options.loss, set.kind());
  result.split = *split;
  result.train_items = static_cast<uint32_t>(set.kind() == AdaptKind::kPairs ? split->train_pairs.size() : split->train_items.size());
  result.holdout_items = static_cast<uint32_t>(set.kind() == AdaptKind::kPairs ? split->holdout_pairs.size() : split->holdout_items.size());
  result.validation_before = validate(start, set, *split, options.temperature);
  result.space_before = measure(start, set);

  const std::map<uint32_t, int32_t> labels = supcon_labels(set, *split);
  const std::vector<Step> first_steps = epoch_steps(set, *split, result.loss, labels, options.batch, &rng);
  if (!has_positives(first_steps)) {
    return error(StatusCode::kInvalidArgument,
                 format("failed to adapt: nothing to train on: no training %s has a positive (give groups 2 or more "
                        "images, or use augmented views)", set.kind() == AdaptKind::kPairs ? "pair" : "image"));
  }
  const auto steps_per_epoch = static_cast<uint32_t>(first_steps.size());
  const uint32_t total_steps = steps_per_epoch * options.epochs;

  const double rank_floor = collapse_floor(set, result.space_before, options.collapse_rank_ratio);
  ProjectionHead head = start;
  ProjectionHead best = start;
  Validation best_validation = result.validation_before;
  Trainer trainer{set, options, result.loss, HeadOptimizer(options.optimizer, shipped), {}, {}, {}, {}, {}};
  std::string stop;
  uint32_t step_index = 0;
  for (uint32_t epoch = 1; epoch <= options.epochs; ++epoch) {
    EpochReport report;
    report.epoch = epoch;
    double loss_sum = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<Step> steps = epoch_steps(set, *split, result.loss, labels, options.batch, &rng);
    for (const Step& step : steps) {
      report.learning_rate = cosine_learning_rate(options.learning_rate, std::min(step_index++, total_steps - 1), total_steps);
      loss_sum += trainer.run(&head, step, static_cast<float>(report.learning_rate));
    }
    report.train_loss = steps.empty() ? 0.0 : loss_sum / steps.size();
    const auto t1 = std::chrono::steady_clock::now();
    report.validation = validate(head, set, *split, options.temperature);
    report.space = measure(head, set);
    report.train_seconds = std::chrono::duration<double>(t1 - t0).count();
    report.check_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    result.epochs_run = epoch;
    const bool broken = !std::isfinite(report.train_loss) || !std::isfinite(report.validation.loss) ||
                        !std::isfinite(report.space.effective_rank) || report.space.effective_rank < rank_floor;
    // A candidate never lowers the held-out accuracy; the best candidate has the lowest
    // validation loss.
    const bool candidate = !broken && report.validation.accuracy >= result.validation_before.accuracy;
    if (candidate && report.validation.loss < best_validation.loss * (1.0 - options.min_improvement)) {
      report.best = true;
      best = head;
      best_validation = report.validation;
      result.best_epoch = epoch;
    }
    result.epochs.push_back(report);
    if (on_epoch) on_epoch(report, options.epochs);
    if (broken) {
      stop = format("the space collapsed at epoch %u (effective rank %.1f -> %.1f, train loss %g); rolled back to epoch %u",
                    epoch, result.space_before.effective_rank, report.space.effective_rank, report.train_loss,
                    result.best_epoch);
      break;
    }
    if (epoch - result.best_epoch >= options.patience) {
      stop = format("stopped early: no better validation for %u epochs", options.patience);
      break;
    }
  }

  result.validation_after = best_validation;
  result.space_after = result.best_epoch > 0 ? measure(best, set) : result.space_before;
  const std::string held = format("on %u held-out %s", result.holdout_items, set.kind() == AdaptKind::kPairs ? "pairs" : "images");
  const std::string suffix = stop.empty() ? "" : " (" + stop + ")";
  if (result.best_epoch == 0) {
    result.reason = format("kept the current head: no epoch lowered the validation loss without lowering the accuracy %s (%s)%s", held.c_str(),
                           describe(result.validation_before).c_str(), suffix.c_str());
  } else {
    result.accepted = true;
    result.reason = format("accepted epoch %u: validation %s -> %s %s%s", result.best_epoch,
                           describe(result.validation_before).c_str(), describe(best_validation).c_str(), held.c_str(),
                           suffix.c_str());
  }
  result.head = result.accepted ? best : start;
  if (!result.accepted) {
    result.validation_after = result.validation_before;
    result.space_after = result.space_before;
  }
  return result;
}

}  // namespace edgeclr
