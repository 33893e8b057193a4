// Code that runs on several threads at once, written for ThreadSanitizer (make test-tsan
// runs these; the normal and ASan suites run them too): encoders that share one model
// across threads, an encoder with its own thread pool inside such a thread, and the
// adaptation feature cache filled by a two-thread encoder. Each test also checks the
// answers against a single-thread run, so a race that corrupts data fails everywhere,
// not only under TSan.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "adapt/adapt_inputs.h"
#include "adapt/adapt_trainer.h"
#include "encoder/encoder.h"
#include "support/npy_reader.h"
#include "support/opened_model.h"
#include "support/sample_models.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

constexpr uint32_t kImages = 12, kWidth = 21, kHeight = 17;

std::vector<std::vector<uint8_t>> random_images(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint8_t>> images(kImages, std::vector<uint8_t>(size_t{kWidth} * kHeight * 3));
  for (auto& image : images) {
    for (uint8_t& p : image) p = static_cast<uint8_t>(rng());
  }
  return images;
}

// Embeddings of `images` by a fresh encoder of `model`, one image per call.
Status embed_all(const Model& model, uint32_t threads, const std::vector<std::vector<uint8_t>>& images,
                 std::vector<float>* out) {
  auto encoder = Encoder::create(model, EncoderOptions{threads, 1});
  if (!encoder.ok()) return encoder.status();
  const uint32_t dim = (*encoder)->embedding_dim();
  out->assign(images.size() * dim, 0.0f);
  for (size_t i = 0; i < images.size(); ++i) {
    const PixelView view{images[i].data(), kWidth, kHeight, size_t{kWidth} * 3, PixelFormat::kRGB};
    EDGECLR_RETURN_IF_ERROR((*encoder)->encode(&view, 1, nullptr, out->data() + i * dim));
  }
  return Status::Ok();
}

}  // namespace

TEST_CASE("threads: four encoders share one model, one of them with a pool of two, and agree with one thread") {
  for (const bool int8 : {true, false}) {
    CAPTURE(int8);
    const OpenedModel f(int8 ? sample_int8_model() : sample_fp32_model());
    const auto images = random_images(5);
    std::vector<float> expected;
    REQUIRE(embed_all(*f.model, 1, images, &expected).ok());

    // Created and run at the same time, each on its own thread: creating an encoder reads
    // the shared model and initialises XNNPACK, which must be safe to do concurrently.
    constexpr int kThreads = 4;
    std::vector<std::vector<float>> got(kThreads);
    std::vector<Status> status(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] { status[t] = embed_all(*f.model, t == 0 ? 2 : 1, images, &got[t]); });
    }
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < kThreads; ++t) {
      CAPTURE(t);
      REQUIRE_MESSAGE(status[t].ok(), status[t].message());
      REQUIRE(got[t].size() == expected.size());
      if (t != 0) {
        CHECK(std::memcmp(got[t].data(), expected.data(), expected.size() * sizeof(float)) == 0);
        continue;
      }
      // The pool splits the work differently: fp32 sums may round differently (a few ulps of
      // the unit-length embedding); int8 is exact integer arithmetic and may not differ.
      for (size_t i = 0; i < expected.size(); ++i) CHECK(std::abs(got[t][i] - expected[i]) <= (int8 ? 0.0f : 1e-5f));
    }
  }
}

TEST_CASE("threads: the adaptation feature cache from a two-thread encoder equals one thread's, and trains the same head") {
  const std::string source = EDGECLR_SOURCE_DIR;
  auto model = Model::open_file(source + "/models/fashion/fashion-int8.eclr");
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  auto images = read_npy(source + "/tests/fixtures/fashion/images.npy");
  auto labels = read_npy(source + "/tests/fixtures/fashion/labels.npy");
  REQUIRE(images.ok());
  REQUIRE(labels.ok());
  constexpr uint32_t kSide = 28;
  const size_t count = labels->count();
  REQUIRE(images->count() == count * kSide * kSide);

  AdaptInputOptions options;
  options.views = 2;
  options.seed = 7;
  std::vector<AdaptResult> results;
  std::vector<std::vector<float>> caches;
  for (const uint32_t threads : {1u, 2u}) {
    CAPTURE(threads);
    auto encoder = Encoder::create(**model, EncoderOptions{threads, 1});
    REQUIRE(encoder.ok());
    REQUIRE((*encoder)->threads() == threads);
    AdaptInputs inputs(encoder->get(), AdaptKind::kGroups, options);
    for (size_t i = 0; i < count; ++i) {
      const PixelView view{images->u8() + i * kSide * kSide, kSide, kSide, kSide, PixelFormat::kGray};
      REQUIRE(inputs.add_image(view, labels->u8()[i]).ok());
    }
    const AdaptSet& set = inputs.set();
    caches.emplace_back(set.row(0), set.row(0) + size_t{set.rows()} * set.feature_dim());
    const ProjectionHead shipped = ProjectionHead::from_schema((*model)->head(), (*model)->feature_dim());
    AdaptOptions train;
    train.epochs = 3;
    train.seed = 3;
    auto result = adapt_head(set, shipped, shipped, train);
    REQUIRE_MESSAGE(result.ok(), result.status().message());
    results.push_back(std::move(result).value());
  }
  // int8 backbone: the same integers whatever the thread count, so the same floats.
  REQUIRE(caches[0].size() == caches[1].size());
  CHECK(std::memcmp(caches[0].data(), caches[1].data(), caches[0].size() * sizeof(float)) == 0);
  REQUIRE(results[0].head.layers().size() == results[1].head.layers().size());
  for (size_t l = 0; l < results[0].head.layers().size(); ++l) {
    CHECK(results[0].head.layers()[l].weight == results[1].head.layers()[l].weight);
  }
  CHECK(results[0].epochs_run == results[1].epochs_run);
}
