// C API: encoders. Handles wrap edgeclr::Encoder; every entry point is guarded.
#include <cstddef>
#include <cstring>

#include "adapt/head_checkpoint.h"
#include "capi/capi_encoder.h"
#include "capi/capi_guard.h"
#include "capi/capi_model.h"
#include "edgeclr/edgeclr.h"

using edgeclr::capi::guard;
using edgeclr::capi::set_error;

namespace {

// edgeclr_image and PixelView are the same struct, so a caller's array is used as is.
static_assert(sizeof(edgeclr_image) == sizeof(edgeclr::PixelView), "edgeclr_image layout");
static_assert(offsetof(edgeclr_image, stride_bytes) == offsetof(edgeclr::PixelView, stride_bytes), "stride");
static_assert(offsetof(edgeclr_image, format) == offsetof(edgeclr::PixelView, format), "format");
static_assert(sizeof(edgeclr_pixel_format) == sizeof(edgeclr::PixelFormat) && sizeof(edgeclr_pixel_format) == sizeof(int),
              "pixel format size");
static_assert(static_cast<int>(edgeclr::PixelFormat::kGray) == EDGECLR_PIXEL_GRAY8 &&
                  static_cast<int>(edgeclr::PixelFormat::kRGB) == EDGECLR_PIXEL_RGB8 &&
                  static_cast<int>(edgeclr::PixelFormat::kRGBA) == EDGECLR_PIXEL_RGBA8 &&
                  static_cast<int>(edgeclr::PixelFormat::kBGRA) == EDGECLR_PIXEL_BGRA8,
              "pixel format values");

edgeclr_status check(const edgeclr::Status& status) {
  return status.ok() ? EDGECLR_OK : set_error(status);
}

}  // namespace

extern "C" {

edgeclr_status edgeclr_encoder_create(const edgeclr_model* model, uint32_t threads, uint32_t batch,
                                      edgeclr_encoder** out) {
  return guard([&] {
    if (out == nullptr) return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_encoder_create: out is NULL");
    *out = nullptr;
    if (model == nullptr) return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_encoder_create: model is NULL");
    auto encoder = edgeclr::Encoder::create(*model->impl, edgeclr::EncoderOptions{threads, batch});
    if (!encoder.ok()) return set_error(encoder.status());
    *out = new edgeclr_encoder{std::move(encoder).value()};
    return EDGECLR_OK;
  });
}

void edgeclr_encoder_destroy(edgeclr_encoder* encoder) { delete encoder; }

uint32_t edgeclr_encoder_batch(const edgeclr_encoder* encoder) { return encoder ? encoder->impl->batch() : 0; }

edgeclr_status edgeclr_encode_file(edgeclr_encoder* encoder, const char* path, float* embedding, float* feature) {
  return guard([&] {
    if (encoder == nullptr || path == nullptr) {
      return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_encode_file: encoder or path is NULL");
    }
    return check(encoder->impl->encode_file(path, feature, embedding));
  });
}

edgeclr_status edgeclr_encode_image(edgeclr_encoder* encoder, const edgeclr_image* image, float* embedding,
                                    float* feature) {
  return edgeclr_encode_batch(encoder, image, 1, embedding, feature);
}

edgeclr_status edgeclr_encode_batch(edgeclr_encoder* encoder, const edgeclr_image* images, uint32_t count,
                                    float* embeddings, float* features) {
  return guard([&] {
    if (encoder == nullptr || images == nullptr) {
      return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_encode_batch: encoder or images is NULL");
    }
    if (count == 0 || count > encoder->impl->batch()) {
      return set_error(EDGECLR_INVALID_ARGUMENT, edgeclr::format("edgeclr_encode_batch: %u images, the encoder's batch is %u",
                                                                 count, encoder->impl->batch()));
    }
    for (uint32_t i = 0; i < count; ++i) {
      // Read the enum's bytes as an int: loading an out-of-range value as the enum type
      // is undefined behaviour in C++, and a C caller can pass any int.
      int format = 0;
      std::memcpy(&format, &images[i].format, sizeof(format));
      if (format < EDGECLR_PIXEL_GRAY8 || format > EDGECLR_PIXEL_BGRA8) {
        return set_error(EDGECLR_INVALID_ARGUMENT,
                         edgeclr::format("edgeclr_encode_batch: image %u has unknown pixel format %d", i, format));
      }
    }
    const auto* views = reinterpret_cast<const edgeclr::PixelView*>(images);
    return check(encoder->impl->encode(views, count, features, embeddings));
  });
}

edgeclr_status edgeclr_encode_tensor(edgeclr_encoder* encoder, const float* input, uint32_t count,
                                     float* embeddings, float* features) {
  return guard([&] {
    if (encoder == nullptr || input == nullptr) {
      return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_encode_tensor: encoder or input is NULL");
    }
    if (count == 0 || count > encoder->impl->batch()) {
      return set_error(EDGECLR_INVALID_ARGUMENT, edgeclr::format("edgeclr_encode_tensor: %u inputs, the encoder's batch is %u",
                                                                 count, encoder->impl->batch()));
    }
    return check(encoder->impl->encode_tensor(input, count, features, embeddings));
  });
}

edgeclr_status edgeclr_encoder_load_head(edgeclr_encoder* encoder, const char* path) {
  return guard([&] {
    if (encoder == nullptr || path == nullptr) {
      return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_encoder_load_head: encoder or path is NULL");
    }
    auto head = edgeclr::load_head_checkpoint(path, encoder->impl->model(), nullptr);
    if (!head.ok()) return set_error(head.status());
    return check(encoder->impl->set_head(std::move(head).value()));
  });
}

}  // extern "C"
