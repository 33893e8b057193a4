#include "convert/replace_head.h"

#include "adapt/head_checkpoint.h"
#include "builder/model_builder.h"
#include "model/model.h"

namespace edgeclr::convert {

Result<std::vector<uint8_t>> replace_head(const std::vector<uint8_t>& model_bytes, const std::string& head_path) {
  auto model = Model::open_buffer(model_bytes.data(), model_bytes.size(), "converted model");
  if (!model.ok()) return model.status();
  HeadCheckpointInfo info;
  auto head = load_head_checkpoint(head_path, *model.value(), &info);
  if (!head.ok()) return head.status();
  ModelBuilder builder = ModelBuilder::from_model(model.value()->root());
  builder.staged().head = std::make_unique<schema::HeadT>();
  for (const DenseLayer& layer : head->layers()) {
    builder.add_head_layer(layer.in_dim, layer.out_dim, layer.weight, layer.bias, layer.activation);
  }
  builder.set_embedding(head->embedding_dim(), head->l2_normalize());
  const size_t slash = head_path.find_last_of('/');
  builder.add_metadata("head_source", format("%s version %llu", head_path.substr(slash == std::string::npos ? 0 : slash + 1).c_str(),
                                             static_cast<unsigned long long>(info.version)));
  std::vector<uint8_t> bytes = builder.finish();
  auto check = Model::open_buffer(bytes.data(), bytes.size(), "model with the checkpoint's head");
  if (!check.ok()) return error(StatusCode::kInternal, check.status().message());
  if (check.value()->backbone_hash() != model.value()->backbone_hash()) {
    return error(StatusCode::kInternal, "replacing the head changed the backbone hash");
  }
  return bytes;
}

}  // namespace edgeclr::convert
