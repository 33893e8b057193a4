// A process killed at any moment while saving head checkpoints leaves PATH loadable, as
// the last version it finished or the one it was writing, and PATH.prev loadable as the
// version before (issue: crash-safe head saves).
//
// Two ways to kill the saver, a child process:
//  - at a random moment: the child saves versions v, v+1, ... in a loop, reporting each
//    finished one through a pipe; the parent sends SIGKILL after a seeded random delay
//    spread over two save durations (measured first), from straight away onwards;
//  - at each step of the save: the test-only hook of write_file_atomically kills the
//    child just before its n-th step (temp created, written, synced, closed, renamed,
//    directory synced; of the PATH.prev copy and of PATH), for every n.
// After each kill the parent checks what is on disk, then starts the next child.
//
// usage: edgeclr_crash_tests [--iterations N] [--seed S]
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "adapt/head_checkpoint.h"
#include "core/atomic_file.h"
#include "kill_child.h"
#include "model/model.h"
#include "support/sample_models.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using Clock = std::chrono::steady_clock;

namespace {

int g_checks = 0;
std::vector<std::string> g_failures;

void check(bool condition, const std::string& what) {
  ++g_checks;
  if (!condition) g_failures.push_back(what);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The head saved as `version`: the model's, with the version in its first weight
// (exact in float up to 2^24), so a file's content can be matched to its version field.
ProjectionHead head_for(const Model& model, uint64_t version) {
  ProjectionHead head = ProjectionHead::from_schema(model.head(), model.feature_dim());
  head.mutable_layers()[0].weight[0] = static_cast<float>(version);
  return head;
}

Status save_version(const Model& model, const std::string& path, uint64_t version) {
  HeadCheckpointInfo info;
  info.backbone_hash = model.backbone_hash();
  info.version = version;
  info.metrics = {{"validation_loss", 1.0 / double(version)}};
  return save_head_checkpoint(path, head_for(model, version), info);
}

// Loads `path` and checks its content matches its version; 0 when it does not load.
uint64_t loaded_version(const Model& model, const std::string& path, const std::string& when) {
  HeadCheckpointInfo info;
  auto head = load_head_checkpoint(path, model, &info);
  check(head.ok(), when + ": " + (head.ok() ? "" : head.status().message()));
  if (!head.ok()) return 0;
  check(head->layers()[0].weight[0] == static_cast<float>(info.version),
        when + ": '" + path + "' has version " + std::to_string(info.version) + " but the head of another");
  return info.version;
}

// What the files must show once the saver is dead, given that the last version it (or
// an earlier saver) reported finished is `finished` (0: none yet). Returns the version
// in PATH (0 when PATH does not exist).
uint64_t check_files(const Model& model, const std::string& path, uint64_t finished, const std::string& when) {
  if (!exists(path)) {
    check(finished == 0, when + ": '" + path + "' is missing after version " + std::to_string(finished) + " was saved");
    return 0;
  }
  const uint64_t version = loaded_version(model, path, when);
  check(version == finished || version == finished + 1,
        when + ": '" + path + "' holds version " + std::to_string(version) + ", expected " + std::to_string(finished) +
            " (finished) or " + std::to_string(finished + 1) + " (being saved)");
  // PATH.prev is copied from PATH before PATH is replaced: the version before, or (killed
  // between the two writes) the same one. A first version has none before it.
  const std::string prev = path + ".prev";
  if (version >= 2) check(exists(prev), when + ": no '" + prev + "' beside version " + std::to_string(version));
  if (exists(prev)) {
    const uint64_t before = loaded_version(model, prev, when);
    check(before == version || before + 1 == version,
          when + ": '" + prev + "' holds version " + std::to_string(before) + " beside " + std::to_string(version));
  }
  return version;
}

// Runs `save` in a child killed `kill_after` from the fork (kill_child.h). Returns the
// last version it reported (or `finished` when none) and whether it was killed.
template <typename Save>
uint64_t run_child(Save save, std::chrono::nanoseconds kill_after, uint64_t finished, bool* killed) {
  const testing::ChildRun run = testing::run_child_until_killed(save, kill_after, finished);
  *killed = run.killed;
  if (!run.killed) check(run.exited_ok, "a saver failed (see its message above)");
  return run.last_reported;
}

// Saves `first`, `first` + 1, ... until killed, reporting each on `fd`.
int save_forever(const Model& model, const std::string& path, uint64_t first, int fd) {
  for (uint64_t v = first;; ++v) {
    const Status status = save_version(model, path, v);
    if (!status.ok()) {
      std::fprintf(stderr, "saver: %s\n", status.message().c_str());
      return 3;
    }
    if (::write(fd, &v, sizeof(v)) != sizeof(v)) return 4;
  }
}

// The hook that kills the process just before its g_steps_left-th step.
int g_steps_left = 0;
int kill_before_step(AtomicWriteStep, const std::string&) {
  if (--g_steps_left == 0) ::kill(::getpid(), SIGKILL);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = std::atoi(testing::arg_value(argc, argv, "--iterations", "200").c_str());
  const unsigned seed = static_cast<unsigned>(std::atoi(testing::arg_value(argc, argv, "--seed", "1").c_str()));
  const std::vector<uint8_t> bytes = testing::sample_fp32_model();
  auto opened = Model::open_buffer(bytes.data(), bytes.size(), "sample");
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().message().c_str());
    return 1;
  }
  const Model& model = *opened.value();
  testing::TempDir dir;
  const std::string path = dir.path() + "/user.eclh";

