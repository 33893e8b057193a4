#include "capi/capi_guard.h"

namespace edgeclr::capi {
namespace {
thread_local std::string t_last_error;
}

edgeclr_status set_error(edgeclr_status status, const std::string& message) {
  try {
    t_last_error = message;
  } catch (...) {
    t_last_error.clear();  // keep the status even when the message cannot be stored
  }
  return status;
}

}  // namespace edgeclr::capi

extern "C" const char* edgeclr_last_error(void) { return edgeclr::capi::t_last_error.c_str(); }
