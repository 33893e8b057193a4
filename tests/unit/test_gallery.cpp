// Galleries: search against a brute-force reference on real embeddings, persistence,
// removal, key prefixes, re-projection from stored features, half-float storage, and the
// refusals (duplicate keys, another backbone, another head, files that are not galleries).
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <thread>

#include "dataset/image_set.h"
#include "encoder/encoder.h"
#include "gallery/gallery.h"
#include "gallery/half.h"
#include "support/temp_dir.h"
#include "unit/gallery_support.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

std::vector<std::string> keys_for(size_t first, size_t count, const std::string& prefix = "item/") {
  std::vector<std::string> keys;
  for (size_t i = first; i < first + count; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

// The embedding a gallery stores: the head's output for the feature rounded to half floats.
std::vector<float> stored_embedding(const ProjectionHead& head, const float* feature) {
  std::vector<float> half(head.feature_dim());
  for (size_t j = 0; j < half.size(); ++j) half[j] = half_to_float(float_to_half(feature[j]));
  return embed(head, half.data());
}

// Brute force: every (key, cosine) sorted best first, ties by key order of insertion.
std::vector<std::pair<std::string, double>> brute_force(const std::vector<std::vector<float>>& embeddings,
                                                        const std::vector<std::string>& keys, const float* query) {
  std::vector<std::pair<std::string, double>> all;
  const size_t d = embeddings[0].size();
  double qn = 0;
  for (size_t j = 0; j < d; ++j) qn += double{query[j]} * query[j];
  for (size_t i = 0; i < embeddings.size(); ++i) {
    double dot = 0, en = 0;
    for (size_t j = 0; j < d; ++j) {
      dot += double{embeddings[i][j]} * query[j];
      en += double{embeddings[i][j]} * embeddings[i][j];
    }
    all.emplace_back(keys[i], dot / std::sqrt(en * qn));
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return all;
}

// Runs `sql` on the SQLite file at `path` behind the gallery's back, as a corrupt or
// hostile file (or another application) would have written it.
void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("gallery search returns the brute-force top-k of real embeddings, and survives reopening") {
  const RealFeatures real(300);
  const ProjectionHead head = ProjectionHead::from_schema(real.model->head(), real.model->feature_dim());
  std::vector<std::vector<float>> embeddings;
  for (size_t i = 0; i < 250; ++i) embeddings.push_back(stored_embedding(head, real.feature(i)));
  const std::vector<std::string> keys = keys_for(0, 250);
  TempDir dir;
  const std::string path = dir.path() + "/g.db";
  {
    auto g = Gallery::create(path, *real.model, real.own_head(), "fashion-fp32.eclr");
    REQUIRE_MESSAGE(g.ok(), g.status().message());
    REQUIRE(g.value()->add_features(std::vector<std::string>(keys.begin(), keys.begin() + 100), real.feature(0)).ok());
    REQUIRE(g.value()->add_features(std::vector<std::string>(keys.begin() + 100, keys.end()), real.feature(100)).ok());
    CHECK(g.value()->count() == 250);
  }
  auto g = Gallery::open(path, *real.model, real.own_head());
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  REQUIRE(g.value()->count() == 250);
  std::vector<GalleryMatch> matches;
  size_t checked = 0;
  for (size_t q = 250; q < 300; ++q) {  // queries not in the gallery
    const std::vector<float> query = embed(head, real.feature(q));
    REQUIRE(g.value()->search(query.data(), 10, "", &matches).ok());
    const auto want = brute_force(embeddings, keys, query.data());
    REQUIRE(matches.size() == 10);
    for (size_t i = 0; i < 10; ++i) {
      // Equal scores may come in either order; the scores themselves must agree.
      CHECK(matches[i].score == doctest::Approx(want[i].second).epsilon(1e-5));
      if (i + 1 < 10 && want[i].second - want[i + 1].second > 1e-5 && (i == 0 || want[i - 1].second - want[i].second > 1e-5)) {
        CHECK(matches[i].key == want[i].first);
        ++checked;
      }
    }
  }
  CHECK(checked > 400);  // nearly every rank had a distinct score
}

TEST_CASE("gallery: removing items, key prefixes, and k larger than the gallery") {
  const RealFeatures real(40);
  TempDir dir;
  auto g = Gallery::create(dir.path() + "/g.db", *real.model, real.own_head(), "");
  REQUIRE(g.ok());
  std::vector<std::string> keys = keys_for(0, 20, "shoes/");
  const std::vector<std::string> more = keys_for(20, 20, "bags/");
  keys.insert(keys.end(), more.begin(), more.end());
  REQUIRE(g.value()->add_features(keys, real.feature(0)).ok());
  const std::vector<float> query = embed(real.own_head().head, real.feature(3));
  std::vector<GalleryMatch> matches;
  REQUIRE(g.value()->search(query.data(), 1, "", &matches).ok());
  CHECK(matches[0].key == "shoes/3");
  CHECK(matches[0].score == doctest::Approx(1.0).epsilon(1e-5));
  REQUIRE(g.value()->search(query.data(), 100, "bags/", &matches).ok());
  CHECK(matches.size() == 20);
  for (const auto& m : matches) CHECK(m.key.rfind("bags/", 0) == 0);
  REQUIRE(g.value()->remove({"shoes/3", "shoes/0"}).ok());
  CHECK(g.value()->count() == 38);
  REQUIRE(g.value()->search(query.data(), 38, "", &matches).ok());
  CHECK(matches.size() == 38);
  for (const auto& m : matches) CHECK((m.key != "shoes/3" && m.key != "shoes/0"));
  // The moved rows still answer for their own keys.
  const std::vector<float> moved = embed(real.own_head().head, real.feature(39));
  REQUIRE(g.value()->search(moved.data(), 1, "", &matches).ok());
  CHECK(matches[0].key == "bags/39");
  auto reopened = Gallery::open(dir.path() + "/g.db", *real.model, real.own_head());
  REQUIRE(reopened.ok());
  CHECK(reopened.value()->count() == 38);
  CHECK_FALSE(g.value()->remove({"shoes/3"}).ok());  // gone already
}

TEST_CASE("gallery: a batch with a duplicate key adds nothing, and says which key") {
  const RealFeatures real(4);
  TempDir dir;
  auto g = Gallery::create(dir.path() + "/g.db", *real.model, real.own_head(), "");
  REQUIRE(g.ok());
  REQUIRE(g.value()->add_features({"a"}, real.feature(0)).ok());
  const Status twice = g.value()->add_features({"b", "a"}, real.feature(1));
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.message().find("the key 'a' is already in the gallery") != std::string::npos);
  CHECK(g.value()->count() == 1);
  CHECK_FALSE(g.value()->add_features({"c", "c"}, real.feature(1)).ok());
  CHECK_FALSE(g.value()->add_features({""}, real.feature(1)).ok());
  std::vector<float> bad(real.features.begin(), real.features.begin() + real.model->feature_dim());
  bad[5] = std::nanf("");
  CHECK_FALSE(g.value()->add_features({"nan"}, bad.data()).ok());
  CHECK(g.value()->count() == 1);
}

TEST_CASE("reproject: embeddings follow a new head from the stored half-float features") {
  const RealFeatures real(60);
  TempDir dir;
  const std::string path = dir.path() + "/g.db";
  auto g = Gallery::create(path, *real.model, real.own_head(), "");
  REQUIRE(g.ok());
  REQUIRE(g.value()->add_features(keys_for(0, 60), real.feature(0)).ok());
  GalleryHead adapted = real.own_head();
  for (float& w : adapted.head.mutable_layers()[0].weight) w *= -0.5f;  // another space
  adapted.head.mutable_layers()[0].weight[7] += 0.3f;
  adapted.version = 3;
  adapted.source = "user.eclh";
  REQUIRE(g.value()->reproject(adapted).ok());
  CHECK(g.value()->head_version() == 3);
  double worst = 1.0;
  std::vector<float> feature, stored;
  for (size_t i = 0; i < 60; ++i) {
    const std::vector<float> fresh = embed(adapted.head, real.feature(i));  // from fp32 features
    REQUIRE(g.value()->item("item/" + std::to_string(i), &feature, &stored).ok());
    double dot = 0, a = 0, b = 0;
    for (size_t j = 0; j < fresh.size(); ++j) {
      dot += double{fresh[j]} * stored[j];
      a += double{fresh[j]} * fresh[j];
      b += double{stored[j]} * stored[j];
    }
    worst = std::min(worst, dot / std::sqrt(a * b));
    for (size_t j = 0; j < feature.size(); ++j) {  // half floats: relative error <= 2^-11
      CHECK(std::abs(feature[j] - real.feature(i)[j]) <= std::abs(real.feature(i)[j]) * 4.9e-4f + 6e-8f);
    }
  }
  INFO("worst cosine, re-projected vs from fp32 features: ", worst);
  CHECK(worst > 0.99999);
  std::vector<GalleryMatch> matches;
  const std::vector<float> query = embed(adapted.head, real.feature(17));
  REQUIRE(g.value()->search(query.data(), 1, "", &matches).ok());
  CHECK(matches[0].key == "item/17");
  // The file follows the new head: it opens with it, and not with the old one.
  CHECK(Gallery::open(path, *real.model, adapted).ok());
  auto old = Gallery::open(path, *real.model, real.own_head());
  REQUIRE_FALSE(old.ok());
  CHECK(old.status().message().find("follows head version 3 (user.eclh)") != std::string::npos);
}

TEST_CASE("a file that is not a gallery, another application's SQLite file, another backbone: refused") {
  const RealFeatures real(2);
  TempDir dir;
  const std::string junk = dir.path() + "/junk.db";
  std::ofstream(junk) << std::string(4096, 'x');
  auto a = Gallery::open(junk, *real.model, real.own_head());
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().message().find("gallery '" + junk + "': not a gallery") == 0);

  const std::string other = dir.path() + "/other.db";
  exec_sql(other, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
  auto b = Gallery::open(other, *real.model, real.own_head());
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().message().find("an SQLite file of another application") != std::string::npos);

  CHECK(Gallery::open(dir.path() + "/missing.db", *real.model, real.own_head()).status().code() == StatusCode::kIoError);

  const std::string path = dir.path() + "/g.db";
  REQUIRE(Gallery::create(path, *real.model, real.own_head(), "").ok());
  CHECK_FALSE(Gallery::create(path, *real.model, real.own_head(), "").ok());  // exists
  auto int8 = Model::open_file(kSource + "/models/fashion/fashion-int8.eclr");  // another backbone hash
  REQUIRE(int8.ok());
  auto c = Gallery::open(path, *int8.value(), GalleryHead{ProjectionHead::from_schema(int8.value()->head(), 256), 0, ""});
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("belongs to backbone") != std::string::npos);
}