  // How long one save takes here (two atomic writes with their fsyncs).
  const std::string warmup = dir.path() + "/warmup.eclh";
  constexpr int kTimedSaves = 20;
  const auto start = Clock::now();
  for (int i = 1; i <= kTimedSaves; ++i) {
    if (!save_version(model, warmup, i).ok()) return 1;
  }
  const auto save_time = (Clock::now() - start) / kTimedSaves;

  // Random moments: from straight after the fork to two save durations (the child also
  // needs time to start), so kills land before the first save, inside one and between.
  std::mt19937_64 rng(seed);
  // At least 10 ms: on a fast disk a save takes about 1 ms, less than starting the child.
  const auto window = std::max<std::chrono::nanoseconds>(2 * save_time, std::chrono::milliseconds(10));
  std::uniform_int_distribution<int64_t> delay_ns(0, window.count());
  uint64_t finished = 0;  // the version in PATH, which every saver before has finished
  int nothing_saved = 0, killed_after_rename = 0;
  for (int i = 0; i < iterations; ++i) {
    const uint64_t next = finished + 1;
    bool killed = false;
    const uint64_t reported = run_child([&](int fd) { return save_forever(model, path, next, fd); },
                                        std::chrono::nanoseconds(delay_ns(rng)), finished, &killed);
    check(killed, "iteration " + std::to_string(i) + ": the saver was not killed");
    const uint64_t on_disk = check_files(model, path, reported, "killed at random, iteration " + std::to_string(i));
    nothing_saved += on_disk == finished;
    killed_after_rename += on_disk == reported + 1;
    finished = std::max(reported, on_disk);
  }

  // Every step: kill before step 1, 2, ... of one save until a save gets through.
  int step_kills = 0;
  for (int n = 1; n <= 100; ++n) {
    const uint64_t next = finished + 1;
    bool killed = false;
    const uint64_t reported = run_child(
        [&](int fd) {
          g_steps_left = n;
          set_atomic_write_fault_hook_for_testing(kill_before_step);
          const Status status = save_version(model, path, next);
          set_atomic_write_fault_hook_for_testing(nullptr);
          if (!status.ok()) return 3;
          return ::write(fd, &next, sizeof(next)) == sizeof(next) ? 0 : 4;
        },
        std::chrono::seconds(60), finished, &killed);
    finished = std::max(reported, check_files(model, path, reported, "killed before step " + std::to_string(n)));
    if (!killed) break;
    ++step_kills;
  }
  // A save over an existing file is two atomic writes (PATH.prev, PATH) of six steps.
  check(step_kills == 12, "killed at " + std::to_string(step_kills) + " steps of a save, expected 12");

  // Killed saves leave their temp files behind; count them, then check that the next
  // save sweeps them away (each is a whole checkpoint: they must not pile up on a device).
  const auto count_temp_files = [&] {
    size_t n = 0;
    if (DIR* d = ::opendir(dir.path().c_str())) {
      while (const dirent* e = ::readdir(d)) n += std::strstr(e->d_name, ".tmp.") != nullptr;
      ::closedir(d);
    }
    return n;
  };
  const size_t leftovers = count_temp_files();
  check(save_version(model, path, finished + 1).ok(), "a save after the kills failed");
  check(count_temp_files() == 0, std::to_string(count_temp_files()) + " temp files left after a clean save");
  std::printf(
      "a save takes %.3f ms; %d random kills: %d before a save finished, %d between a rename and its report; "
      "%d kills at steps; last version %llu; %zu temp files left by killed saves\n",
      std::chrono::duration<double, std::milli>(save_time).count(), iterations, nothing_saved, killed_after_rename,
      step_kills, static_cast<unsigned long long>(finished), leftovers);
  for (const std::string& f : g_failures) std::printf("FAIL: %s\n", f.c_str());
  std::printf("%d passed, %zu failed\n", g_checks - static_cast<int>(g_failures.size()), g_failures.size());
  return g_failures.empty() ? 0 : 1;
}
