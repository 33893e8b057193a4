// Forks a child and SIGKILLs it at a chosen moment: the crash tests' way of dying in the
// middle of a write. The child reports each finished step (a uint64_t) on a pipe.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace edgeclr::testing {

struct ChildRun {
  uint64_t last_reported = 0;  // the last value the child wrote, or the `none` given
  bool killed = false;         // by our SIGKILL (else it ended by itself)
  bool exited_ok = false;      // ended by itself with status 0
};

// Runs `body(report_fd)` in a child (its return value is the exit status) and kills it
// `kill_after` from the fork unless it ends first. Spins rather than sleeps: sleeps are
// coarser than one write on a fast disk.
template <typename Body>
ChildRun run_child_until_killed(Body body, std::chrono::nanoseconds kill_after, uint64_t none) {
  int fds[2];
  if (::pipe(fds) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    _exit(body(fds[1]));
  }
  ::close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + kill_after;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
  }
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ChildRun run;
  run.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  run.exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  run.last_reported = none;
  uint64_t value = 0;
  while (::read(fds[0], &value, sizeof(value)) == sizeof(value)) run.last_reported = value;
  ::close(fds[0]);
  return run;
}

// The value after `name` on the command line, or `fallback`.
inline std::string arg_value(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

}  // namespace edgeclr::testing
