// A verified, read-only .eclr model. Immutable after open, so one Model may be shared
// by any number of threads and encoders (each must not outlive it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/model_storage.h"
#include "model/model_verify.h"

namespace edgeclr {

class Model {
 public:
  // Maps and verifies the file. Errors read "failed to load model '<path>': <why>".
  static Result<std::unique_ptr<Model>> open_file(const std::string& path);

  // Verifies a model held in memory; see ModelStorage::from_buffer for the lifetime of
  // `data`. `name` stands for the file in error messages.
  static Result<std::unique_ptr<Model>> open_buffer(const void* data, size_t size, const std::string& name);

  const schema::Model& root() const { return *verified_.root; }
  const schema::InputSpec& input_spec() const { return *verified_.root->input(); }
  const schema::Backbone& backbone() const { return *verified_.root->backbone(); }
  const schema::Head& head() const { return *verified_.root->head(); }
  const std::vector<TensorInfo>& tensors() const { return verified_.tensors; }

  uint32_t feature_dim() const { return verified_.feature_dim; }
  uint32_t embedding_dim() const { return verified_.embedding_dim; }
  uint64_t backbone_hash() const { return verified_.backbone_hash; }
  size_t file_size() const { return storage_.size(); }
  // See ModelStorage::release_pages: for constants (tensor data) a copy of which is all
  // that is read from now on.
  void release_pages(const void* begin, size_t bytes) const { storage_.release_pages(begin, bytes); }
  const std::string& name() const { return name_; }

 private:
  Model(ModelStorage storage, VerifiedModel verified, std::string name)
      : storage_(std::move(storage)), verified_(std::move(verified)), name_(std::move(name)) {}

  static Result<std::unique_ptr<Model>> verify(ModelStorage storage, const std::string& name);

  ModelStorage storage_;
  VerifiedModel verified_;
  std::string name_;
};

}  // namespace edgeclr
