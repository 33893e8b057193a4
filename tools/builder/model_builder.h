// Writes .eclr files programmatically: used by the tests now and by the converter.
//
// Stage the model through the add_/set_ calls (or edit staged() directly, which tests
// use to write deliberately broken files), then finish(): it serializes with 64-byte
// aligned constant buffers, fills in the backbone hash and the file checksum.
// finish() does not verify; Model::open_buffer on its output does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "schema/edgeclr_generated.h"

namespace edgeclr {

struct QuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  int32_t axis = -1;  // -1 per tensor, else the channel axis
};

// Wraps operator options for add_operator: op_options(schema::OpOptions_Conv2DOptions, conv).
// `T` must be the options type of `type` (the generated union has no typed setter,
// because average and max pooling share one options table).
template <typename T>
schema::OpOptionsUnion op_options(schema::OpOptions type, T options) {
  schema::OpOptionsUnion u;
  u.type = type;
  u.value = new T(std::move(options));
  return u;
}

// The lowest format version that holds `model`: 3 when it uses a tensor operator
// (ConcatOptions and after in the OpOptions union) or a tensor of rank 5 or 6, else 2.
uint32_t required_format_version(const schema::ModelT& model);

class ModelBuilder {
 public:
  ModelBuilder();

  // A builder staged with everything of a verified model, constant buffers included, so
  // that one part can be changed (e.g. the head) and the model written again.
  static ModelBuilder from_model(const schema::Model& model);

  // Input spec: height x width, `channels` 1 (gray) or 3 (RGB), per-channel mean/std.
  void set_input(uint32_t height, uint32_t width, uint32_t channels, std::vector<float> mean,
                 std::vector<float> std, schema::ResizePolicy resize = schema::ResizePolicy_STRETCH,
                 uint32_t resize_shorter_side = 0);

  // Returns the new tensor's index.
  uint32_t add_activation(const std::string& name, std::vector<uint32_t> shape,
                          schema::DType dtype = schema::DType_FLOAT32,
                          std::optional<QuantParams> quant = std::nullopt);
  uint32_t add_constant(const std::string& name, std::vector<uint32_t> shape, schema::DType dtype,
                        const void* data, size_t bytes, std::optional<QuantParams> quant = std::nullopt);
  uint32_t add_constant_fp32(const std::string& name, std::vector<uint32_t> shape, const std::vector<float>& values);

  // `options` is e.g. a schema::Conv2DOptionsT set into the union.
  void add_operator(const std::string& name, schema::OpOptionsUnion options, std::vector<uint32_t> inputs,
                    std::vector<uint32_t> outputs);

  void set_graph(uint32_t input_tensor, uint32_t feature_tensor);

  // Weight row-major [out_dim, in_dim]; bias out_dim values or empty.
  void add_head_layer(uint32_t in_dim, uint32_t out_dim, std::vector<float> weight, std::vector<float> bias,
                      schema::Activation activation = schema::Activation_NONE);
  void set_embedding(uint32_t embedding_dim, bool l2_normalize);

  void set_provenance(const std::string& producer, const std::string& source_model);
  void add_metadata(const std::string& key, const std::string& value);

  // The staged model; constant data lives in buffers(), indexed by Tensor.buffer.
  schema::ModelT& staged() { return model_; }
  std::vector<std::vector<uint8_t>>& buffers() { return buffers_; }

  // Serializes. The backbone hash is computed when the tensors are well formed (else
  // left 0, for tests of broken files); the checksum is always right.
  std::vector<uint8_t> finish() const;

  // finish() and write atomically to `path`.
  Status write(const std::string& path) const;

 private:
  schema::ModelT model_;
  std::vector<std::vector<uint8_t>> buffers_;
};

}  // namespace edgeclr
