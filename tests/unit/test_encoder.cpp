// The encoder end to end on the sample models: preprocessing + XNNPACK backbone + head.
// Per-operator correctness against reference kernels lives in test_backbone_ops.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "edgeclr/edgeclr.h"
#include "edgeclr/edgeclr.hpp"
#include "encoder/encoder.h"
#include "support/opened_model.h"
#include "support/sample_models.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

using Fixture = OpenedModel;

std::unique_ptr<Encoder> make_encoder(const Model& model, uint32_t threads, uint32_t batch) {
  auto encoder = Encoder::create(model, EncoderOptions{threads, batch});
  REQUIRE_MESSAGE(encoder.ok(), encoder.status().message());
  return std::move(encoder).value();
}

// RGB images of odd sizes with random pixels; the encoder resizes them.
std::vector<std::vector<uint8_t>> random_images(uint32_t count, uint32_t w, uint32_t h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint8_t>> images(count, std::vector<uint8_t>(size_t{w} * h * 3));
  for (auto& image : images) {
    for (uint8_t& p : image) p = static_cast<uint8_t>(rng());
  }
  return images;
}

PixelView view_of(const std::vector<uint8_t>& pixels, uint32_t w, uint32_t h) {
  return PixelView{pixels.data(), w, h, size_t{w} * 3, PixelFormat::kRGB};
}

}  // namespace

