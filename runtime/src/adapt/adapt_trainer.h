// Training the projection head on an AdaptSet, with the guards that keep a bad update
// from shipping: part of the data held out for validation, early stopping, the space
// measured every epoch (collapse -> roll back), and acceptance only when the best head
// beats the current one on the held-out data.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "adapt/adapt_set.h"
#include "adapt/adapt_split.h"
#include "adapt/space_stats.h"
#include "core/status.h"
#include "head/optimizer.h"
#include "head/projection_head.h"

namespace edgeclr {

enum class AdaptLoss { kAuto, kInfoNce, kTriplet, kSupCon };

const char* adapt_loss_name(AdaptLoss loss);  // "auto", "infonce", "triplet", "supcon"
// kAuto resolves to supcon for groups, infonce otherwise.
AdaptLoss resolve_loss(AdaptLoss loss, AdaptKind kind);

struct AdaptOptions {
  AdaptLoss loss = AdaptLoss::kAuto;
  float temperature = 0.2f;  // InfoNCE, SupCon and the validation loss
  float margin = 0.2f;       // triplet
  OptimizerOptions optimizer;  // Adam by default; pull and weight decay set below
  float learning_rate = 3e-3f;
  uint32_t epochs = 50;      // at most; early stopping may end sooner
  uint32_t batch = 256;      // rows per step
  uint32_t patience = 8;     // epochs without a better validation loss before stopping
  float holdout = 0.2f;      // fraction of groups' images / pairs / images held out
  uint64_t seed = 0;
  // Collapse: effective rank below this x min(the start's, the number of groups).
  float collapse_rank_ratio = 0.5f;
  // An epoch counts as better only if it lowers the validation loss by this fraction of
  // the best so far: a change within noise is not worth shipping.
  float min_improvement = 0.001f;

  AdaptOptions() {
    optimizer.pull = 0.1f;
    optimizer.weight_decay = 0.0f;
  }
};

// How well a head does on the held-out data. Groups: each held-out image against the
// class means of the training images; pairs: each held-out anchor against the held-out
// positives and its negatives. `loss` is the cross-entropy of that choice at the
// options' temperature, `accuracy` the fraction chosen right.
struct Validation {
  double loss = 0;
  double accuracy = 0;
  uint32_t count = 0;  // held-out images (groups, unlabeled) or pairs
};

struct EpochReport {
  uint32_t epoch = 0;  // 1-based
  double train_loss = 0;
  double learning_rate = 0;  // at the epoch's last step
  Validation validation;
  SpaceStats space;
  bool best = false;  // the best validation so far
  double train_seconds = 0;  // the optimiser steps
  double check_seconds = 0;  // validation and space measures
};

struct AdaptResult {
  ProjectionHead head;     // the accepted head, or the starting one when rejected
  bool accepted = false;
  std::string reason;      // one line, why accepted or not
  uint32_t epochs_run = 0;
  uint32_t best_epoch = 0;  // 0: no epoch beat the start
  uint32_t train_items = 0, holdout_items = 0;
  AdaptLoss loss = AdaptLoss::kAuto;  // as resolved
  Validation validation_before, validation_after;
  SpaceStats space_before, space_after;
  std::vector<EpochReport> epochs;
  AdaptSplit split;  // what trained and what was held out
};

using EpochCallback = std::function<void(const EpochReport& report, uint32_t max_epochs)>;

// Trains a copy of `start` on `set`, pulled towards `shipped` (the model's own head).
// kInvalidArgument for unusable options, a set too small to train and validate, or one
// with nothing to train on (no training image has a positive).
Result<AdaptResult> adapt_head(const AdaptSet& set, const ProjectionHead& start, const ProjectionHead& shipped,
                               const AdaptOptions& options, const EpochCallback& on_epoch = nullptr);

}  // namespace edgeclr
