// The C API of galleries on the reference model and real Fashion-MNIST images: create,
// add (pixels, files, features), search (by embedding and by image), keys, reopen,
// re-projection to a head checkpoint, and the errors a C caller can make.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "adapt/head_checkpoint.h"
#include "dataset/image_set.h"
#include "capi_handles.h"
#include "edgeclr/edgeclr.h"
#include "model/model.h"
#include "support/temp_dir.h"

using edgeclr::testing::TempDir;

namespace {

const std::string kModel = std::string(EDGECLR_SOURCE_DIR) + "/models/fashion/fashion-int8.eclr";
const std::string kImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
constexpr size_t kKeyStride = 64;

struct Handles : edgeclr::testing::CapiHandles {
  Handles() : CapiHandles(kModel) {}
};

std::vector<edgeclr::Image> test_images(size_t n) {
  auto set = edgeclr::dataset::ImageSet::open(kImages, 1);
  REQUIRE(set.ok());
  std::vector<edgeclr::Image> out;
  for (size_t i = 0; i < n; ++i) {
    auto image = set->image(i);
    REQUIRE(image.ok());
    out.push_back(std::move(image).value());
  }
  return out;
}

edgeclr_image as_c(const edgeclr::Image& image) {
  const edgeclr::PixelView v = image.view();
  return edgeclr_image{v.data, v.width, v.height, v.stride_bytes, EDGECLR_PIXEL_GRAY8};
}

}  // namespace

TEST_CASE("C API: a gallery of real images finds each image itself, reopens, and re-projects") {
  Handles h;
  TempDir dir;
  const std::string path = dir.path() + "/g.db";
  const std::vector<edgeclr::Image> images = test_images(30);
  edgeclr_gallery* g = nullptr;
  REQUIRE(edgeclr_gallery_open(h.encoder, path.c_str(), 1, 0, &g) == EDGECLR_OK);
  for (size_t i = 0; i < images.size(); ++i) {
    const edgeclr_image c = as_c(images[i]);
    REQUIRE(edgeclr_gallery_add_image(g, ("img" + std::to_string(i)).c_str(), &c) == EDGECLR_OK);
  }
  std::vector<float> feature(edgeclr_model_feature_dim(h.model));
  const edgeclr_image first = as_c(images[0]);
  REQUIRE(edgeclr_encode_image(h.encoder, &first, nullptr, feature.data()) == EDGECLR_OK);
  REQUIRE(edgeclr_gallery_add_feature(g, "by-feature", feature.data()) == EDGECLR_OK);
  CHECK(edgeclr_gallery_count(g) == 31);

  float scores[5];
  char keys[5 * kKeyStride];
  uint32_t count = 0;
  const edgeclr_image query = as_c(images[7]);
  REQUIRE(edgeclr_gallery_search_image(g, &query, 5, nullptr, scores, keys, kKeyStride, &count) == EDGECLR_OK);
  REQUIRE(count == 5);
  CHECK(std::string(keys) == "img7");
  CHECK(scores[0] == doctest::Approx(1.0f).epsilon(1e-5));
  for (uint32_t i = 1; i < count; ++i) CHECK(scores[i] <= scores[i - 1]);
  REQUIRE(edgeclr_gallery_search_image(g, &first, 2, "by-", scores, keys, kKeyStride, &count) == EDGECLR_OK);
  CHECK(count == 1);
  CHECK(std::string(keys) == "by-feature");
  char key[kKeyStride];
  REQUIRE(edgeclr_gallery_key(g, 30, key, sizeof key) == EDGECLR_OK);
  CHECK(std::string(key) == "by-feature");
  // With int8 and HNSW indexes kept: the same hits and fp32 scores; a prefix still filters.
  float exact_scores[5];
  char exact_keys[5 * kKeyStride];
  REQUIRE(edgeclr_gallery_search_image(g, &query, 5, nullptr, exact_scores, exact_keys, kKeyStride, &count) == EDGECLR_OK);
  REQUIRE(edgeclr_gallery_set_index(g, EDGECLR_GALLERY_INDEX_INT8 | EDGECLR_GALLERY_INDEX_HNSW, 2) == EDGECLR_OK);
  for (const char* prefix : {"", "img1"}) {
    REQUIRE(edgeclr_gallery_search_image(g, &query, 5, prefix, scores, keys, kKeyStride, &count) == EDGECLR_OK);
    REQUIRE(count == 5);
    for (uint32_t i = 0; i < count; ++i) {
      if (*prefix) {
        CHECK(std::string(keys + i * kKeyStride).rfind("img1", 0) == 0);
      } else {
        CHECK(std::string(keys + i * kKeyStride) == std::string(exact_keys + i * kKeyStride));
        CHECK(scores[i] == exact_scores[i]);
      }
    }
  }
  CHECK(edgeclr_gallery_set_index(g, 4, 1) == EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("unknown flags") != std::string::npos);
  CHECK(edgeclr_gallery_set_index(nullptr, 0, 1) == EDGECLR_INVALID_ARGUMENT);
  REQUIRE(edgeclr_gallery_remove(g, "by-feature") == EDGECLR_OK);  // the indexes follow the write
  REQUIRE(edgeclr_gallery_search_image(g, &first, 2, "by-", scores, keys, kKeyStride, &count) == EDGECLR_OK);
  CHECK(count == 0);
  REQUIRE(edgeclr_gallery_search_image(g, &first, 1, nullptr, scores, keys, kKeyStride, &count) == EDGECLR_OK);
  CHECK(std::string(keys) == "img0");
  edgeclr_gallery_close(g);

  // Reopened: the items are there. A head checkpoint (version 4) moves it to a new space.
  REQUIRE(edgeclr_gallery_open(h.encoder, path.c_str(), 0, 0, &g) == EDGECLR_OK);
  CHECK(edgeclr_gallery_count(g) == 30);
  auto model = edgeclr::Model::open_file(kModel);
  REQUIRE(model.ok());
  edgeclr::ProjectionHead head = edgeclr::ProjectionHead::from_schema(model.value()->head(), 256);
  for (float& w : head.mutable_layers()[0].weight) w = -w;
  edgeclr::HeadCheckpointInfo info{model.value()->backbone_hash(), 4, {}};
  const std::string head_path = dir.path() + "/user.eclh";
  REQUIRE(edgeclr::save_head_checkpoint(head_path, head, info).ok());
  REQUIRE(edgeclr_gallery_reproject(g, head_path.c_str()) == EDGECLR_OK);
  REQUIRE(edgeclr_gallery_search_image(g, &query, 1, "", scores, keys, kKeyStride, &count) == EDGECLR_OK);
  CHECK(std::string(keys) == "img7");  // the query is embedded with the gallery's new head
  CHECK(scores[0] == doctest::Approx(1.0f).epsilon(1e-5));
  // Queries by embedding must be in the new space: the encoder's own head is the old one,
  // so its embedding of the same image scores lower than the gallery's own does.
  std::vector<float> old_space(edgeclr_gallery_embedding_dim(g));
  REQUIRE(edgeclr_encode_image(h.encoder, &query, old_space.data(), nullptr) == EDGECLR_OK);
  REQUIRE(edgeclr_gallery_search(g, old_space.data(), 1, "", scores, keys, kKeyStride, &count) == EDGECLR_OK);
  CHECK(scores[0] < 0.99f);
  REQUIRE(edgeclr_encoder_load_head(h.encoder, head_path.c_str()) == EDGECLR_OK);
  REQUIRE(edgeclr_encode_image(h.encoder, &query, old_space.data(), nullptr) == EDGECLR_OK);
  REQUIRE(edgeclr_gallery_search(g, old_space.data(), 1, "", scores, keys, kKeyStride, &count) == EDGECLR_OK);
  CHECK(std::string(keys) == "img7");
  CHECK(scores[0] == doctest::Approx(1.0f).epsilon(1e-5));
  edgeclr_gallery_close(g);
  // Now it follows version 4: opening with version 0 is refused, with 4 accepted.
  CHECK(edgeclr_gallery_open(h.encoder, path.c_str(), 0, 0, &g) == EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("follows head version 4") != std::string::npos);
  CHECK(g == nullptr);
  REQUIRE(edgeclr_gallery_open(h.encoder, path.c_str(), 0, 4, &g) == EDGECLR_OK);
  edgeclr_gallery_close(g);
}

