#include "conformance/isolated_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/status.h"

namespace edgeclr::conformance {
namespace {

void write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += size_t(n);
  }
}

std::string read_all(int fd) {
  std::string bytes;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return bytes;
    bytes.append(buffer, size_t(n));
  }
}

// The last non-empty line of what the child wrote to stderr.
std::string last_line(std::FILE* captured) {
  std::rewind(captured);
  std::string text, line;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, captured)) > 0) text.append(buffer, n);
  size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) return "";
  const size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
}

}  // namespace

CaseResult run_isolated(const std::function<CaseResult()>& run, unsigned timeout_seconds) {
  int fds[2];
  if (::pipe(fds) != 0) return {Outcome::kFailed, format("pipe failed: %s", std::strerror(errno))};
  std::FILE* captured = std::tmpfile();
  if (captured == nullptr) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {Outcome::kFailed, format("tmpfile failed: %s", std::strerror(errno))};
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    std::fclose(captured);
    return {Outcome::kFailed, format("fork failed: %s", std::strerror(errno))};
  }
  if (child == 0) {
    ::close(fds[0]);
    ::dup2(::fileno(captured), STDERR_FILENO);
    ::alarm(timeout_seconds);  // SIGALRM's default action ends the child
    const CaseResult result = run();
    write_all(fds[1], std::string(1, static_cast<char>(result.outcome)) + result.detail);
    ::_exit(0);  // no atexit handlers or static destructors of the parent's libraries
  }
  ::close(fds[1]);
  const std::string message = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string child_stderr = last_line(captured);
  std::fclose(captured);
  const std::string said = child_stderr.empty() ? "" : "; its last stderr line: " + child_stderr;
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGALRM) return {Outcome::kFailed, format("timed out after %u s%s", timeout_seconds, said.c_str())};
    return {Outcome::kFailed, format("crashed: signal %d (%s)%s", sig, strsignal(sig), said.c_str())};
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || message.empty()) {
    return {Outcome::kFailed, format("the child exited with status %d without a result%s",
                                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, said.c_str())};
  }
  const char outcome = message[0];
  if (outcome != char(Outcome::kPassed) && outcome != char(Outcome::kRejected) && outcome != char(Outcome::kFailed)) {
    return {Outcome::kFailed, "the child sent a malformed result"};
  }
  return {static_cast<Outcome>(outcome), message.substr(1)};
}

}  // namespace edgeclr::conformance
