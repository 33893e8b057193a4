// C API: status, errors, and model handles. Every entry point catches everything, so
// no exception crosses the C boundary (std::bad_alloc becomes EDGECLR_OUT_OF_MEMORY).
#include <new>
#include <string>

#include "backbone/backbone.h"
#include "capi/capi_guard.h"
#include "edgeclr/edgeclr.h"
#include "model/model.h"
#include "capi/capi_model.h"
#include "model/model_limits.h"

using edgeclr::capi::guard;
using edgeclr::capi::set_error;

extern "C" {

const char* edgeclr_version(void) { return EDGECLR_VERSION_STRING; }

const char* edgeclr_xnnpack_version(void) { return edgeclr::xnnpack_info().label; }

uint32_t edgeclr_format_version(void) { return edgeclr::kFormatVersion; }

const char* edgeclr_status_string(edgeclr_status status) {
  switch (status) {
    case EDGECLR_OK: return "ok";
    case EDGECLR_INVALID_ARGUMENT: return "invalid argument";
    case EDGECLR_INVALID_MODEL: return "invalid model";
    case EDGECLR_UNSUPPORTED: return "unsupported";
    case EDGECLR_IO_ERROR: return "i/o error";
    case EDGECLR_OUT_OF_MEMORY: return "out of memory";
    case EDGECLR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

static edgeclr_status finish_open(edgeclr::Result<std::unique_ptr<edgeclr::Model>> model,
                                  edgeclr_model** out) {
  if (!model.ok()) return set_error(model.status());
  *out = new edgeclr_model{std::move(model).value()};
  return EDGECLR_OK;
}

edgeclr_status edgeclr_model_open(const char* path, edgeclr_model** out) {
  return guard([&] {
    if (out == nullptr) return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_model_open: out is NULL");
    *out = nullptr;
    if (path == nullptr) return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_model_open: path is NULL");
    return finish_open(edgeclr::Model::open_file(path), out);
  });
}

edgeclr_status edgeclr_model_open_buffer(const void* data, size_t size, edgeclr_model** out) {
  return guard([&] {
    if (out == nullptr) return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_model_open_buffer: out is NULL");
    *out = nullptr;
    return finish_open(edgeclr::Model::open_buffer(data, size, "<buffer>"), out);
  });
}

void edgeclr_model_close(edgeclr_model* model) { delete model; }

uint32_t edgeclr_model_input_height(const edgeclr_model* m) { return m ? m->impl->input_spec().height() : 0; }
uint32_t edgeclr_model_input_width(const edgeclr_model* m) { return m ? m->impl->input_spec().width() : 0; }
uint32_t edgeclr_model_input_channels(const edgeclr_model* m) { return m ? m->impl->input_spec().channels() : 0; }
uint32_t edgeclr_model_feature_dim(const edgeclr_model* m) { return m ? m->impl->feature_dim() : 0; }
uint32_t edgeclr_model_embedding_dim(const edgeclr_model* m) { return m ? m->impl->embedding_dim() : 0; }
uint64_t edgeclr_model_backbone_hash(const edgeclr_model* m) { return m ? m->impl->backbone_hash() : 0; }

}  // extern "C"
