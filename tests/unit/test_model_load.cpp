// Loading valid models: what the loader reports must match how the model was built.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "model/model.h"
#include "model/model_checksum.h"
#include "model/model_limits.h"
#include "model/model_summary.h"
#include "support/sample_models.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

std::unique_ptr<Model> open_bytes(const std::vector<uint8_t>& bytes) {
  auto model = Model::open_buffer(bytes.data(), bytes.size(), "sample");
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  return std::move(model).value();
}

// Parameters of the sample models, counted from how they are built:
// stem 8x3x3x3 + 8, depthwise 8x3x3x1 + 8, pointwise 8x1x1x8 + 8.
constexpr uint64_t kBackboneParams = (8 * 27 + 8) + (8 * 9 + 8) + (8 * 8 + 8);
// head 8 -> 16 -> 4 with biases
constexpr uint64_t kHeadParams = (8 * 16 + 16) + (16 * 4 + 4);
// stem: 8x8x8 outputs x 27, depthwise: 512 x 9, pointwise: 512 x 8; head: 128 + 64
constexpr uint64_t kBackboneMacs = 512 * 27 + 512 * 9 + 512 * 8;

}  // namespace

TEST_CASE("a valid fp32 model loads from a buffer and reports its shape") {
  const auto bytes = sample_fp32_model();
  const auto model = open_bytes(bytes);
  CHECK(model->input_spec().height() == kSampleSide);
  CHECK(model->input_spec().width() == kSampleSide);
  CHECK(model->input_spec().channels() == 3);
  CHECK(model->feature_dim() == kSampleChannels);
  CHECK(model->embedding_dim() == kSampleEmbedding);
  CHECK(model->file_size() == bytes.size());

  const ModelSummary s = summarize(*model);
  CHECK(std::string(s.precision) == "fp32");
  CHECK(s.backbone_params == kBackboneParams);
  CHECK(s.head_params == kHeadParams);
  CHECK(s.backbone_macs == kBackboneMacs);
  CHECK(s.head_macs == 8 * 16 + 16 * 4);
  CHECK(s.op_counts.at("conv2d") == 2);
  CHECK(s.op_counts.at("depthwise_conv2d") == 1);
  CHECK(s.op_counts.at("add") == 1);
  CHECK(s.op_counts.at("global_average_pool") == 1);
  CHECK(s.op_counts.at("hardswish") == 1);
  CHECK(s.op_counts.at("reshape") == 1);
}

TEST_CASE("a valid int8 model loads and is reported as int8") {
  const auto bytes = sample_int8_model();  // must outlive the model: it may be used in place
  const auto model = open_bytes(bytes);
  const ModelSummary s = summarize(*model);
  CHECK(std::string(s.precision) == "int8");
  CHECK(s.backbone_params == kBackboneParams);
  CHECK(s.op_counts.at("quantize") == 1);
  CHECK(s.op_counts.at("dequantize") == 1);
  const auto& tensors = model->tensors();
  uint32_t per_channel = 0;
  for (const TensorInfo& t : tensors) per_channel += t.per_channel ? 1 : 0;
  CHECK(per_channel == 6);  // three weights and three biases
}

TEST_CASE("constant buffers are 64-byte aligned in the file and used in place") {
  const auto bytes = sample_fp32_model();
  TempDir dir;
  const std::string path = dir.write("m.eclr", bytes);
  auto model = Model::open_file(path);
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  const uint8_t* base = nullptr;
  for (const TensorInfo& t : model.value()->tensors()) {
    if (!t.is_constant) continue;
    // The mapping is page-aligned, so alignment in memory is alignment in the file.
    CHECK(reinterpret_cast<uintptr_t>(t.data) % kModelAlignment == 0);
    if (base == nullptr) base = t.data;
  }
  CHECK(base != nullptr);
}

TEST_CASE("a misaligned caller buffer is copied, an aligned one is used in place") {
  const auto bytes = sample_fp32_model();
  std::vector<uint8_t> space(2 * bytes.size() + 3 * kModelAlignment);
  auto* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(space.data()) + kModelAlignment - 1) /
                                             kModelAlignment * kModelAlignment);
  uint8_t* misaligned = aligned + (bytes.size() / kModelAlignment + 1) * kModelAlignment + 1;
  std::memcpy(aligned, bytes.data(), bytes.size());
  std::memcpy(misaligned, bytes.data(), bytes.size());

  auto in_place = Model::open_buffer(aligned, bytes.size(), "aligned");
  REQUIRE(in_place.ok());
  const uint8_t* first = in_place.value()->tensors()[1].data;
  CHECK((first >= aligned && first < aligned + bytes.size()));

  auto copied = Model::open_buffer(misaligned, bytes.size(), "misaligned");
  REQUIRE_MESSAGE(copied.ok(), copied.status().message());
  const uint8_t* data = copied.value()->tensors()[1].data;
  CHECK(reinterpret_cast<uintptr_t>(data) % kModelAlignment == 0);
  CHECK(!(data >= space.data() && data < space.data() + space.size()));
}

