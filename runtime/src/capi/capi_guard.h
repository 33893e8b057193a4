// Helpers shared by the C API entry points: the thread-local error message and a guard
// that turns any escaping exception into a status.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "core/status.h"
#include "edgeclr/edgeclr.h"

namespace edgeclr::capi {

// Records `message` as this thread's last error and returns `status`.
edgeclr_status set_error(edgeclr_status status, const std::string& message);

inline edgeclr_status set_error(const Status& status) {
  return set_error(static_cast<edgeclr_status>(status.code()), status.message());
}

// Runs `body` (returning edgeclr_status); nothing it throws leaves.
template <typename Body>
edgeclr_status guard(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return set_error(EDGECLR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return set_error(EDGECLR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return set_error(EDGECLR_INTERNAL, "internal error: unknown exception");
  }
}

}  // namespace edgeclr::capi