TEST_CASE("a truncated gallery file is refused with one line") {
  const RealFeatures real(50);
  TempDir dir;
  const std::string path = dir.path() + "/g.db";
  {
    auto g = Gallery::create(path, *real.model, real.own_head(), "");
    REQUIRE(g.ok());
    REQUIRE(g.value()->add_features(keys_for(0, 50), real.feature(0)).ok());
  }  // closed: SQLite checkpoints the WAL into the file
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(bytes.size() > 8192);
  const std::string cut = dir.path() + "/cut.db";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto g = Gallery::open(cut, *real.model, real.own_head());
  REQUIRE_FALSE(g.ok());
  CHECK(g.status().message().find("gallery '" + cut + "'") == 0);
  CHECK(g.status().message().find('\n') == std::string::npos);
}

TEST_CASE("half floats round to nearest even and keep the range features use") {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f}) {
    CHECK(half_to_float(float_to_half(v)) == v);  // exactly representable
  }
  // Near 1 a half step is 1/1024: half a step up is a tie, to the even 1.0; a step and a
  // half is a tie between 1 + 1/1024 (odd) and 1 + 2/1024 (even); 0.75 of a step rounds up.
  CHECK(half_to_float(float_to_half(1.0f + 2.0f / 4096)) == 1.0f);
  CHECK(half_to_float(float_to_half(1.0f + 6.0f / 4096)) == 1.0f + 2.0f / 1024);
  CHECK(half_to_float(float_to_half(1.0f + 3.0f / 4096)) == 1.0f + 1.0f / 1024);
  CHECK(std::isinf(half_to_float(float_to_half(70000.0f))));
  for (int i = 1; i < 2000; ++i) {
    const float v = std::sin(static_cast<float>(i)) * static_cast<float>(i);
    CHECK(std::abs(half_to_float(float_to_half(v)) - v) <= std::abs(v) * (1.0f / 2048) + 3e-8f);
  }
}

