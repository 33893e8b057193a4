// A process killed at any moment while it adds to and re-projects a gallery leaves a
// gallery that opens, verifies and holds the state before or after the operation it was
// in, never a mix (issue: galleries).
//
// The child repeats: add a batch of kBatch items, add another, re-project to the next
// head version; it reports each committed operation through a pipe. The parent sends
// SIGKILL after a seeded random delay spread over three operation durations, then checks:
//   - the file opens with the head version its meta names;
//   - it holds a whole number of batches, at least as many as reported, at most one more;
//   - its head version is the reported one or the next (a re-projection in flight);
//   - every item's embedding is that head's output for the item's stored feature, so no
//     item is left in the old space.
//
// usage: edgeclr_gallery_crash_tests [--iterations N] [--seed S]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gallery/gallery.h"
#include "kill_child.h"
#include "support/sample_models.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kBatch = 16;
int g_checks = 0;
std::vector<std::string> g_failures;

void check(bool condition, const std::string& what) {
  ++g_checks;
  if (!condition) g_failures.push_back(what);
}

// Head `version`: the model's, its first weight set to the version, so embeddings of
// different versions differ.
GalleryHead head_for(const Model& model, uint64_t version) {
  GalleryHead h{ProjectionHead::from_schema(model.head(), model.feature_dim()), version, "v" + std::to_string(version)};
  h.head.mutable_layers()[0].weight[0] = 0.25f * static_cast<float>(version);
  return h;
}

// The features of batch `b`: deterministic, distinct per item.
std::vector<float> batch_features(const Model& model, uint64_t b) {
  std::vector<float> f(kBatch * model.feature_dim());
  for (size_t i = 0; i < f.size(); ++i) f[i] = std::sin(0.37f * static_cast<float>(i) + 1.3f * static_cast<float>(b));
  return f;
}

std::vector<std::string> batch_keys(uint64_t b) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < kBatch; ++i) keys.push_back("batch" + std::to_string(b) + "/" + std::to_string(i));
  return keys;
}

// What is committed: batches added and the head version. Operation n (from 1): n % 3
// == 0 re-projects, otherwise adds a batch.
struct State {
  uint64_t batches = 0, version = 0;
  uint64_t operations() const { return batches + version; }  // two adds per re-projection
};

State state_after(uint64_t operations) { return State{operations - operations / 3, operations / 3}; }

// Runs operations `first`, `first` + 1, ... on `path`, reporting each when committed;
// stops after `count` of them (0: never).
int mutate_forever(const Model& model, const std::string& path, uint64_t first, int fd, uint64_t count = 0) {
  const State s = state_after(first - 1);
  auto g = Gallery::open(path, model, head_for(model, s.version));
  if (!g.ok()) {
    std::fprintf(stderr, "mutator: %s\n", g.status().message().c_str());
    return 3;
  }
  uint64_t batches = s.batches, version = s.version;
  for (uint64_t op = first;; ++op) {
    Status status;
    if (op % 3 == 0) {
      status = g.value()->reproject(head_for(model, ++version));
    } else {
      status = g.value()->add_features(batch_keys(batches), batch_features(model, batches).data());
      ++batches;
    }
    if (!status.ok()) {
      std::fprintf(stderr, "mutator: %s\n", status.message().c_str());
      return 4;
    }
    if (::write(fd, &op, sizeof(op)) != sizeof(op)) return 5;
    if (count && op + 1 == first + count) return 0;
  }
}

