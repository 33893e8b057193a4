// Train / validation split of an AdaptSet and the rows that measure its space
// (adapt/adapt_split.h): counts per group as documented, refusals that say what is
// missing, reproducibility, and row sampling bounded and spread over the set.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "adapt/adapt_split.h"

using namespace edgeclr;

namespace {

constexpr uint32_t kDim = 3;

// Adds an item whose feature and views hold its index (so rows are told apart).
uint32_t add(AdaptSet* set, uint32_t views, int32_t group) {
  const auto index = static_cast<float>(set->items().size());
  const std::vector<float> feature(kDim, index);
  const std::vector<float> view_features(size_t{views} * kDim, index + 0.5f);
  return set->add_item(feature.data(), view_features.data(), views, group);
}

AdaptSet groups_set(const std::vector<uint32_t>& sizes, uint32_t views = 1) {
  AdaptSet set(AdaptKind::kGroups, kDim);
  for (size_t g = 0; g < sizes.size(); ++g) {
    for (uint32_t i = 0; i < sizes[g]; ++i) add(&set, views, static_cast<int32_t>(10 * g + 7));
  }
  return set;
}

// `pairs` pairs over 2 x pairs items: (2i, 2i + 1), item 2i + 3 as a negative when it exists.
AdaptSet pairs_set(uint32_t pairs) {
  AdaptSet set(AdaptKind::kPairs, kDim);
  for (uint32_t i = 0; i < 2 * pairs; ++i) add(&set, 2, 0);
  for (uint32_t i = 0; i < pairs; ++i) {
    std::vector<uint32_t> negatives;
    if (2 * i + 3 < 2 * pairs) negatives.push_back(2 * i + 3);
    set.add_pair(2 * i, 2 * i + 1, negatives);
  }
  return set;
}

AdaptSet unlabeled_set(uint32_t images, uint32_t views) {
  AdaptSet set(AdaptKind::kUnlabeled, kDim);
  for (uint32_t i = 0; i < images; ++i) add(&set, views, 99);
  return set;
}

AdaptSplit split_ok(const AdaptSet& set, float fraction, uint64_t seed) {
  Rng rng(seed);
  auto split = split_adapt_set(set, fraction, &rng);
  REQUIRE_MESSAGE(split.ok(), split.status().message());
  return std::move(split).value();
}

std::string split_error(const AdaptSet& set, float fraction = 0.2f) {
  Rng rng(1);
  auto split = split_adapt_set(set, fraction, &rng);
  REQUIRE_FALSE(split.ok());
  CHECK(split.status().code() == StatusCode::kInvalidArgument);
  return split.status().message();
}

// Train and holdout together hold each of 0 .. n - 1 exactly once.
void expect_partition(const std::vector<uint32_t>& train, const std::vector<uint32_t>& holdout, size_t n) {
  std::vector<uint32_t> all = train;
  all.insert(all.end(), holdout.begin(), holdout.end());
  std::sort(all.begin(), all.end());
  REQUIRE(all.size() == n);
  for (size_t i = 0; i < n; ++i) CHECK(all[i] == i);
}

// Held-out items per group.
std::map<int32_t, uint32_t> holdout_per_group(const AdaptSet& set, const AdaptSplit& split) {
  std::map<int32_t, uint32_t> count;
  for (const AdaptItem& item : set.items()) count[item.group] += 0;
  for (uint32_t i : split.holdout_items) ++count[set.items()[i].group];
  return count;
}

}  // namespace

TEST_CASE("split_adapt_set holds out round(fraction x n) of each group, keeping one to train") {
  const AdaptSet set = groups_set({5, 1, 10});  // groups 7, 17, 27
  struct Case {
    float fraction;
    uint32_t of5, of10;
  };
  // round(f n) within [1, n - 1] for groups of 2 or more; the singleton always trains.
  for (const Case c : {Case{0.2f, 1, 2}, Case{0.5f, 3, 5}, Case{0.01f, 1, 1}, Case{0.9f, 4, 9}, Case{0.99f, 4, 9},
                       Case{0.4f, 2, 4}}) {
    INFO("fraction ", c.fraction);
    const AdaptSplit split = split_ok(set, c.fraction, 3);
    const auto held = holdout_per_group(set, split);
    CHECK(held.at(7) == c.of5);
    CHECK(held.at(17) == 0);
    CHECK(held.at(27) == c.of10);
    expect_partition(split.train_items, split.holdout_items, 16);
    CHECK(split.train_pairs.empty());
    CHECK(split.holdout_pairs.empty());
  }
  // A group of two gives one to each side whatever the fraction.
  const AdaptSet twos = groups_set({2, 2});
  for (float fraction : {0.01f, 0.5f, 0.99f}) {
    const auto held = holdout_per_group(twos, split_ok(twos, fraction, 4));
    CHECK(held.at(7) == 1);
    CHECK(held.at(17) == 1);
  }
}

