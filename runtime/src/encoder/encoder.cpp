#include "encoder/encoder.h"

#include <cstring>

namespace edgeclr {

Result<std::unique_ptr<Encoder>> Encoder::create(const Model& model, const EncoderOptions& options) {
  BackboneOptions backbone_options;
  backbone_options.threads = options.threads;
  backbone_options.batch = options.batch;
  auto backbone = Backbone::create(model, backbone_options);
  if (!backbone.ok()) return backbone.status();
  std::unique_ptr<Encoder> encoder(new Encoder(model, std::move(backbone).value()));
  encoder->features_.assign(size_t{options.batch} * model.feature_dim(), 0.0f);
  encoder->size_head_buffers();
  return encoder;
}

void Encoder::size_head_buffers() {
  embeddings_.assign(size_t{batch()} * embedding_dim(), 0.0f);
  head_scratch_.assign(head_.scratch_floats(batch()), 0.0f);
}

Status Encoder::set_head(ProjectionHead head) {
  if (head.feature_dim() != feature_dim()) {
    return error(StatusCode::kInvalidArgument, format("failed to set head: it takes a feature of %u values, the model gives %u",
                                                      head.feature_dim(), feature_dim()));
  }
  uint32_t width = head.feature_dim();
  for (const DenseLayer& layer : head.layers()) {
    if (layer.in_dim != width || layer.weight.size() != size_t{layer.in_dim} * layer.out_dim ||
        (!layer.bias.empty() && layer.bias.size() != layer.out_dim)) {
      return error(StatusCode::kInvalidArgument, "failed to set head: its layers do not chain");
    }
    width = layer.out_dim;
  }
  head_ = std::move(head);
  size_head_buffers();
  return Status::Ok();
}

Status Encoder::encode(const PixelView* images, uint32_t count, float* features, float* embeddings) {
  if (images == nullptr || count == 0 || count > batch()) {
    return error(StatusCode::kInvalidArgument,
                 format("failed to encode: %u images for an encoder of batch %u", count, batch()));
  }
  float* input = backbone_->input_buffer();
  for (uint32_t i = 0; i < count; ++i) {
    EDGECLR_RETURN_IF_ERROR(preprocess(images[i], spec_, input + i * input_floats()));
  }
  return run_model(count, features, embeddings);
}

Status Encoder::encode_tensor(const float* input, uint32_t count, float* features, float* embeddings) {
  if (input == nullptr || count == 0 || count > batch()) {
    return error(StatusCode::kInvalidArgument,
                 format("failed to encode: %u inputs for an encoder of batch %u", count, batch()));
  }
  std::memcpy(backbone_->input_buffer(), input, sizeof(float) * count * input_floats());
  return run_model(count, features, embeddings);
}

Status Encoder::run_model(uint32_t count, float* features, float* embeddings) {
  float* input = backbone_->input_buffer();
  // Unused slots of a partial batch still run; zero them so results never depend on
  // what was there before.
  std::memset(input + count * input_floats(), 0, (batch() - count) * input_floats() * sizeof(float));
  EDGECLR_RETURN_IF_ERROR(backbone_->run(input, features_.data()));
  if (features != nullptr) std::memcpy(features, features_.data(), sizeof(float) * count * feature_dim());
  if (embeddings != nullptr) {
    head_.forward(features_.data(), count, embeddings_.data(), head_scratch_.data());
    std::memcpy(embeddings, embeddings_.data(), sizeof(float) * count * embedding_dim());
  }
  return Status::Ok();
}

Status Encoder::encode_file(const std::string& path, float* feature, float* embedding) {
  auto image = decode_image_file(path, spec_.channels, decode_target_for(spec_));
  if (!image.ok()) return image.status();
  const PixelView view = image->view();
  return encode(&view, 1, feature, embedding);
}

}  // namespace edgeclr