TEST_CASE("the backbone hash follows the backbone's content, not names or the head") {
  const uint64_t base = open_bytes(sample_fp32_model(1))->backbone_hash();
  CHECK(base != 0);
  CHECK(open_bytes(sample_fp32_model(1))->backbone_hash() == base);  // deterministic
  CHECK(open_bytes(sample_fp32_model(2))->backbone_hash() != base);  // other weights

  ModelBuilder renamed = sample_fp32_builder(1);
  renamed.staged().backbone->tensors[1]->name = "another name";
  renamed.staged().head->layers[0]->weight[0] += 1.0f;
  renamed.add_metadata("note", "changed");
  CHECK(open_bytes(renamed.finish())->backbone_hash() == base);

  ModelBuilder renormalised = sample_fp32_builder(1);
  renormalised.staged().input->mean[0] = 0.5f;  // preprocessing is part of the backbone
  CHECK(open_bytes(renormalised.finish())->backbone_hash() != base);
}

TEST_CASE("open_file reports a missing file with its path") {
  auto model = Model::open_file("/nonexistent/dir/model.eclr");
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().code() == StatusCode::kIoError);
  CHECK(model.status().message().find("failed to load model '/nonexistent/dir/model.eclr'") == 0);
  CHECK(model.status().message().find("No such file") != std::string::npos);
}

TEST_CASE("open_file refuses an empty file and a directory") {
  TempDir dir;
  const std::string empty = dir.write("empty.eclr", {});
  auto model = Model::open_file(empty);
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().message().find("file is empty") != std::string::npos);

  auto directory = Model::open_file(dir.path());
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.status().message().find("not a regular file") != std::string::npos);
}

// Format 2 hashes with XXH3, format 1 with FNV-1a (core/content_hash.h); both are read.
TEST_CASE("format 2 files carry an XXH3 checksum; format 1 files (FNV-1a) still open") {
  const std::vector<uint8_t> bytes = sample_fp32_model(1);
  const schema::Model* root = schema::GetModel(bytes.data());
  CHECK(root->format_version() == 2);  // a CNN: no format-3 operator, so readers of 2 open it
  CHECK(kFormatVersion == 4);
  // The checksum, computed here apart from the runtime: XXH3 of the file with its own
  // field read as zeros.
  std::vector<uint8_t> zeroed = bytes;
  const auto offset = static_cast<size_t>(checksum_field(*root) - bytes.data());
  std::memset(zeroed.data() + offset, 0, 8);
  CHECK(root->checksum() == XXH3_64bits(zeroed.data(), zeroed.size()));

  // The same model written as format 1 hashes with FNV-1a: its checksum and backbone
  // hash differ from format 2's and it opens; relabelled as format 2 it is refused.
  ModelBuilder v1 = sample_fp32_builder(1);
  v1.staged().format_version = 1;
  std::vector<uint8_t> old_bytes = v1.finish();
  auto old_model = Model::open_buffer(old_bytes.data(), old_bytes.size(), "v1");
  REQUIRE_MESSAGE(old_model.ok(), old_model.status().message());
  CHECK(old_model.value()->backbone_hash() != open_bytes(bytes)->backbone_hash());
  CHECK(schema::GetModel(old_bytes.data())->checksum() != root->checksum());
  schema::GetMutableModel(old_bytes.data())->mutate_format_version(2);
  const auto relabelled = Model::open_buffer(old_bytes.data(), old_bytes.size(), "relabelled");
  CHECK(relabelled.status().code() == StatusCode::kInvalidModel);
  CHECK(relabelled.status().message().find("checksum mismatch") != std::string::npos);

  // A format 1 file written by an earlier edgeclr: the shipped Fashion-MNIST model.
  auto shipped = Model::open_file(EDGECLR_SOURCE_DIR "/models/fashion/fashion-int8.eclr");
  REQUIRE_MESSAGE(shipped.ok(), shipped.status().message());
  CHECK(shipped.value()->root().format_version() == 1);
}