TEST_CASE("split_adapt_set holds out round(fraction x n) pairs or images, at least 2, keeping 2 to train") {
  struct Case {
    uint32_t n;
    float fraction;
    uint32_t held;
  };
  for (const Case c : {Case{4, 0.2f, 2}, Case{10, 0.2f, 2}, Case{10, 0.5f, 5}, Case{20, 0.2f, 4}, Case{10, 0.9f, 8},
                       Case{4, 0.9f, 2}}) {
    INFO(c.n, " at ", c.fraction);
    const AdaptSet pairs = pairs_set(c.n);
    const AdaptSplit p = split_ok(pairs, c.fraction, 5);
    CHECK(p.holdout_pairs.size() == c.held);
    expect_partition(p.train_pairs, p.holdout_pairs, c.n);
    CHECK(p.train_items.empty());
    CHECK(p.holdout_items.empty());

    const AdaptSet images = unlabeled_set(c.n, 2);
    const AdaptSplit u = split_ok(images, c.fraction, 5);
    CHECK(u.holdout_items.size() == c.held);
    expect_partition(u.train_items, u.holdout_items, c.n);
  }
}

TEST_CASE("split_adapt_set: the same seed gives the same split, another seed another") {
  const AdaptSet set = groups_set({20, 20, 20});
  const AdaptSplit a = split_ok(set, 0.3f, 11), b = split_ok(set, 0.3f, 11), c = split_ok(set, 0.3f, 12);
  CHECK(a.holdout_items == b.holdout_items);
  CHECK(a.train_items == b.train_items);
  std::set<uint32_t> held_a(a.holdout_items.begin(), a.holdout_items.end());
  std::set<uint32_t> held_c(c.holdout_items.begin(), c.holdout_items.end());
  CHECK(held_a != held_c);

  const AdaptSet pairs = pairs_set(30);
  CHECK(split_ok(pairs, 0.3f, 1).holdout_pairs == split_ok(pairs, 0.3f, 1).holdout_pairs);
  CHECK(split_ok(pairs, 0.3f, 1).holdout_pairs != split_ok(pairs, 0.3f, 2).holdout_pairs);
  const AdaptSet images = unlabeled_set(30, 2);
  CHECK(split_ok(images, 0.3f, 1).holdout_items == split_ok(images, 0.3f, 1).holdout_items);
  CHECK(split_ok(images, 0.3f, 1).holdout_items != split_ok(images, 0.3f, 2).holdout_items);
}

TEST_CASE("split_adapt_set refuses sets too small to train and validate, saying what is missing") {
  const std::string three_pairs = split_error(pairs_set(3));
  CHECK(three_pairs.find("3 pairs") != std::string::npos);
  CHECK(three_pairs.find("at least 4") != std::string::npos);
  CHECK(split_error(pairs_set(0)).find("0 pairs") != std::string::npos);

  const std::string three_images = split_error(unlabeled_set(3, 2));
  CHECK(three_images.find("3 images") != std::string::npos);
  CHECK(three_images.find("at least 4") != std::string::npos);

  const std::string one_view = split_error(unlabeled_set(6, 1));
  CHECK(one_view.find("2 augmented views") != std::string::npos);
  CHECK(split_error(unlabeled_set(6, 0)).find("2 augmented views") != std::string::npos);

  const std::string one_group = split_error(groups_set({8}));
  CHECK(one_group.find("1 groups") != std::string::npos);
  CHECK(one_group.find("at least 2 groups") != std::string::npos);
  const std::string singletons = split_error(groups_set({1, 1, 1}));
  CHECK(singletons.find("3 groups, 0 with 2 or more images") != std::string::npos);
  CHECK(split_error(groups_set({})).find("0 groups") != std::string::npos);

  for (const std::string& message : {three_pairs, three_images, one_view, one_group, singletons}) {
    CHECK(message.rfind("too little data to adapt and validate: ", 0) == 0);
  }
  // The smallest sets that do split.
  split_ok(pairs_set(4), 0.2f, 1);
  split_ok(unlabeled_set(4, 2), 0.2f, 1);
  split_ok(groups_set({2, 1}), 0.2f, 1);
}

TEST_CASE("adaptation: space_rows for groups: every item's own row and every same-group pair") {
  const AdaptSet set = groups_set({5, 1, 10}, 2);
  std::vector<uint32_t> rows;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  space_rows(set, 256, &rows, &pairs);
  REQUIRE(rows.size() == 16);
  for (size_t i = 0; i < rows.size(); ++i) CHECK(rows[i] == set.items()[i].row);
  CHECK(pairs.size() == 10 + 45);  // C(5, 2) + C(10, 2)
  std::set<std::pair<uint32_t, uint32_t>> distinct;
  for (const auto& [a, b] : pairs) {
    REQUIRE(a < rows.size());
    REQUIRE(b < rows.size());
    CHECK(a != b);
    CHECK(set.items()[a].group == set.items()[b].group);
    distinct.insert({std::min(a, b), std::max(a, b)});
  }
  CHECK(distinct.size() == pairs.size());

  space_rows(set, 4, &rows, &pairs);
  CHECK(rows.size() <= 4);
  CHECK(rows.size() >= 2);
  for (const auto& [a, b] : pairs) CHECK((a < rows.size() && b < rows.size()));
}

