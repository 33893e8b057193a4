// What adaptation learns from, in feature space: the backbone ran once per image (and
// per augmented view), so epochs only run the head.
//
// An item is one image: its feature row and the rows of its augmented views. Items carry
// a group (kGroups: the user's label; kUnlabeled and kPairs: the item's own index).
// kPairs adds pairs of items: anchor, positive and explicit negatives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgeclr {

enum class AdaptKind { kPairs, kGroups, kUnlabeled };

const char* adapt_kind_name(AdaptKind kind);  // "pairs", "groups", "unlabeled"

struct AdaptItem {
  uint32_t row = 0;         // the image's own feature
  uint32_t first_view = 0;  // its views are rows first_view .. first_view + views - 1
  uint32_t views = 0;
  int32_t group = 0;
};

struct AdaptPair {
  uint32_t anchor = 0, positive = 0;  // items
  std::vector<uint32_t> negatives;    // items
};

class AdaptSet {
 public:
  AdaptSet(AdaptKind kind, uint32_t feature_dim) : kind_(kind), feature_dim_(feature_dim) {}

  // Copies the feature (feature_dim floats) and `views` view features (views x feature_dim);
  // returns the new item's index. `group` is ignored unless kind is kGroups.
  uint32_t add_item(const float* feature, const float* view_features, uint32_t views, int32_t group);
  // kPairs only; indices of items already added.
  void add_pair(uint32_t anchor, uint32_t positive, std::vector<uint32_t> negatives);

  // Drops every item from `items` on and every pair from `pairs` on (undoing a failed
  // batch of additions). Pairs kept must not refer to dropped items.
  void truncate(size_t items, size_t pairs);

  AdaptKind kind() const { return kind_; }
  uint32_t feature_dim() const { return feature_dim_; }
  uint32_t rows() const { return static_cast<uint32_t>(features_.size() / feature_dim_); }
  const float* row(uint32_t r) const { return features_.data() + size_t{r} * feature_dim_; }
  const std::vector<AdaptItem>& items() const { return items_; }
  const std::vector<AdaptPair>& pairs() const { return pairs_; }

 private:
  AdaptKind kind_;
  uint32_t feature_dim_;
  std::vector<float> features_;  // rows x feature_dim
  std::vector<AdaptItem> items_;
  std::vector<AdaptPair> pairs_;
};

}  // namespace edgeclr
