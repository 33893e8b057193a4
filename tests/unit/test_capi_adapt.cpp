// The C API of on-device adaptation, end to end on the reference model and real
// Fashion-MNIST images: adapter, run, report, the written head loaded by an encoder.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dataset/image_set.h"
#include "capi_handles.h"
#include "edgeclr/edgeclr.h"
#include "support/temp_dir.h"

using edgeclr::testing::TempDir;

namespace {

const std::string kModel = std::string(EDGECLR_SOURCE_DIR) + "/models/fashion/fashion-int8.eclr";
const std::string kImages = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
const std::string kLabels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";

struct Handles : edgeclr::testing::CapiHandles {
  Handles() : CapiHandles(kModel) {}
};

// The first `per_class` training images of each class, as decoded gray images.
std::vector<std::pair<edgeclr::Image, int32_t>> gallery(size_t per_class) {
  auto set = edgeclr::dataset::ImageSet::open(kImages, 1, kLabels);
  REQUIRE(set.ok());
  std::vector<size_t> taken(10, 0);
  std::vector<std::pair<edgeclr::Image, int32_t>> out;
  for (size_t i = 0; i < set->size() && out.size() < 10 * per_class; ++i) {
    const int32_t label = set->label(i);
    if (taken[label]++ >= per_class) continue;
    auto image = set->image(i);
    REQUIRE(image.ok());
    out.emplace_back(std::move(image).value(), label);
  }
  return out;
}

edgeclr_image to_c(const edgeclr::Image& image) {
  return edgeclr_image{image.pixels.data(), image.width, image.height, image.width, EDGECLR_PIXEL_GRAY8};
}

bool exists(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f) std::fclose(f);
  return f != nullptr;
}

std::vector<float> embed(edgeclr_encoder* encoder, const edgeclr::Image& image) {
  std::vector<float> e(128);
  const edgeclr_image c = to_c(image);
  REQUIRE(edgeclr_encode_image(encoder, &c, e.data(), nullptr) == EDGECLR_OK);
  return e;
}

void count_epoch(void* user, uint32_t epoch, uint32_t, float train_loss, float validation_loss) {
  auto* seen = static_cast<std::vector<uint32_t>*>(user);
  seen->push_back(epoch);
  CHECK(train_loss == train_loss);  // finite, not NaN
  CHECK(validation_loss > 0.0f);
}

}  // namespace

TEST_CASE("C adaptation on groups: accepted head is written, loads into an encoder and changes embeddings") {
  Handles h;
  TempDir dir;
  const std::string head = dir.path() + "/user.eclh";
  std::vector<uint32_t> epochs_seen;
  edgeclr_adapt_options options;
  edgeclr_adapt_options_default(&options);
  options.on_epoch = count_epoch;
  options.user_data = &epochs_seen;
  edgeclr_adapter* adapter = nullptr;
  REQUIRE(edgeclr_adapter_create(h.encoder, EDGECLR_ADAPT_GROUPS, &options, &adapter) == EDGECLR_OK);
  const auto images = gallery(10);
  for (size_t i = 0; i < images.size(); ++i) {
    const edgeclr_image c = to_c(images[i].first);
    uint32_t item = 999;
    REQUIRE(edgeclr_adapter_add_image(adapter, &c, images[i].second, &item) == EDGECLR_OK);
    CHECK(item == i);
  }
  const std::vector<float> before = embed(h.encoder, images[0].first);

  edgeclr_adapt_report report;
  REQUIRE(edgeclr_adapter_run(adapter, nullptr, head.c_str(), &report) == EDGECLR_OK);
  INFO(report.reason);
  REQUIRE(report.accepted == 1);
  CHECK(std::string(report.reason).rfind("accepted", 0) == 0);
  CHECK(report.version == 1);
  CHECK(report.best_epoch >= 1);
  CHECK(report.epochs_run >= report.best_epoch);
  CHECK(epochs_seen.size() == report.epochs_run);
  CHECK(report.validation_after.loss < report.validation_before.loss);
  CHECK(report.validation_after.accuracy >= report.validation_before.accuracy);
  CHECK(report.space_after.effective_rank > 1.0f);
  CHECK(exists(head));

  REQUIRE(edgeclr_encoder_load_head(h.encoder, head.c_str()) == EDGECLR_OK);
  const std::vector<float> after = embed(h.encoder, images[0].first);
  double moved = 0;
  for (size_t i = 0; i < before.size(); ++i) moved += (after[i] - before[i]) * (after[i] - before[i]);
  CHECK(moved > 1e-4);

  // Again from the adapted head: the version counts up and the old file is kept.
  edgeclr_adapt_report second;
  REQUIRE(edgeclr_adapter_run(adapter, head.c_str(), head.c_str(), &second) == EDGECLR_OK);
  if (second.accepted) {
    CHECK(second.version == 2);
    CHECK(exists(head + ".prev"));
  } else {
    CHECK(std::string(second.reason).rfind("kept the current head", 0) == 0);
  }
  edgeclr_adapter_destroy(adapter);
}