TEST_CASE("encoding the same pixels twice gives identical vectors") {
  for (auto bytes : {sample_fp32_model(), sample_int8_model()}) {
    Fixture f(std::move(bytes));
    auto encoder = make_encoder(*f.model, 1, 1);
    const auto images = random_images(1, 23, 19, 3);
    const PixelView view = view_of(images[0], 23, 19);
    std::vector<float> a(kSampleEmbedding), b(kSampleEmbedding);
    REQUIRE(encoder->encode(&view, 1, nullptr, a.data()).ok());
    REQUIRE(encoder->encode(&view, 1, nullptr, b.data()).ok());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("the embedding is the head applied to the feature, L2-normalised") {
  Fixture f(sample_fp32_model());
  auto encoder = make_encoder(*f.model, 1, 1);
  const auto images = random_images(1, 16, 16, 5);
  const PixelView view = view_of(images[0], 16, 16);
  std::vector<float> feature(kSampleChannels), embedding(kSampleEmbedding);
  REQUIRE(encoder->encode(&view, 1, feature.data(), embedding.data()).ok());

  // The head in double, straight from the model file: layer 0 relu, layer 1 linear.
  const auto& layers = *f.model->head().layers();
  std::vector<double> x(feature.begin(), feature.end());
  for (uint32_t l = 0; l < layers.size(); ++l) {
    const auto& layer = *layers.Get(l);
    std::vector<double> y(layer.out_dim());
    for (uint32_t o = 0; o < layer.out_dim(); ++o) {
      double acc = layer.bias()->Get(o);
      for (uint32_t i = 0; i < layer.in_dim(); ++i) acc += double{layer.weight()->Get(o * layer.in_dim() + i)} * x[i];
      y[o] = l == 0 ? std::max(acc, 0.0) : acc;
    }
    x = y;
  }
  double norm = 0;
  for (double v : x) norm += v * v;
  norm = std::sqrt(norm);
  // fp32 vs double over at most 16-term dot products of O(1) values: a few hundred ulps
  // of 1 is far above the rounding error and far below a wrong layer.
  const double tolerance = 256 * std::numeric_limits<float>::epsilon();
  double unit = 0;
  for (uint32_t i = 0; i < kSampleEmbedding; ++i) {
    CHECK(std::abs(embedding[i] - x[i] / norm) <= tolerance);
    unit += double{embedding[i]} * embedding[i];
  }
  CHECK(std::abs(unit - 1.0) <= tolerance);
}

TEST_CASE("a batch gives what single images give; a partial batch too") {
  for (auto bytes : {sample_fp32_model(), sample_int8_model()}) {
    Fixture f(std::move(bytes));
    const bool int8 = f.model->tensors()[1].dtype == schema::DType_INT8;
    auto single = make_encoder(*f.model, 1, 1);
    auto batched = make_encoder(*f.model, 1, 3);
    const auto images = random_images(3, 17, 21, 9);
    std::vector<PixelView> views;
    for (const auto& image : images) views.push_back(view_of(image, 17, 21));
    std::vector<float> together(3 * kSampleChannels), partial(2 * kSampleChannels), alone(kSampleChannels);
    REQUIRE(batched->encode(views.data(), 3, together.data(), nullptr).ok());
    REQUIRE(batched->encode(views.data(), 2, partial.data(), nullptr).ok());
    for (uint32_t i = 0; i < 3; ++i) {
      REQUIRE(single->encode(&views[i], 1, alone.data(), nullptr).ok());
      for (uint32_t d = 0; d < kSampleChannels; ++d) {
        const float t = together[i * kSampleChannels + d];
        // int8 accumulates exactly in integers: bit-identical. fp32 may sum in another
        // order for another batch: a few ulps of values of magnitude ~1.
        if (int8) {
          CHECK(t == alone[d]);
        } else {
          CHECK(std::abs(t - alone[d]) <= 64 * std::numeric_limits<float>::epsilon() * (1 + std::abs(alone[d])));
        }
        if (i < 2) CHECK(partial[i * kSampleChannels + d] == t);
      }
    }
  }
}

TEST_CASE("one thread and two threads agree") {
  for (auto bytes : {sample_fp32_model(), sample_int8_model()}) {
    Fixture f(std::move(bytes));
    auto one = make_encoder(*f.model, 1, 2);
    auto two = make_encoder(*f.model, 2, 2);
    CHECK(two->threads() == 2);
    const auto images = random_images(2, 31, 12, 11);
    const PixelView views[2] = {view_of(images[0], 31, 12), view_of(images[1], 31, 12)};
    std::vector<float> a(2 * kSampleEmbedding), b(2 * kSampleEmbedding);
    REQUIRE(one->encode(views, 2, nullptr, a.data()).ok());
    REQUIRE(two->encode(views, 2, nullptr, b.data()).ok());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(std::abs(a[i] - b[i]) <= 64 * std::numeric_limits<float>::epsilon());
    }
  }
}

TEST_CASE("encode refuses more images than the batch and bad options") {
  Fixture f(sample_fp32_model());
  auto encoder = make_encoder(*f.model, 1, 2);
  const auto images = random_images(3, 8, 8, 1);
  const PixelView views[3] = {view_of(images[0], 8, 8), view_of(images[1], 8, 8), view_of(images[2], 8, 8)};
  std::vector<float> out(3 * kSampleEmbedding);
  const Status status = encoder->encode(views, 3, nullptr, out.data());
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(status.message().find("3 images for an encoder of batch 2") != std::string::npos);
  CHECK(Encoder::create(*f.model, EncoderOptions{0, 1}).status().code() == StatusCode::kInvalidArgument);
  CHECK(Encoder::create(*f.model, EncoderOptions{1, 0}).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("C API: encoder lifecycle, encode_image, batch and errors") {
  TempDir dir;
  const std::string path = dir.write("m.eclr", sample_int8_model());
  edgeclr_model* model = nullptr;
  REQUIRE(edgeclr_model_open(path.c_str(), &model) == EDGECLR_OK);
  edgeclr_encoder* encoder = nullptr;
  CHECK(edgeclr_encoder_create(nullptr, 1, 1, &encoder) == EDGECLR_INVALID_ARGUMENT);
  REQUIRE(edgeclr_encoder_create(model, 1, 2, &encoder) == EDGECLR_OK);
  CHECK(edgeclr_encoder_batch(encoder) == 2);

  const auto images = random_images(2, 16, 16, 2);
  edgeclr_image c_images[2];
  for (int i = 0; i < 2; ++i) c_images[i] = edgeclr_image{images[i].data(), 16, 16, 48, EDGECLR_PIXEL_RGB8};
  std::vector<float> one(kSampleEmbedding), two(2 * kSampleEmbedding);
  REQUIRE(edgeclr_encode_image(encoder, &c_images[1], one.data(), nullptr) == EDGECLR_OK);
  REQUIRE(edgeclr_encode_batch(encoder, c_images, 2, two.data(), nullptr) == EDGECLR_OK);
  for (uint32_t d = 0; d < kSampleEmbedding; ++d) CHECK(two[kSampleEmbedding + d] == one[d]);

  CHECK(edgeclr_encode_batch(encoder, c_images, 3, two.data(), nullptr) == EDGECLR_INVALID_ARGUMENT);
  edgeclr_image bad = c_images[0];
  const int nine = 9;  // what a C caller could pass; set through memory, as C would
  std::memcpy(&bad.format, &nine, sizeof(nine));
  CHECK(edgeclr_encode_image(encoder, &bad, one.data(), nullptr) == EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("unknown pixel format 9") != std::string::npos);
  bad = c_images[0];
  bad.stride_bytes = 10;  // shorter than a row
  CHECK(edgeclr_encode_image(encoder, &bad, one.data(), nullptr) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_encode_file(encoder, "/nonexistent.png", one.data(), nullptr) != EDGECLR_OK);
  CHECK(std::string(edgeclr_last_error()).find("/nonexistent.png") != std::string::npos);
  edgeclr_encoder_destroy(encoder);
  edgeclr_model_close(model);
}

TEST_CASE("C++ wrapper: an Encoder from a Model encodes and reports failure without throwing") {
  const auto bytes = sample_fp32_model();
  edgeclr::api::Model model;
  REQUIRE(edgeclr::api::Model::open_buffer(bytes.data(), bytes.size(), &model) == EDGECLR_OK);
  edgeclr::api::Encoder encoder;
  REQUIRE(edgeclr::api::Encoder::create(model, 1, 1, &encoder) == EDGECLR_OK);
  CHECK(encoder.batch() == 1);
  const auto images = random_images(1, 16, 16, 4);
  const edgeclr_image image{images[0].data(), 16, 16, 48, EDGECLR_PIXEL_RGB8};
  std::vector<float> embedding(kSampleEmbedding);
  REQUIRE(encoder.encode_image(image, embedding.data()) == EDGECLR_OK);
  double norm = 0;
  for (float v : embedding) norm += double{v} * v;
  CHECK(std::abs(norm - 1.0) < 1e-5);
  CHECK(encoder.encode_file("/nonexistent.png", embedding.data()) == EDGECLR_IO_ERROR);
  const std::vector<float> tensor(size_t{model.input_height()} * model.input_width() * model.input_channels(), 0.5f);
  std::vector<float> from_tensor(kSampleEmbedding);
  REQUIRE(encoder.encode_tensor(tensor.data(), 1, from_tensor.data()) == EDGECLR_OK);
  CHECK(from_tensor != embedding);
  CHECK(encoder.encode_tensor(tensor.data(), 2, from_tensor.data()) == EDGECLR_INVALID_ARGUMENT);
  edgeclr::api::Encoder none;
  CHECK(edgeclr::api::Encoder::create(model, 0, 1, &none) == EDGECLR_INVALID_ARGUMENT);
  CHECK(!none);
}

TEST_CASE("set_head: embeddings come from the new head, whose output width may differ") {
  Fixture f(sample_fp32_model());
  auto encoder = make_encoder(*f.model, 1, 2);
  const auto images = random_images(2, 16, 16, 6);
  const PixelView views[2] = {view_of(images[0], 16, 16), view_of(images[1], 16, 16)};
  std::vector<float> features(2 * kSampleChannels), before(2 * kSampleEmbedding);
  REQUIRE(encoder->encode(views, 2, features.data(), before.data()).ok());

  // An "adapted" head: the model's, with changed weights and a last layer 16 -> 6
  // instead of 16 -> 4, so the encoder must resize its buffers (ASan sees an overrun).
  ProjectionHead head = ProjectionHead::from_schema(f.model->head(), f.model->feature_dim());
  head.mutable_layers()[0].weight[5] += 0.75f;
  DenseLayer& last = head.mutable_layers().back();
  last.out_dim = 6;
  for (uint32_t i = 0; i < 2 * last.in_dim; ++i) last.weight.push_back(0.01f * float(i % 7) - 0.03f);
  last.bias.insert(last.bias.end(), {0.05f, -0.02f});
  const ProjectionHead expected_head = head;
  REQUIRE(encoder->set_head(std::move(head)).ok());
  CHECK(encoder->embedding_dim() == 6);

  std::vector<float> after(2 * 6), expected(2 * 6), scratch(expected_head.scratch_floats(2));
  REQUIRE(encoder->encode(views, 2, nullptr, after.data()).ok());
  expected_head.forward(features.data(), 2, expected.data(), scratch.data());
  // The same function on the same features: bit for bit.
  CHECK(std::memcmp(after.data(), expected.data(), after.size() * sizeof(float)) == 0);
  // And not what the model's own head gave (the first four values of each row).
  double moved = 0;
  for (uint32_t r = 0; r < 2; ++r)
    for (uint32_t d = 0; d < kSampleEmbedding; ++d) moved += std::abs(after[r * 6 + d] - before[r * kSampleEmbedding + d]);
  CHECK(moved > 0.01);
}

TEST_CASE("set_head refuses a head for another feature width and keeps the old head") {
  Fixture f(sample_fp32_model());
  auto encoder = make_encoder(*f.model, 1, 1);
  const auto images = random_images(1, 16, 16, 8);
  const PixelView view = view_of(images[0], 16, 16);
  std::vector<float> before(kSampleEmbedding), after(kSampleEmbedding);
  REQUIRE(encoder->encode(&view, 1, nullptr, before.data()).ok());

  // A self-consistent head taking 9 values, for a model whose feature has 8.
  ProjectionHead wide = ProjectionHead::from_schema(f.model->head(), kSampleChannels + 1);
  DenseLayer& first = wide.mutable_layers()[0];
  first.in_dim = kSampleChannels + 1;
  first.weight.assign(size_t{first.in_dim} * first.out_dim, 0.1f);
  const Status status = encoder->set_head(std::move(wide));
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(status.message() == "failed to set head: it takes a feature of 9 values, the model gives 8");
  CHECK(encoder->embedding_dim() == kSampleEmbedding);
  REQUIRE(encoder->encode(&view, 1, nullptr, after.data()).ok());
  CHECK(after == before);
}

TEST_CASE("encode_tensor of preprocessed pixels gives what encode of the pixels gives") {
  for (auto bytes : {sample_fp32_model(), sample_int8_model()}) {
    Fixture f(std::move(bytes));
    auto encoder = make_encoder(*f.model, 1, 2);
    const auto images = random_images(2, 31, 17, 5);
    const PixelView views[2] = {view_of(images[0], 31, 17), view_of(images[1], 31, 17)};
    const PreprocessSpec spec = preprocess_spec_from(f.model->input_spec());
    const size_t floats = size_t{spec.height} * spec.width * spec.channels;
    std::vector<float> tensor(2 * floats);
    for (int i = 0; i < 2; ++i) REQUIRE(preprocess(views[i], spec, tensor.data() + i * floats).ok());

    const uint32_t dim = encoder->embedding_dim(), fdim = encoder->feature_dim();
    std::vector<float> want(2 * dim), got(2 * dim), want_feature(2 * fdim), got_feature(2 * fdim);
    // The tensor call first, on a fresh encoder: the other order would leave the same
    // inputs in the backbone's buffer.
    REQUIRE(encoder->encode_tensor(tensor.data(), 2, got_feature.data(), got.data()).ok());
    REQUIRE(encoder->encode(views, 2, want_feature.data(), want.data()).ok());
    CHECK(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(want_feature.data(), got_feature.data(), want_feature.size() * sizeof(float)) == 0);
    // A partial batch: the second image alone, as its own first row.
    REQUIRE(encoder->encode_tensor(tensor.data() + floats, 1, nullptr, got.data()).ok());
    CHECK(std::memcmp(want.data() + dim, got.data(), dim * sizeof(float)) == 0);

    const Status status = encoder->encode_tensor(tensor.data(), 3, nullptr, got.data());
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK(status.message().find("3 inputs for an encoder of batch 2") != std::string::npos);
    CHECK(encoder->encode_tensor(nullptr, 1, nullptr, got.data()).code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("C API: edgeclr_encode_tensor and its errors") {
  TempDir dir;
  const std::string path = dir.write("m.eclr", sample_int8_model());
  edgeclr_model* model = nullptr;
  REQUIRE(edgeclr_model_open(path.c_str(), &model) == EDGECLR_OK);
  edgeclr_encoder* encoder = nullptr;
  REQUIRE(edgeclr_encoder_create(model, 1, 1, &encoder) == EDGECLR_OK);
  const size_t floats = size_t{edgeclr_model_input_height(model)} * edgeclr_model_input_width(model) *
                        edgeclr_model_input_channels(model);
  std::vector<float> input(floats);
  for (size_t i = 0; i < floats; ++i) input[i] = static_cast<float>(i % 7) / 3.0f - 1.0f;
  std::vector<float> a(kSampleEmbedding), b(kSampleEmbedding);
  REQUIRE(edgeclr_encode_tensor(encoder, input.data(), 1, a.data(), nullptr) == EDGECLR_OK);
  CHECK(edgeclr_encode_tensor(encoder, input.data(), 2, b.data(), nullptr) == EDGECLR_INVALID_ARGUMENT);
  CHECK(std::string(edgeclr_last_error()).find("2 inputs, the encoder's batch is 1") != std::string::npos);
  CHECK(edgeclr_encode_tensor(encoder, nullptr, 1, b.data(), nullptr) == EDGECLR_INVALID_ARGUMENT);
  CHECK(edgeclr_encode_tensor(nullptr, input.data(), 1, b.data(), nullptr) == EDGECLR_INVALID_ARGUMENT);
  double norm = 0;
  for (float v : a) norm += double{v} * v;
  CHECK(norm == doctest::Approx(1.0).epsilon(1e-5));  // an embedding, L2-normalised
  edgeclr_encoder_destroy(encoder);
  edgeclr_model_close(model);
}
