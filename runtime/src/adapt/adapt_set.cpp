#include "adapt/adapt_set.h"

namespace edgeclr {

const char* adapt_kind_name(AdaptKind kind) {
  switch (kind) {
    case AdaptKind::kPairs: return "pairs";
    case AdaptKind::kGroups: return "groups";
    case AdaptKind::kUnlabeled: return "unlabeled";
  }
  return "?";
}

uint32_t AdaptSet::add_item(const float* feature, const float* view_features, uint32_t views, int32_t group) {
  AdaptItem item;
  item.row = rows();
  item.first_view = item.row + 1;
  item.views = views;
  const auto index = static_cast<uint32_t>(items_.size());
  item.group = kind_ == AdaptKind::kGroups ? group : static_cast<int32_t>(index);
  features_.insert(features_.end(), feature, feature + feature_dim_);
  features_.insert(features_.end(), view_features, view_features + size_t{views} * feature_dim_);
  items_.push_back(item);
  return index;
}

void AdaptSet::add_pair(uint32_t anchor, uint32_t positive, std::vector<uint32_t> negatives) {
  pairs_.push_back(AdaptPair{anchor, positive, std::move(negatives)});
}

void AdaptSet::truncate(size_t items, size_t pairs) {
  if (pairs < pairs_.size()) pairs_.resize(pairs);
  if (items < items_.size()) {
    features_.resize(size_t{items_[items].row} * feature_dim_);
    items_.resize(items);
  }
}

}  // namespace edgeclr