// Checks the gallery on disk against the reported operations; returns the operations
// it holds.
uint64_t check_gallery(const Model& model, const std::string& path, uint64_t reported, const std::string& when) {
  auto meta = Gallery::read_meta(path);
  check(meta.ok(), when + ": " + (meta.ok() ? "" : meta.status().message()));
  if (!meta.ok()) return reported;
  const uint64_t version = std::strtoull(meta->at("head_version").c_str(), nullptr, 10);
  auto g = Gallery::open(path, model, head_for(model, version));
  check(g.ok(), when + ": " + (g.ok() ? "" : g.status().message()));
  if (!g.ok()) return reported;
  const size_t count = g.value()->count();
  check(count % kBatch == 0, when + ": " + std::to_string(count) + " items, not whole batches");
  const State on_disk{count / kBatch, version};
  const uint64_t ops = on_disk.operations();
  check(ops == reported || ops == reported + 1,
        when + ": holds " + std::to_string(ops) + " operations, " + std::to_string(reported) + " were reported");
  const State want = state_after(ops);
  check(want.batches == on_disk.batches && want.version == on_disk.version,
        when + ": " + std::to_string(on_disk.batches) + " batches at head version " + std::to_string(version) +
            " is no state the operations pass through");
  // Every embedding is this head's, from the item's stored feature.
  const GalleryHead head = head_for(model, version);
  std::vector<float> feature, embedding, expected(head.head.embedding_dim()), scratch(head.head.scratch_floats(1));
  for (const std::string& key : g.value()->keys()) {
    if (!g.value()->item(key, &feature, &embedding).ok()) {
      check(false, when + ": item '" + key + "' does not read");
      continue;
    }
    head.head.forward(feature.data(), 1, expected.data(), scratch.data());
    float worst = 0;
    for (size_t j = 0; j < expected.size(); ++j) worst = std::max(worst, std::abs(expected[j] - embedding[j]));
    check(worst < 1e-5f, when + ": item '" + key + "' is not in head version " + std::to_string(version) + "'s space");
  }
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = std::atoi(testing::arg_value(argc, argv, "--iterations", "200").c_str());
  const unsigned seed = static_cast<unsigned>(std::atoi(testing::arg_value(argc, argv, "--seed", "1").c_str()));
  const std::vector<uint8_t> bytes = testing::sample_fp32_model();
  auto opened = Model::open_buffer(bytes.data(), bytes.size(), "sample");
  if (!opened.ok()) return 1;
  const Model& model = *opened.value();
  testing::TempDir dir;
  const std::string path = dir.path() + "/g.db";
  if (!Gallery::create(path, model, head_for(model, 0), "").ok()) return 1;
  // How long a child takes to start, open the gallery and commit three operations here
  // (fork, SQLite open and quick_check, transactions with their fsyncs; all far slower
  // under qemu than natively): one child runs them and exits, unkilled.
  uint64_t done = 0;
  const auto start = Clock::now();
  const testing::ChildRun warmup = testing::run_child_until_killed(
      [&](int fd) { return mutate_forever(model, path, 1, fd, 3); }, std::chrono::seconds(120), 0);
  const auto three_ops = Clock::now() - start;
  if (!warmup.exited_ok || warmup.last_reported != 3) {
    std::printf("FAILURE the warm-up child did not commit three operations\n");
    return 1;
  }
  done = check_gallery(model, path, 3, "after the warm-up");

  std::mt19937_64 rng(seed);
  // Kills land from straight after the fork (before the child opened the gallery) to
  // 1.5 times the warm-up, so inside operations and between them.
  const auto window = std::max<std::chrono::nanoseconds>(three_ops * 3 / 2, std::chrono::milliseconds(15));
  std::uniform_int_distribution<int64_t> delay_ns(0, window.count());
  int mid_operation = 0;
  for (int i = 0; i < iterations; ++i) {
    const testing::ChildRun run = testing::run_child_until_killed(
        [&](int fd) { return mutate_forever(model, path, done + 1, fd); }, std::chrono::nanoseconds(delay_ns(rng)), done);
    check(run.killed, "iteration " + std::to_string(i) + ": the mutator was not killed (see its message above)");
    const uint64_t on_disk = check_gallery(model, path, run.last_reported, "iteration " + std::to_string(i));
    mid_operation += on_disk == run.last_reported + 1;
    done = on_disk;
  }
  std::printf("warm-up: 3 operations in %.1f ms; %d kills, %llu operations committed, %d killed after a commit it "
              "had not reported; %d checks\n",
              std::chrono::duration<double, std::milli>(three_ops).count(), iterations,
              static_cast<unsigned long long>(done), mid_operation, g_checks);
  for (const std::string& f : g_failures) std::printf("FAILURE %s\n", f.c_str());
  // A kill that never lets one operation through would test nothing.
  if (done < static_cast<uint64_t>(iterations) / 4) {
    std::printf("FAILURE only %llu operations in %d runs: the kills come too early\n",
                static_cast<unsigned long long>(done), iterations);
    return 1;
  }
  return g_failures.empty() ? 0 : 1;
}
