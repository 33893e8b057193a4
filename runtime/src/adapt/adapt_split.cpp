#include "adapt/adapt_split.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace edgeclr {
namespace {

// How many of n to hold out: round(fraction x n) within [at_least, n - keep].
uint32_t holdout_count(size_t n, float fraction, uint32_t at_least, uint32_t keep) {
  const auto wanted = static_cast<uint32_t>(std::lround(fraction * double(n)));
  return std::min(std::max(wanted, at_least), static_cast<uint32_t>(n - keep));
}

std::vector<uint32_t> iota(size_t n) {
  std::vector<uint32_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint32_t>(i);
  return v;
}

// At most `most` of n items, spread at random (a fixed seed: the same rows every epoch
// and every run), in their original order. A stride would alias with periodic orders.
std::vector<uint32_t> sample_items(size_t n, size_t most) {
  std::vector<uint32_t> order = iota(n);
  if (n <= most) return order;
  Rng rng(0x5eed);
  rng.shuffle(&order);
  order.resize(most);
  std::sort(order.begin(), order.end());
  return order;
}

Status too_small(const std::string& what) {
  return error(StatusCode::kInvalidArgument, "too little data to adapt and validate: " + what);
}

}  // namespace

Result<AdaptSplit> split_adapt_set(const AdaptSet& set, float fraction, Rng* rng) {
  AdaptSplit split;
  const auto& items = set.items();
  if (set.kind() == AdaptKind::kPairs) {
    if (set.pairs().size() < 4) {
      return too_small(format("%zu pairs, at least 4 are needed (2 to train, 2 to validate)", set.pairs().size()));
    }
    std::vector<uint32_t> order = iota(set.pairs().size());
    rng->shuffle(&order);
    const uint32_t k = holdout_count(order.size(), fraction, 2, 2);
    split.holdout_pairs.assign(order.begin(), order.begin() + k);
    split.train_pairs.assign(order.begin() + k, order.end());
    return split;
  }
  if (set.kind() == AdaptKind::kUnlabeled) {
    if (items.size() < 4) return too_small(format("%zu images, at least 4 are needed", items.size()));
    for (const AdaptItem& item : items) {
      if (item.views < 2) return too_small("unlabeled images need at least 2 augmented views each");
    }
    std::vector<uint32_t> order = iota(items.size());
    rng->shuffle(&order);
    const uint32_t k = holdout_count(order.size(), fraction, 2, 2);
    split.holdout_items.assign(order.begin(), order.begin() + k);
    split.train_items.assign(order.begin() + k, order.end());
    return split;
  }
  std::map<int32_t, std::vector<uint32_t>> groups;
  for (uint32_t i = 0; i < items.size(); ++i) groups[items[i].group].push_back(i);
  uint32_t validating_groups = 0;
  for (auto& [group, members] : groups) {
    rng->shuffle(&members);
    const uint32_t k = members.size() >= 2 ? holdout_count(members.size(), fraction, 1, 1) : 0;
    validating_groups += k > 0;
    split.holdout_items.insert(split.holdout_items.end(), members.begin(), members.begin() + k);
    split.train_items.insert(split.train_items.end(), members.begin() + k, members.end());
  }
  if (groups.size() < 2 || validating_groups == 0) {
    return too_small(format("%zu groups, %u with 2 or more images; at least 2 groups and one with 2 images are needed",
                            groups.size(), validating_groups));
  }
  return split;
}

void space_rows(const AdaptSet& set, uint32_t max_rows, std::vector<uint32_t>* rows,
                std::vector<std::pair<uint32_t, uint32_t>>* pairs) {
  rows->clear();
  pairs->clear();
  const auto& items = set.items();
  if (set.kind() == AdaptKind::kPairs) {
    std::map<uint32_t, uint32_t> index;  // item -> position in rows
    const auto add = [&](uint32_t item) {
      auto [it, fresh] = index.emplace(item, static_cast<uint32_t>(rows->size()));
      if (fresh) rows->push_back(items[item].row);
      return it->second;
    };
    for (const AdaptPair& p : set.pairs()) {
      if (rows->size() + 2 > max_rows) break;
      pairs->emplace_back(add(p.anchor), add(p.positive));
    }
    return;
  }
  if (set.kind() == AdaptKind::kUnlabeled) {
    for (uint32_t i : sample_items(items.size(), max_rows / 2)) {
      const AdaptItem& item = items[i];
      if (rows->size() + 2 > max_rows || item.views < 2) break;
      pairs->emplace_back(rows->size(), rows->size() + 1);
      rows->push_back(item.first_view);
      rows->push_back(item.first_view + 1);
    }
    return;
  }
  std::map<int32_t, std::vector<uint32_t>> by_group;  // positions in rows
  for (uint32_t i : sample_items(items.size(), max_rows)) {
    const AdaptItem& item = items[i];
    if (rows->size() >= max_rows) break;
    by_group[item.group].push_back(static_cast<uint32_t>(rows->size()));
    rows->push_back(item.row);
  }
  for (const auto& [group, members] : by_group) {
    for (size_t a = 0; a < members.size(); ++a) {
      for (size_t b = a + 1; b < members.size(); ++b) pairs->emplace_back(members[a], members[b]);
    }
  }
}

}  // namespace edgeclr
