// An encoder: preprocessing, backbone and head of one model, ready to turn images into
// features and embeddings.
//
// Everything is allocated in create(); encoding pixels allocates nothing (decoding a
// file does, inside stb_image). One encoder is used by one thread at a time; several
// encoders (each with its own threads) may share one Model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "core/status.h"
#include "head/projection_head.h"
#include "image/image_decode.h"
#include "image/preprocess.h"
#include "model/model.h"

namespace edgeclr {

struct EncoderOptions {
  uint32_t threads = 1;  // 1 = run on the calling thread, no pool
  uint32_t batch = 1;    // most images per encode call
};

class Encoder {
 public:
  // `model` must outlive the encoder.
  static Result<std::unique_ptr<Encoder>> create(const Model& model, const EncoderOptions& options);

  // Encodes `count` <= batch() images. `features` (count x feature_dim) and
  // `embeddings` (count x embedding_dim) may each be null when not wanted.
  Status encode(const PixelView* images, uint32_t count, float* features, float* embeddings);

  // Encodes `count` <= batch() inputs that are already preprocessed: `input` holds count x
  // height x width x channels floats (NHWC, resized and normalised as input_spec() says).
  // The backbone and head only; what an app with its own preprocessing calls, and what
  // benchmarks time as "the model alone". No heap allocation.
  Status encode_tensor(const float* input, uint32_t count, float* features, float* embeddings);

  // Decodes an image file (JPEG, PNG, BMP, PGM, PPM; EXIF orientation applied) and
  // encodes it.
  Status encode_file(const std::string& path, float* feature, float* embedding);

  // Replaces the model's head with `head` (e.g. an adapted one from
  // load_head_checkpoint), which must take this model's feature. Allocates the head's
  // buffers here, so encoding stays allocation-free.
  Status set_head(ProjectionHead head);

  // The smallest decode this encoder's preprocessing only shrinks (decode_target_for).
  DecodeTarget decode_target() const { return decode_target_for(spec_); }
  const Model& model() const { return model_; }
  const ProjectionHead& head() const { return head_; }
  uint32_t batch() const { return backbone_->batch(); }
  uint32_t threads() const { return backbone_->threads(); }
  uint32_t feature_dim() const { return model_.feature_dim(); }
  uint32_t embedding_dim() const { return head_.embedding_dim(); }

 private:
  Encoder(const Model& model, std::unique_ptr<Backbone> backbone)
      : model_(model), backbone_(std::move(backbone)),
        head_(ProjectionHead::from_schema(model.head(), model.feature_dim())),
        spec_(preprocess_spec_from(model.input_spec())) {}
  void size_head_buffers();  // embeddings_ and head_scratch_ for batch() rows
  // Runs the backbone on its input buffer (count inputs, the rest zeroed) and the head.
  Status run_model(uint32_t count, float* features, float* embeddings);
  size_t input_floats() const { return size_t{spec_.height} * spec_.width * spec_.channels; }

  const Model& model_;
  std::unique_ptr<Backbone> backbone_;
  ProjectionHead head_;
  PreprocessSpec spec_;
  std::vector<float> features_;      // batch x feature_dim, the backbone's output
  std::vector<float> head_scratch_;
  std::vector<float> embeddings_;    // batch x embedding_dim
};

}  // namespace edgeclr
