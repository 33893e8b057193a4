// Head checkpoints: round trip, rollback copy, refusals (another backbone, corrupt,
// truncated, wrong dimensions, missing) and saves that fail at each step.
#include <doctest/doctest.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "adapt/head_checkpoint.h"
#include "core/atomic_file.h"
#include "support/opened_model.h"
#include "support/sample_models.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

using Loaded = OpenedModel;

std::vector<uint8_t> read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

HeadCheckpointInfo info_for(const Model& model, uint64_t version) {
  HeadCheckpointInfo info;
  info.backbone_hash = model.backbone_hash();
  info.version = version;
  info.metrics = {{"validation_loss", 0.25}, {"effective_rank", 3.5}};
  return info;
}

}  // namespace

TEST_CASE("a saved head loads back with the same weights, version and metrics") {
  const Loaded m(sample_fp32_model());
  ProjectionHead head = ProjectionHead::from_schema(m.model->head(), m.model->feature_dim());
  head.mutable_layers()[0].weight[3] += 0.5f;  // an "adapted" head
  TempDir dir;
  const std::string path = dir.path() + "/user.eclh";
  REQUIRE(save_head_checkpoint(path, head, info_for(*m.model, 7)).ok());
  HeadCheckpointInfo info;
  auto loaded = load_head_checkpoint(path, *m.model, &info);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  CHECK(info.version == 7);
  CHECK(info.metrics.at("validation_loss") == 0.25);
  CHECK(info.backbone_hash == m.model->backbone_hash());
  REQUIRE(loaded->layers().size() == head.layers().size());
  for (size_t l = 0; l < head.layers().size(); ++l) {
    CHECK(loaded->layers()[l].weight == head.layers()[l].weight);
    CHECK(loaded->layers()[l].bias == head.layers()[l].bias);
    CHECK(loaded->layers()[l].activation == head.layers()[l].activation);
  }
  CHECK(loaded->l2_normalize() == head.l2_normalize());
}

TEST_CASE("saving over a checkpoint keeps the previous one as .prev") {
  const Loaded m(sample_fp32_model());
  const ProjectionHead head = ProjectionHead::from_schema(m.model->head(), m.model->feature_dim());
  TempDir dir;
  const std::string path = dir.path() + "/user.eclh";
  REQUIRE(save_head_checkpoint(path, head, info_for(*m.model, 1)).ok());
  const std::vector<uint8_t> first = read(path);
  REQUIRE(save_head_checkpoint(path, head, info_for(*m.model, 2)).ok());
  CHECK(read(path + ".prev") == first);
  HeadCheckpointInfo info;
  REQUIRE(load_head_checkpoint(path + ".prev", *m.model, &info).ok());
  CHECK(info.version == 1);
  REQUIRE(load_head_checkpoint(path, *m.model, &info).ok());
  CHECK(info.version == 2);
}

TEST_CASE("a head is refused by another backbone, and when corrupt, truncated or missing") {
  const Loaded m(sample_fp32_model(1));
  const Loaded other(sample_fp32_model(2));  // same shapes, other weights: another backbone
  const ProjectionHead head = ProjectionHead::from_schema(m.model->head(), m.model->feature_dim());
  TempDir dir;
  const std::string path = dir.path() + "/user.eclh";
  REQUIRE(save_head_checkpoint(path, head, info_for(*m.model, 1)).ok());

  auto wrong = load_head_checkpoint(path, *other.model, nullptr);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().message().find("failed to load head '" + path + "': trained on backbone") == 0);

  const std::vector<uint8_t> good = read(path);
  for (size_t i = 0; i < good.size(); i += 7) {  // a changed byte anywhere
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x10;
    const std::string p = dir.write("flip.eclh", bad);
    CHECK_MESSAGE(!load_head_checkpoint(p, *m.model, nullptr).ok(), "byte ", i);
  }
  for (size_t n : {size_t{0}, size_t{4}, size_t{9}, good.size() / 2, good.size() - 1}) {
    const std::string p = dir.write("cut.eclh", std::vector<uint8_t>(good.begin(), good.begin() + n));
    CHECK_MESSAGE(!load_head_checkpoint(p, *m.model, nullptr).ok(), "length ", n);
  }
  CHECK(load_head_checkpoint(dir.path() + "/none.eclh", *m.model, nullptr).status().code() == StatusCode::kIoError);
  // A model file is not a head checkpoint.
  const std::string model_file = dir.write("model.eclr", m.bytes);
  CHECK(load_head_checkpoint(model_file, *m.model, nullptr).status().message().find("'ECLH'") != std::string::npos);
}