TEST_CASE("gallery: one writer and four readers at once (exact, int8 and HNSW searches)") {
  const RealFeatures real(200);
  TempDir dir;
  auto g = Gallery::create(dir.path() + "/g.db", *real.model, real.own_head(), "");
  REQUIRE(g.ok());
  REQUIRE(g.value()->add_features(keys_for(0, 50), real.feature(0)).ok());
  Gallery& gallery = *g.value();
  IndexOptions both;
  both.int8 = true;
  both.hnsw = true;
  REQUIRE(gallery.set_index(both));
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  const std::vector<float> query = embed(real.own_head().head, real.feature(0));
  const SearchMethod methods[4] = {SearchMethod::kExact, SearchMethod::kInt8, SearchMethod::kHnsw, SearchMethod::kBest};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      std::vector<GalleryMatch> matches;
      while (!done) {
        if (!gallery.search(query.data(), 5, "", &matches, methods[t]).ok() || matches.empty() ||
            matches[0].key != "item/0") {
          ++bad;
        }
        if (gallery.count() < 50) ++bad;
      }
    });
  }
  for (size_t first = 50; first < 200; first += 10) {
    REQUIRE(gallery.add_features(keys_for(first, 10), real.feature(first)).ok());
  }
  REQUIRE(gallery.remove(keys_for(100, 10)).ok());
  done = true;
  for (auto& t : readers) t.join();
  CHECK(bad == 0);
  CHECK(gallery.count() == 190);
}

