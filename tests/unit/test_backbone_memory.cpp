// Memory of a backbone on a mapped model file: on XNNPACK 2024 the packed weights are the
// only resident copy once the encoder exists (backbone/xnnpack_weights_cache.h); the file's
// weight pages leave the process's resident set, and the results do not change.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "builder/model_builder.h"
#include "model/model.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

// Resident bytes of this process's mappings of `path` (/proc/self/smaps).
size_t resident_bytes_of(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  size_t total_kb = 0;
  while (std::getline(smaps, line)) {
    const bool header = !line.empty() && line.find(':') != 3 && line.find('-') < line.find(' ');
    if (header) {
      inside = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      size_t kb = 0;
      fields >> kb;
      total_kb += kb;
    }
  }
  return total_kb * 1024;
}

// Tokens [1, 4, 512] -> fully connected to 8192: a 16 MiB fp32 weight, most of the file.
std::vector<uint8_t> wide_fully_connected_model() {
  ModelBuilder b;
  b.set_input(4, 512, 1, {0.5f}, {0.25f});
  b.set_provenance("edgeclr tests", "test_backbone_memory");
  const uint32_t image = b.add_activation("image", {1, 4, 512, 1});
  const uint32_t tokens = b.add_activation("tokens", {1, 4, 512});
  schema::ReshapeOptionsT to_tokens;
  to_tokens.new_shape = {1, 4, 512};
  b.add_operator("to_tokens", op_options(schema::OpOptions_ReshapeOptions, to_tokens), {image}, {tokens});
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  std::vector<float> w(size_t{8192} * 512);
  for (float& v : w) v = dist(rng);
  const uint32_t weight = b.add_constant_fp32("w", {8192, 512}, w);
  const uint32_t out = b.add_activation("out", {1, 4, 8192});
  b.add_operator("fc", op_options(schema::OpOptions_FullyConnectedOptions, schema::FullyConnectedOptionsT{}),
                 {tokens, weight}, {out});
  const uint32_t feature = b.add_activation("feature", {1, 4 * 8192});
  schema::ReshapeOptionsT flat;
  flat.new_shape = {1, 4 * 8192};
  b.add_operator("flatten", op_options(schema::OpOptions_ReshapeOptions, flat), {out}, {feature});
  b.set_graph(image, feature);
  b.set_embedding(4 * 8192, false);
  return b.finish();
}

std::vector<float> run_once(const Model& model) {
  auto backbone = Backbone::create(model, BackboneOptions{});
  REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
  std::vector<float> input(4 * 512), feature(model.feature_dim());
  for (size_t i = 0; i < input.size(); ++i) input[i] = std::sin(0.01f * float(i));
  REQUIRE(backbone.value()->run(input.data(), feature.data()).ok());
  return feature;
}

}  // namespace

TEST_CASE("a mapped model's packed weights leave the resident set once the encoder exists (XNNPACK 2024)") {
  TempDir dir;
  const std::vector<uint8_t> bytes = wide_fully_connected_model();
  const std::string path = dir.write("wide.eclr", bytes);
  auto mapped = Model::open_file(path);
  REQUIRE_MESSAGE(mapped.ok(), mapped.status().message());
  // Opening checks every byte (the checksum), so the whole file is resident now.
  const size_t before = resident_bytes_of(path);
  CHECK(before >= bytes.size() * 9 / 10);
  auto backbone = Backbone::create(*mapped.value(), BackboneOptions{});
  REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
  const size_t after = resident_bytes_of(path);
  MESSAGE("model file resident: ", before, " bytes after open, ", after, " after the encoder, file ", bytes.size());
  if (xnnpack_info().api >= 2024) {
    // The weight's pages are gone. What stays: the pages of the file's tables, which the
    // runtime reads, and with them, where the page cache holds the file in large folios
    // (a freshly written file on ext4), up to a 2 MiB folio around each of the two ends.
    CHECK(after <= size_t{4} << 20);
  } else {
    CHECK(after >= bytes.size() * 9 / 10);  // 2022 packs without a provider: both copies stay
  }
  // Released pages come back from the file when read: the same features as a model in memory.
  auto in_memory = Model::open_buffer(bytes.data(), bytes.size(), "wide.eclr");
  REQUIRE(in_memory.ok());
  const std::vector<float> a = run_once(*mapped.value()), b = run_once(*in_memory.value());
  CHECK(a == b);
}