TEST_CASE("a head whose input does not match the model's feature is refused") {
  const Loaded m(sample_fp32_model());
  ProjectionHead head = ProjectionHead::from_schema(m.model->head(), m.model->feature_dim());
  // Claim a 9-wide input on the first layer (weights resized to stay self-consistent).
  DenseLayer& first = head.mutable_layers()[0];
  first.in_dim = 9;
  first.weight.assign(size_t{9} * first.out_dim, 0.1f);
  TempDir dir;
  const std::string path = dir.path() + "/user.eclh";
  REQUIRE(save_head_checkpoint(path, head, info_for(*m.model, 1)).ok());
  auto loaded = load_head_checkpoint(path, *m.model, nullptr);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().message().find("head layer 0: 9 -> 16, expected input 8") != std::string::npos);
}

namespace {

// Fails the `nth` time `step` comes (counting over both files a save writes: PATH.prev,
// then PATH) with `errno_value`; kShortWrite: that write stores half, and the next one (the
// rest of the same file) fails with ENOSPC, as a disk that fills up does.
struct StepFault {
  AtomicWriteStep step;
  int errno_value;
  int nth;
  int seen = 0;
};
StepFault g_fault{AtomicWriteStep::kWrite, 0, 0};

int fail_step(AtomicWriteStep step, const std::string&) {
  if (step != g_fault.step) return 0;
  const int seen = ++g_fault.seen;
  if (g_fault.errno_value == kShortWrite) return seen == g_fault.nth ? kShortWrite : seen == g_fault.nth + 1 ? ENOSPC : 0;
  return seen == g_fault.nth ? g_fault.errno_value : 0;
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("a save that fails at any step (full disk, I/O error, short write) keeps the previous head loadable") {
  const Loaded m(sample_fp32_model());
  ProjectionHead head = ProjectionHead::from_schema(m.model->head(), m.model->feature_dim());
  const std::pair<AtomicWriteStep, const char*> steps[] = {{AtomicWriteStep::kCreateTemp, "create temp file"},
                                                           {AtomicWriteStep::kWrite, "write"},
                                                           {AtomicWriteStep::kFsync, "fsync"},
                                                           {AtomicWriteStep::kClose, "close"},
                                                           {AtomicWriteStep::kRename, "rename"}};
  for (const auto& [step, step_name] : steps) {
    for (const int fault : {ENOSPC, EIO, kShortWrite}) {
      if (fault == kShortWrite && step != AtomicWriteStep::kWrite) continue;
      for (const int nth : {1, 2}) {  // the .prev copy, then the checkpoint itself
        CAPTURE(step_name);
        CAPTURE(fault);
        CAPTURE(nth);
        TempDir dir;
        const std::string path = dir.path() + "/user.eclh";
        REQUIRE(save_head_checkpoint(path, head, info_for(*m.model, 1)).ok());
        const std::vector<uint8_t> before = read(path);
        head.mutable_layers()[0].weight[0] += 1.0f;
        g_fault = StepFault{step, fault, nth};
        set_atomic_write_fault_hook_for_testing(fail_step);
        const Status saved = save_head_checkpoint(path, head, info_for(*m.model, 2));
        set_atomic_write_fault_hook_for_testing(nullptr);

        REQUIRE_FALSE(saved.ok());
        const std::string target = nth == 1 ? path + ".prev" : path;
        const int cause = fault == kShortWrite ? ENOSPC : fault;
        CHECK(saved.message() == "failed to write '" + target + "': " + step_name + ": " + std::strerror(cause));
        CHECK(read(path) == before);
        HeadCheckpointInfo info;
        REQUIRE(load_head_checkpoint(path, *m.model, &info).ok());
        CHECK(info.version == 1);
        // No temp file left: the checkpoint, and its .prev copy when that write got through.
        const std::vector<std::string> expected = nth == 1 ? std::vector<std::string>{"user.eclh"}
                                                           : std::vector<std::string>{"user.eclh", "user.eclh.prev"};
        CHECK(names_in(dir.path()) == expected);
      }
    }
  }
}