TEST_CASE("reproject after removals: every item still finds itself (rows are no longer in id order)") {
  const RealFeatures real(30);
  TempDir dir;
  auto g = Gallery::create(dir.path() + "/g.db", *real.model, real.own_head(), "");
  REQUIRE(g.ok());
  REQUIRE(g.value()->add_features(keys_for(0, 30), real.feature(0)).ok());
  REQUIRE(g.value()->remove({"item/3", "item/11", "item/0"}).ok());  // the last rows move into their places
  GalleryHead adapted = real.own_head();
  for (float& w : adapted.head.mutable_layers()[0].weight) w = -w;
  adapted.version = 2;
  REQUIRE(g.value()->reproject(adapted).ok());
  std::vector<GalleryMatch> matches;
  for (size_t i = 0; i < 30; ++i) {
    if (i == 0 || i == 3 || i == 11) continue;
    const std::string key = "item/" + std::to_string(i);
    std::vector<float> embedding;
    REQUIRE(g.value()->embed_feature(real.feature(i), &embedding).ok());
    REQUIRE(g.value()->search(embedding.data(), 1, "", &matches).ok());
    CHECK_MESSAGE(matches[0].key == key, key);
  }
}

TEST_CASE("a crafted gallery: feature_dim that is not the model's, or a malformed number, is refused") {
  const RealFeatures real(2);
  TempDir dir;
  const std::string path = dir.path() + "/g.db";
  REQUIRE(Gallery::create(path, *real.model, real.own_head(), "").ok());
  for (const char* value : {"4", "-1", " 256", "99999999999999999999999", ""}) {
    exec_sql(path, std::string("UPDATE meta SET value = '") + value + "' WHERE key = 'feature_dim'");
    auto g = Gallery::open(path, *real.model, real.own_head());
    INFO("feature_dim '", value, "'");
    REQUIRE_FALSE(g.ok());
    CHECK(g.status().code() == StatusCode::kInvalidModel);
  }
}

TEST_CASE("a write after another connection changed the gallery is refused, not merged into a stale index") {
  const RealFeatures real(4);
  TempDir dir;
  const std::string path = dir.path() + "/g.db";
  auto first = Gallery::create(path, *real.model, real.own_head(), "");
  REQUIRE(first.ok());
  REQUIRE(first.value()->add_features({"a"}, real.feature(0)).ok());
  auto second = Gallery::open(path, *real.model, real.own_head());
  REQUIRE(second.ok());
  REQUIRE(second.value()->add_features({"b"}, real.feature(1)).ok());  // another connection writes
  const Status stale = first.value()->add_features({"c"}, real.feature(2));
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.message().find("was changed by another connection") != std::string::npos);
  CHECK_FALSE(first.value()->remove({"a"}).ok());
  auto reopened = Gallery::open(path, *real.model, real.own_head());
  REQUIRE(reopened.ok());
  CHECK(reopened.value()->count() == 2);
  CHECK(reopened.value()->add_features({"c"}, real.feature(2)).ok());
}

TEST_CASE("gallery: a stored blob past kMaxStoredVectorBytes is refused by the bound; at it, by the model's feature size") {
  const RealFeatures real(1);
  TempDir dir;
  const std::string path = dir.path() + "/g.db";
  {
    auto g = Gallery::create(path, *real.model, real.own_head(), "");
    REQUIRE(g.ok());
    REQUIRE((*g)->add_features({"a"}, real.features.data()).ok());
  }
  const auto set_blob = [&](size_t bytes) {
    exec_sql(path, "UPDATE items SET feature = zeroblob(" + std::to_string(bytes) + ")");
  };
  set_blob(kMaxStoredVectorBytes);  // passes the bound, then refused for its size against the model
  auto at = Gallery::open(path, *real.model, real.own_head());
  REQUIRE_FALSE(at.ok());
  CHECK(at.status().message().find("has 131072 feature and") != std::string::npos);
  set_blob(kMaxStoredVectorBytes + 2);
  auto past = Gallery::open(path, *real.model, real.own_head());
  REQUIRE_FALSE(past.ok());
  CHECK(past.status().message().find("a blob of 262146 or 512 bytes (odd, or over 262144)") != std::string::npos);
}