TEST_CASE("adaptation: space_rows samples a large groups set across all its groups within max_rows") {
  const AdaptSet set = groups_set({400, 400, 400});  // items in group order
  std::vector<uint32_t> rows;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  space_rows(set, 256, &rows, &pairs);
  CHECK(rows.size() <= 256);
  CHECK(rows.size() >= 128);
  std::map<int32_t, uint32_t> per_group;
  for (uint32_t r : rows) {
    const auto item = static_cast<uint32_t>(set.row(r)[0]);  // features hold the item index
    REQUIRE(set.items()[item].row == r);
    ++per_group[set.items()[item].group];
  }
  REQUIRE(per_group.size() == 3);
  for (const auto& [group, count] : per_group) {
    INFO("group ", group);
    CHECK(count >= rows.size() / 4);
  }
}

TEST_CASE("adaptation: space_rows for pairs: anchors and positives once each, pairs between them") {
  const AdaptSet set = pairs_set(6);
  std::vector<uint32_t> rows;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  space_rows(set, 256, &rows, &pairs);
  CHECK(rows.size() == 12);
  REQUIRE(pairs.size() == 6);
  for (size_t i = 0; i < pairs.size(); ++i) {
    CHECK(rows[pairs[i].first] == set.items()[set.pairs()[i].anchor].row);
    CHECK(rows[pairs[i].second] == set.items()[set.pairs()[i].positive].row);
  }
  // An image in several pairs is one row.
  AdaptSet shared(AdaptKind::kPairs, kDim);
  for (int i = 0; i < 4; ++i) add(&shared, 0, 0);
  shared.add_pair(0, 1, {});
  shared.add_pair(0, 2, {});
  shared.add_pair(3, 1, {2});
  space_rows(shared, 256, &rows, &pairs);
  CHECK(rows.size() == 4);
  CHECK(pairs.size() == 3);
  CHECK(rows[pairs[0].first] == rows[pairs[1].first]);

  space_rows(set, 5, &rows, &pairs);
  CHECK(rows.size() <= 5);
  CHECK(pairs.size() == 2);
}

TEST_CASE("adaptation: space_rows for unlabeled: two views per image, bounded and spread over the set") {
  const AdaptSet set = unlabeled_set(5, 3);
  std::vector<uint32_t> rows;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  space_rows(set, 256, &rows, &pairs);
  REQUIRE(rows.size() == 10);
  REQUIRE(pairs.size() == 5);
  for (uint32_t i = 0; i < 5; ++i) {
    CHECK(rows[pairs[i].first] == set.items()[i].first_view);
    CHECK(rows[pairs[i].second] == set.items()[i].first_view + 1);
  }

  const AdaptSet large = unlabeled_set(1000, 2);
  space_rows(large, 256, &rows, &pairs);
  CHECK(rows.size() <= 256);
  CHECK(rows.size() >= 128);
  CHECK(pairs.size() == rows.size() / 2);
  uint32_t last_item = 0;
  for (uint32_t r : rows) last_item = std::max(last_item, static_cast<uint32_t>(large.row(r)[0]));
  CHECK(last_item >= 900);  // not only the first images
}

TEST_CASE("adaptation: unlabeled images with fewer than 2 views anywhere are refused") {
  AdaptSet set(AdaptKind::kUnlabeled, 3);
  const std::vector<float> f(3, 0.5f), v(6, 0.25f);
  set.add_item(f.data(), v.data(), 2, 0);
  for (int i = 0; i < 7; ++i) set.add_item(f.data(), v.data(), i == 3 ? 1 : 2, 0);
  Rng rng(1);
  auto split = split_adapt_set(set, 0.2f, &rng);
  REQUIRE_FALSE(split.ok());
  CHECK(split.status().message().find("at least 2 augmented views") != std::string::npos);
}

TEST_CASE("adaptation: space rows of an alternating groups set cover both groups") {
  AdaptSet set(AdaptKind::kGroups, 3);
  const std::vector<float> f(3, 0.5f);
  for (int i = 0; i < 300; ++i) set.add_item(f.data(), nullptr, 0, i % 2);
  std::vector<uint32_t> rows;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  space_rows(set, 256, &rows, &pairs);
  CHECK(rows.size() == 256);
  int odd = 0;
  for (uint32_t r : rows) odd += set.items()[r].group;  // row == item index here (no views)
  CHECK(odd > 64);
  CHECK(odd < 192);
}
