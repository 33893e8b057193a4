// The C API over models: status codes, the error message, NULL handling.
#include <doctest/doctest.h>

#include <string>

#include "backbone/backbone.h"
#include "edgeclr/edgeclr.h"
#include "edgeclr/edgeclr.hpp"
#include "support/bad_models.h"
#include "support/sample_models.h"
#include "support/temp_dir.h"

using namespace edgeclr::testing;

TEST_CASE("edgeclr_xnnpack_version names the generation the build detected") {
  const std::string label = edgeclr_xnnpack_version();
  const std::string api = std::to_string(edgeclr::xnnpack_info().api);
  CHECK((api == "2022" || api == "2024"));
  CHECK_MESSAGE(label.size() > api.size() + 6, label);
  CHECK_MESSAGE(label.find("(" + api + " API)") != std::string::npos, label);
}

TEST_CASE("edgeclr_model_open on a valid file gives the model's dimensions") {
  TempDir dir;
  const std::string path = dir.write("m.eclr", sample_fp32_model());
  edgeclr_model* model = nullptr;
  REQUIRE(edgeclr_model_open(path.c_str(), &model) == EDGECLR_OK);
  CHECK(edgeclr_model_input_height(model) == kSampleSide);
  CHECK(edgeclr_model_input_width(model) == kSampleSide);
  CHECK(edgeclr_model_input_channels(model) == 3);
  CHECK(edgeclr_model_feature_dim(model) == kSampleChannels);
  CHECK(edgeclr_model_embedding_dim(model) == kSampleEmbedding);
  CHECK(edgeclr_model_backbone_hash(model) != 0);
  edgeclr_model_close(model);
}

TEST_CASE("a bad model gives EDGECLR_INVALID_MODEL, NULL and a message naming the file") {
  const auto bad = semantic_bad_models().front();
  TempDir dir;
  const std::string path = dir.write("bad.eclr", bad.bytes);
  edgeclr_model* model = reinterpret_cast<edgeclr_model*>(0x1);
  CHECK(edgeclr_model_open(path.c_str(), &model) == EDGECLR_INVALID_MODEL);
  CHECK(model == nullptr);
  const std::string message = edgeclr_last_error();
  CHECK(message.find("failed to load model '" + path + "'") == 0);
  CHECK(message.find(bad.expect) != std::string::npos);
}

TEST_CASE("missing file, NULL arguments and newer versions map to their status codes") {
  edgeclr_model* model = nullptr;
  CHECK(edgeclr_model_open("/nonexistent.eclr", &model) == EDGECLR_IO_ERROR);
  CHECK(edgeclr_model_open(nullptr, &model) == EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("path is NULL") != std::string::npos);
  CHECK(edgeclr_model_open("x", nullptr) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_model_open_buffer(nullptr, 10, &model) == EDGECLR_INVALID_ARGUMENT);

  edgeclr::ModelBuilder newer = sample_fp32_builder();
  newer.staged().format_version = edgeclr_format_version() + 1;
  const auto bytes = newer.finish();
  CHECK(edgeclr_model_open_buffer(bytes.data(), bytes.size(), &model) == EDGECLR_UNSUPPORTED);
  CHECK(model == nullptr);
  edgeclr_model_close(nullptr);  // a no-op, must not crash
  CHECK(std::string(edgeclr_status_string(EDGECLR_INVALID_MODEL)) == "invalid model");
}

TEST_CASE("the C++ wrapper owns the handle and reports failure without throwing") {
  const auto bytes = sample_int8_model();
  edgeclr::api::Model model;
  REQUIRE(edgeclr::api::Model::open_buffer(bytes.data(), bytes.size(), &model) == EDGECLR_OK);
  CHECK(model.embedding_dim() == kSampleEmbedding);
  edgeclr::api::Model moved = std::move(model);
  CHECK(!model);
  CHECK(moved.feature_dim() == kSampleChannels);

  edgeclr::api::Model missing;
  CHECK(edgeclr::api::Model::open("/nonexistent.eclr", &missing) == EDGECLR_IO_ERROR);
  CHECK(!missing);
  CHECK(edgeclr::api::last_error().find("/nonexistent.eclr") != std::string::npos);
}
