#include "convert/shape_inference.h"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

namespace edgeclr::convert {
namespace {

// The child's reply on the pipe: one tag byte, then a serialized GraphProto holding only
// the inferred value_info and outputs (kShapes), or an error message (kError).
constexpr char kShapes = 'S';
constexpr char kError = 'E';

Status fail(const std::string& path, StatusCode code, const std::string& why) {
  return error(code, format("failed to convert '%s': %s", path.c_str(), why.c_str()));
}

bool write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string read_all(int fd) {
  std::string bytes;
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return bytes;
    bytes.append(chunk, static_cast<size_t>(n));
  }
}

// In the child: infer, reply, and leave with _exit (no atexit handlers, no leak check of
// a process that is about to vanish). A fault ends it by the default action of its
// signal, which the parent reports: no sanitizer report or fuzzer artifact from here.
[[noreturn]] void run_child(onnx::ModelProto* model, int reply_fd) {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, SIG_DFL);
  std::string reply;
  try {
    onnx::shape_inference::InferShapes(*model);
    onnx::GraphProto shapes;
    shapes.mutable_value_info()->Swap(model->mutable_graph()->mutable_value_info());
    shapes.mutable_output()->Swap(model->mutable_graph()->mutable_output());
    reply = kShapes + shapes.SerializeAsString();
  } catch (const std::exception& e) {
    reply = kError + std::string(e.what());
  }
  _exit(write_all(reply_fd, reply) ? 0 : 1);
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    return format("ONNX shape inference crashed (signal %d, %s): the graph is malformed in a way libonnx does not check",
                  WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return format("ONNX shape inference ended with exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

}  // namespace

Status infer_shapes_isolated(onnx::ModelProto* model, const std::string& path) {
  int fds[2];
  if (::pipe(fds) != 0) return fail(path, StatusCode::kInternal, format("pipe: %s", std::strerror(errno)));
  const pid_t child = ::fork();
  if (child < 0) {
    const int saved = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return fail(path, StatusCode::kInternal, format("cannot start shape inference: fork: %s", std::strerror(saved)));
  }
  if (child == 0) {
    ::close(fds[0]);
    run_child(model, fds[1]);
  }
  ::close(fds[1]);
  const std::string reply = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || reply.empty()) {
    return fail(path, StatusCode::kInvalidModel, describe_exit(status));
  }
  if (reply[0] == kError) {
    return fail(path, StatusCode::kInvalidModel, "ONNX shape inference failed: " + reply.substr(1));
  }
  onnx::GraphProto shapes;
  if (reply[0] != kShapes || !shapes.ParseFromArray(reply.data() + 1, static_cast<int>(reply.size() - 1))) {
    return fail(path, StatusCode::kInternal, "shape inference sent back an unreadable reply");
  }
  model->mutable_graph()->mutable_value_info()->Swap(shapes.mutable_value_info());
  model->mutable_graph()->mutable_output()->Swap(shapes.mutable_output());
  return Status::Ok();
}

}  // namespace edgeclr::convert
