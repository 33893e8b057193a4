// edgeclr.hpp: a thin RAII wrapper over edgeclr.h (Model, Encoder). Header-only, no exceptions: every
// call that can fail returns edgeclr_status, with the message in last_error().
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "edgeclr/edgeclr.h"

namespace edgeclr {
namespace api {

inline std::string last_error() { return edgeclr_last_error(); }

// Owns an edgeclr_model. Move-only.
class Model {
 public:
  Model() = default;
  static edgeclr_status open(const std::string& path, Model* out) {
    edgeclr_model* handle = nullptr;
    const edgeclr_status status = edgeclr_model_open(path.c_str(), &handle);
    if (status == EDGECLR_OK) *out = Model(handle);
    return status;
  }
  // See edgeclr_model_open_buffer for the lifetime of `data`.
  static edgeclr_status open_buffer(const void* data, size_t size, Model* out) {
    edgeclr_model* handle = nullptr;
    const edgeclr_status status = edgeclr_model_open_buffer(data, size, &handle);
    if (status == EDGECLR_OK) *out = Model(handle);
    return status;
  }

  Model(Model&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Model& operator=(Model&& other) noexcept {
    if (this != &other) {
      edgeclr_model_close(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model() { edgeclr_model_close(handle_); }

  explicit operator bool() const { return handle_ != nullptr; }
  const edgeclr_model* get() const { return handle_; }

  uint32_t input_height() const { return edgeclr_model_input_height(handle_); }
  uint32_t input_width() const { return edgeclr_model_input_width(handle_); }
  uint32_t input_channels() const { return edgeclr_model_input_channels(handle_); }
  uint32_t feature_dim() const { return edgeclr_model_feature_dim(handle_); }
  uint32_t embedding_dim() const { return edgeclr_model_embedding_dim(handle_); }
  uint64_t backbone_hash() const { return edgeclr_model_backbone_hash(handle_); }

 private:
  explicit Model(edgeclr_model* handle) : handle_(handle) {}
  edgeclr_model* handle_ = nullptr;
};

// Owns an edgeclr_encoder. Move-only; used by one thread at a time. The Model it was
// created from must outlive it.
class Encoder {
 public:
  Encoder() = default;
  // threads: 1 = the calling thread; batch: most images per encode_batch call.
  static edgeclr_status create(const Model& model, uint32_t threads, uint32_t batch, Encoder* out) {
    edgeclr_encoder* handle = nullptr;
    const edgeclr_status status = edgeclr_encoder_create(model.get(), threads, batch, &handle);
    if (status == EDGECLR_OK) *out = Encoder(handle);
    return status;
  }

  Encoder(Encoder&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Encoder& operator=(Encoder&& other) noexcept {
    if (this != &other) {
      edgeclr_encoder_destroy(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;
  ~Encoder() { edgeclr_encoder_destroy(handle_); }

  explicit operator bool() const { return handle_ != nullptr; }
  uint32_t batch() const { return edgeclr_encoder_batch(handle_); }

  // `embedding` / `feature`: embedding_dim / feature_dim floats, or nullptr.
  edgeclr_status encode_file(const std::string& path, float* embedding, float* feature = nullptr) {
    return edgeclr_encode_file(handle_, path.c_str(), embedding, feature);
  }
  edgeclr_status encode_image(const edgeclr_image& image, float* embedding, float* feature = nullptr) {
    return edgeclr_encode_image(handle_, &image, embedding, feature);
  }
  edgeclr_status encode_batch(const edgeclr_image* images, uint32_t count, float* embeddings,
                              float* features = nullptr) {
    return edgeclr_encode_batch(handle_, images, count, embeddings, features);
  }
  edgeclr_status encode_tensor(const float* input, uint32_t count, float* embeddings, float* features = nullptr) {
    return edgeclr_encode_tensor(handle_, input, count, embeddings, features);
  }

 private:
  explicit Encoder(edgeclr_encoder* handle) : handle_(handle) {}
  edgeclr_encoder* handle_ = nullptr;
};

}  // namespace api
}  // namespace edgeclr
