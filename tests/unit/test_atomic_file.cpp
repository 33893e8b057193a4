// write_file_atomically: content lands whole, no temp file is left, failures say why;
// a failure at each step (injected through the test-only fault hook) keeps the old file.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t entries(const std::string& dir) {
  size_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] == '.' ? 0 : 1;
  ::closedir(d);
  return n;
}

}  // namespace

TEST_CASE("a new file and a replaced file hold exactly what was written") {
  TempDir dir;
  const std::string path = dir.path() + "/out.bin";
  REQUIRE(write_file_atomically(path, "first", 5).ok());
  CHECK(read_all(path) == "first");
  REQUIRE(write_file_atomically(path, "second!", 7).ok());
  CHECK(read_all(path) == "second!");
  CHECK(entries(dir.path()) == 1);  // no temp file left behind
}

TEST_CASE("a written file gets the mode a plain create would give (0666 less the umask), not mkstemp's 0600") {
  const TempDir dir;
  for (const mode_t mask : {mode_t{022}, mode_t{027}}) {
    CAPTURE(mask);
    const mode_t old = ::umask(mask);  // the test runner is single-threaded here
    const std::string path = dir.path() + "/mode-" + std::to_string(mask);
    const Status written = write_file_atomically(path, "x", 1);
    ::umask(old);
    REQUIRE(written.ok());
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == (0666 & ~mask));
  }
}

TEST_CASE("a write into a missing directory fails with the path and the reason") {
  const Status status = write_file_atomically("/nonexistent-dir/out.bin", "x", 1);
  REQUIRE_FALSE(status.ok());
  CHECK(status.code() == StatusCode::kIoError);
  CHECK(status.message().find("failed to write '/nonexistent-dir/out.bin'") == 0);
  CHECK(status.message().find("No such file") != std::string::npos);
}

namespace {

// The fault the hook injects: `errno_value` at the `countdown`-th time `step` comes.
struct Fault {
  AtomicWriteStep step = AtomicWriteStep::kCreateTemp;
  int errno_value = 0;
  int countdown = 1;
  int calls = 0;  // how many times `step` came
};
Fault g_fault;

int inject(AtomicWriteStep step, const std::string&) {
  if (step != g_fault.step) return 0;
  ++g_fault.calls;
  return --g_fault.countdown == 0 ? g_fault.errno_value : 0;
}

// Installs the hook for one scope, so a failed REQUIRE cannot leave it set.
struct FaultScope {
  FaultScope(AtomicWriteStep step, int errno_value, int countdown = 1) {
    g_fault = Fault{step, errno_value, countdown, 0};
    set_atomic_write_fault_hook_for_testing(inject);
  }
  ~FaultScope() { set_atomic_write_fault_hook_for_testing(nullptr); }
};

}  // namespace

TEST_CASE("a step that fails (full disk) leaves the old content, no temp file, and says where") {
  const std::pair<AtomicWriteStep, const char*> steps[] = {{AtomicWriteStep::kCreateTemp, "create temp file"},
                                                           {AtomicWriteStep::kWrite, "write"},
                                                           {AtomicWriteStep::kFsync, "fsync"},
                                                           {AtomicWriteStep::kClose, "close"},
                                                           {AtomicWriteStep::kRename, "rename"}};
  for (const auto& [step, name] : steps) {
    CAPTURE(name);
    TempDir dir;
    const std::string path = dir.path() + "/out.bin";
    REQUIRE(write_file_atomically(path, "old", 3).ok());
    {
      FaultScope fault(step, ENOSPC);
      const Status status = write_file_atomically(path, "new content", 11);
      CHECK(g_fault.calls == 1);
      REQUIRE_FALSE(status.ok());
      CHECK(status.code() == StatusCode::kIoError);
      CHECK(status.message() == "failed to write '" + path + "': " + name + ": " + std::strerror(ENOSPC));
    }
    CHECK(read_all(path) == "old");
    CHECK(entries(dir.path()) == 1);

    // A file that did not exist still does not.
    const std::string fresh = dir.path() + "/fresh.bin";
    {
      FaultScope fault(step, EIO);
      CHECK_FALSE(write_file_atomically(fresh, "x", 1).ok());
    }
    CHECK(::access(fresh.c_str(), F_OK) != 0);
    CHECK(entries(dir.path()) == 1);
  }
}

TEST_CASE("a failed directory fsync is ignored (best effort): the new content is in place") {
  TempDir dir;
  const std::string path = dir.path() + "/out.bin";
  REQUIRE(write_file_atomically(path, "old", 3).ok());
  FaultScope fault(AtomicWriteStep::kFsyncDirectory, EIO);
  CHECK(write_file_atomically(path, "new", 3).ok());
  CHECK(g_fault.calls == 1);
  CHECK(read_all(path) == "new");
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("an interrupted write is retried") {
  TempDir dir;
  const std::string path = dir.path() + "/out.bin";
  FaultScope fault(AtomicWriteStep::kWrite, EINTR);
  REQUIRE(write_file_atomically(path, "whole", 5).ok());
  CHECK(g_fault.calls == 2);
  CHECK(read_all(path) == "whole");
}

namespace {

// kWrite answers in order, then 0 (let it run); how many write steps came.
std::vector<int> g_write_answers;
size_t g_write_steps = 0;

int scripted_writes(AtomicWriteStep step, const std::string&) {
  if (step != AtomicWriteStep::kWrite) return 0;
  return g_write_steps < g_write_answers.size() ? g_write_answers[g_write_steps++] : (++g_write_steps, 0);
}

struct ScriptedWrites {
  explicit ScriptedWrites(std::vector<int> answers) {
    g_write_answers = std::move(answers);
    g_write_steps = 0;
    set_atomic_write_fault_hook_for_testing(scripted_writes);
  }
  ~ScriptedWrites() { set_atomic_write_fault_hook_for_testing(nullptr); }
};

}  // namespace

TEST_CASE("short writes are continued until the whole content is written") {
  TempDir dir;
  const std::string path = dir.path() + "/out.bin";
  const std::string content(1000, 'x');
  ScriptedWrites writes({kShortWrite, kShortWrite, kShortWrite});
  REQUIRE(write_file_atomically(path, content.data(), content.size()).ok());
  CHECK(g_write_steps == 4);  // 500, 250, 125 bytes, then the remaining 125 in one write
  CHECK(read_all(path) == content);
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("a disk that fills up mid-file (a short write, then ENOSPC) keeps the old content and says so") {
  TempDir dir;
  const std::string path = dir.path() + "/out.bin";
  REQUIRE(write_file_atomically(path, "old", 3).ok());
  const std::string content(4096, 'n');
  ScriptedWrites writes({kShortWrite, ENOSPC});
  const Status status = write_file_atomically(path, content.data(), content.size());
  REQUIRE_FALSE(status.ok());
  CHECK(g_write_steps == 2);
  CHECK(status.message() == "failed to write '" + path + "': write: " + std::strerror(ENOSPC));
  CHECK(read_all(path) == "old");
  CHECK(entries(dir.path()) == 1);
}