TEST_CASE("C adaptation refuses bad arguments and too little data with a message") {
  Handles h;
  edgeclr_adapter* adapter = reinterpret_cast<edgeclr_adapter*>(0x1);
  CHECK(edgeclr_adapter_create(nullptr, EDGECLR_ADAPT_GROUPS, nullptr, &adapter) == EDGECLR_INVALID_ARGUMENT);
  CHECK(adapter == nullptr);
  CHECK(std::string(edgeclr_last_error()).find("encoder is NULL") != std::string::npos);

  edgeclr_adapt_options options;
  edgeclr_adapt_options_default(&options);
  options.views = 1;
  CHECK(edgeclr_adapter_create(h.encoder, EDGECLR_ADAPT_UNLABELED, &options, &adapter) == EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("at least 2 views") != std::string::npos);
  edgeclr_adapt_options_default(&options);
  options.holdout = 1.0f;
  CHECK(edgeclr_adapter_create(h.encoder, EDGECLR_ADAPT_GROUPS, &options, &adapter) == EDGECLR_INVALID_ARGUMENT);
  // As C code may pass it: an int that is no enumerator (a cast in C++ would be UB).
  edgeclr_adapt_data unknown;
  const int seven = 7;
  std::memcpy(&unknown, &seven, sizeof unknown);
  CHECK(edgeclr_adapter_create(h.encoder, unknown, nullptr, &adapter) == EDGECLR_INVALID_ARGUMENT);
  edgeclr_adapt_options_default(&options);
  std::memcpy(&options.loss, &seven, sizeof seven);
  CHECK(edgeclr_adapter_create(h.encoder, EDGECLR_ADAPT_GROUPS, &options, &adapter) == EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("unknown loss") != std::string::npos);

  REQUIRE(edgeclr_adapter_create(h.encoder, EDGECLR_ADAPT_PAIRS, nullptr, &adapter) == EDGECLR_OK);
  const auto images = gallery(1);
  uint32_t a = 0, b = 0;
  const edgeclr_image ca = to_c(images[0].first), cb = to_c(images[1].first);
  REQUIRE(edgeclr_adapter_add_image(adapter, &ca, 0, &a) == EDGECLR_OK);
  REQUIRE(edgeclr_adapter_add_image(adapter, &cb, 0, &b) == EDGECLR_OK);
  CHECK(edgeclr_adapter_add_pair(adapter, a, 42, nullptr, 0) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_adapter_add_pair(adapter, a, a, nullptr, 0) == EDGECLR_INVALID_ARGUMENT);
  REQUIRE(edgeclr_adapter_add_pair(adapter, a, b, nullptr, 0) == EDGECLR_OK);
  edgeclr_image bad = ca;
  bad.stride_bytes = 1;
  CHECK(edgeclr_adapter_add_image(adapter, &bad, 0, nullptr) == EDGECLR_INVALID_ARGUMENT);

  TempDir dir;
  const std::string head = dir.path() + "/h.eclh";
  edgeclr_adapt_report report;
  CHECK(edgeclr_adapter_run(adapter, nullptr, head.c_str(), &report) == EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("too little data") != std::string::npos);
  CHECK(!exists(head));
  edgeclr_adapter_destroy(adapter);
}

TEST_CASE("edgeclr_encoder_load_head refuses a corrupt head and leaves the encoder as it was") {
  Handles h;
  TempDir dir;
  const std::string path = dir.write("bad.eclh", std::vector<uint8_t>(64, 0x5a));
  const auto images = gallery(1);
  const std::vector<float> before = embed(h.encoder, images[0].first);
  CHECK(edgeclr_encoder_load_head(h.encoder, path.c_str()) == EDGECLR_INVALID_MODEL);
  CHECK(std::string(edgeclr_last_error()).find(path) != std::string::npos);
  CHECK(edgeclr_encoder_load_head(h.encoder, (dir.path() + "/missing.eclh").c_str()) == EDGECLR_IO_ERROR);
  CHECK(edgeclr_encoder_load_head(nullptr, path.c_str()) == EDGECLR_INVALID_ARGUMENT);
  CHECK(embed(h.encoder, images[0].first) == before);
}
