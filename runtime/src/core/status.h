// Status and Result<T>: how the runtime reports failure without exceptions.
//
// A function that can fail returns Status (or Result<T> when it also produces a value).
// The message is one line in the form
//   failed to <verb> <what>: <why> (<ids, values>)
// so that the CLI can print it as is and the C API can hand it to the caller.
#pragma once

#include <cstdarg>
#include <optional>
#include <string>
#include <utility>

namespace edgeclr {

// Mirrors edgeclr_status in edgeclr.h; the values are part of the C ABI.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // the caller passed something unusable (null, bad size)
  kInvalidModel = 2,     // a model, head or index file failed verification
  kUnsupported = 3,      // valid, but this build cannot run it
  kIoError = 4,          // open/read/write/mmap failed
  kOutOfMemory = 5,
  kInternal = 6,         // a bug in edgeclr
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// printf-style formatting into a std::string, for error messages.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

inline Status error(StatusCode code, std::string message) {
  return Status(code, std::move(message));
}

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be Ok

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace edgeclr

// Returns from the calling function when `expr` yields a failed Status.
#define EDGECLR_RETURN_IF_ERROR(expr)          \
  do {                                         \
    ::edgeclr::Status edgeclr_status_ = (expr); \
    if (!edgeclr_status_.ok()) return edgeclr_status_; \
  } while (0)
