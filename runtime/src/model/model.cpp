#include "model/model.h"

namespace edgeclr {
namespace {

Status load_error(const std::string& name, const Status& why) {
  return error(why.code(), format("failed to load model '%s': %s", name.c_str(), why.message().c_str()));
}

}  // namespace

Result<std::unique_ptr<Model>> Model::open_file(const std::string& path) {
  auto storage = ModelStorage::map_file(path);
  if (!storage.ok()) return load_error(path, storage.status());
  return verify(std::move(storage).value(), path);
}

Result<std::unique_ptr<Model>> Model::open_buffer(const void* data, size_t size, const std::string& name) {
  auto storage = ModelStorage::from_buffer(data, size);
  if (!storage.ok()) return load_error(name, storage.status());
  return verify(std::move(storage).value(), name);
}

Result<std::unique_ptr<Model>> Model::verify(ModelStorage storage, const std::string& name) {
  VerifiedModel verified;
  const Status status = verify_model(storage.data(), storage.size(), &verified);
  if (!status.ok()) return load_error(name, status);
  return std::unique_ptr<Model>(new Model(std::move(storage), std::move(verified), name));
}

}  // namespace edgeclr
