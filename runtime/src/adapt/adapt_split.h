// Which part of an AdaptSet trains and which validates, and the rows each side uses.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "adapt/adapt_set.h"
#include "adapt/random.h"
#include "core/status.h"

namespace edgeclr {

struct AdaptSplit {
  std::vector<uint32_t> train_items;    // items that train (groups, unlabeled)
  std::vector<uint32_t> holdout_items;  // items that validate (groups, unlabeled)
  std::vector<uint32_t> train_pairs;    // pairs that train (pairs)
  std::vector<uint32_t> holdout_pairs;  // pairs that validate (pairs)
};

// Holds out round(fraction x n), at least 2 pairs/images (1 image per group for groups,
// each group keeping at least one to train), chosen by `rng`. kInvalidArgument, naming
// what is missing, when the set is too small to both train and validate.
Result<AdaptSplit> split_adapt_set(const AdaptSet& set, float fraction, Rng* rng);

// Rows used to measure the space, and the positive pairs among them (as indices into
// that list): groups, every item's own image (same-group pairs); pairs, the anchors and
// positives; unlabeled, each image's first two views. At most `max_rows` rows.
void space_rows(const AdaptSet& set, uint32_t max_rows, std::vector<uint32_t>* rows,
                std::vector<std::pair<uint32_t, uint32_t>>* pairs);

}  // namespace edgeclr
