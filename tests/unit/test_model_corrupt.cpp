// Broken model files: every one must be refused with a message that names the file and
// what is wrong, without a crash (the sanitizer build runs these too).
#include <doctest/doctest.h>

#include "model/model.h"
#include "support/bad_models.h"
#include "support/sample_models.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

void expect_refused(const BadModel& bad) {
  auto model = Model::open_buffer(bad.bytes.data(), bad.bytes.size(), bad.name + ".eclr");
  REQUIRE_FALSE_MESSAGE(model.ok(), bad.name);
  const std::string& message = model.status().message();
  INFO(bad.name, ": ", message);
  CHECK(message.find("failed to load model '" + bad.name + ".eclr': ") == 0);
  CHECK(message.find('\n') == std::string::npos);
  CHECK(message.find(bad.expect) != std::string::npos);
}

}  // namespace

TEST_CASE("every semantic fault is refused with a message that says what is wrong") {
  const auto corpus = semantic_bad_models();
  CHECK(corpus.size() >= 40);
  for (const BadModel& bad : corpus) expect_refused(bad);
}

TEST_CASE("the unmodified samples the corpus is made from load") {
  // Otherwise a refusal in the corpus could come from the sample, not from the fault.
  for (const auto& valid : {sample_fp32_model(), sample_int8_model()}) {
    auto model = Model::open_buffer(valid.data(), valid.size(), "sample");
    CHECK_MESSAGE(model.ok(), model.status().message());
  }
}

TEST_CASE("a model truncated anywhere is refused") {
  for (const auto& valid : {sample_fp32_model(), sample_int8_model()}) {
    const auto corpus = truncated_models(valid);
    CHECK(corpus.size() > 30);
    for (const BadModel& bad : corpus) expect_refused(bad);
  }
}

TEST_CASE("a model with any single byte changed is refused") {
  for (const auto& valid : {sample_fp32_model(), sample_int8_model()}) {
    const auto corpus = byte_flipped_models(valid, 300);
    for (const BadModel& bad : corpus) expect_refused(bad);
  }
}

TEST_CASE("every byte position of a small model is covered by the checksum") {
  // Exhaustive over positions: flipping the lowest bit of each byte.
  const auto valid = sample_fp32_model();
  size_t refused = 0;
  for (size_t i = 0; i < valid.size(); ++i) {
    std::vector<uint8_t> bytes = valid;
    bytes[i] ^= 1;
    auto model = Model::open_buffer(bytes.data(), bytes.size(), "flip");
    refused += model.ok() ? 0 : 1;
  }
  CHECK(refused == valid.size());
}