TEST_CASE("C API: gallery errors are statuses with a message, never crashes") {
  Handles h;
  TempDir dir;
  const std::string path = dir.path() + "/g.db";
  edgeclr_gallery* g = nullptr;
  CHECK(edgeclr_gallery_open(nullptr, path.c_str(), 1, 0, &g) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_gallery_open(h.encoder, path.c_str(), 1, 0, nullptr) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_gallery_open(h.encoder, (dir.path() + "/none.db").c_str(), 0, 0, &g) == EDGECLR_IO_ERROR);
  REQUIRE(edgeclr_gallery_open(h.encoder, path.c_str(), 1, 0, &g) == EDGECLR_OK);
  std::vector<float> feature(256, 0.5f);
  REQUIRE(edgeclr_gallery_add_feature(g, "a-rather-long-key-that-does-not-fit-in-eight-bytes", feature.data()) == EDGECLR_OK);
  CHECK(edgeclr_gallery_add_feature(g, "a-rather-long-key-that-does-not-fit-in-eight-bytes", feature.data()) ==
        EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("already in the gallery") != std::string::npos);
  CHECK(edgeclr_gallery_add_feature(g, "", feature.data()) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_gallery_add_file(g, "x", (dir.path() + "/missing.png").c_str()) == EDGECLR_IO_ERROR);
  CHECK(edgeclr_gallery_remove(g, "nope") == EDGECLR_INVALID_ARGUMENT);
  float score;
  char small[8];
  uint32_t count = 99;
  std::vector<float> query(128, 0.1f);
  CHECK(edgeclr_gallery_search(g, query.data(), 1, nullptr, &score, small, sizeof small, &count) ==
        EDGECLR_INVALID_ARGUMENT);  // the key does not fit
  CHECK(count == 0);
  CHECK(edgeclr_gallery_search(g, nullptr, 1, nullptr, &score, small, sizeof small, &count) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_gallery_key(g, 5, small, sizeof small) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_gallery_reproject(g, (dir.path() + "/missing.eclh").c_str()) != EDGECLR_OK);
  CHECK(edgeclr_gallery_count(nullptr) == 0);
  edgeclr_gallery_close(g);
  edgeclr_gallery_close(nullptr);
  CHECK(edgeclr_gallery_open(h.encoder, path.c_str(), 1, 0, &g) == EDGECLR_INVALID_ARGUMENT);  // exists
}
