#include "builder/model_builder.h"

#include <algorithm>
#include <cstring>

#include "core/atomic_file.h"
#include "model/backbone_hash.h"
#include "model/model_checksum.h"
#include "model/model_limits.h"
#include "model/model_storage.h"
#include "model/tensor_checks.h"

namespace edgeclr {

ModelBuilder::ModelBuilder() {
  model_.format_version = 0;  // finish() stamps required_format_version unless a caller sets one
  model_.input = std::make_unique<schema::InputSpecT>();
  model_.backbone = std::make_unique<schema::BackboneT>();
  model_.head = std::make_unique<schema::HeadT>();
  model_.provenance = std::make_unique<schema::ProvenanceT>();
}

ModelBuilder ModelBuilder::from_model(const schema::Model& model) {
  ModelBuilder builder;
  model.UnPackTo(&builder.model_);
  for (const auto& buffer : builder.model_.buffers) builder.buffers_.push_back(std::move(buffer->data));
  builder.model_.buffers.clear();  // finish() writes buffers_, aligned
  return builder;
}

void ModelBuilder::set_input(uint32_t height, uint32_t width, uint32_t channels, std::vector<float> mean,
                             std::vector<float> std, schema::ResizePolicy resize, uint32_t resize_shorter_side) {
  schema::InputSpecT& in = *model_.input;
  in.height = height;
  in.width = width;
  in.channels = channels;
  in.color = channels == 1 ? schema::ColorSpace_GRAY : schema::ColorSpace_RGB;
  in.mean = std::move(mean);
  in.std = std::move(std);
  in.resize = resize;
  in.resize_shorter_side = resize_shorter_side;
}

uint32_t ModelBuilder::add_activation(const std::string& name, std::vector<uint32_t> shape, schema::DType dtype,
                                      std::optional<QuantParams> quant) {
  auto tensor = std::make_unique<schema::TensorT>();
  tensor->name = name;
  tensor->shape = std::move(shape);
  tensor->dtype = dtype;
  if (quant) {
    tensor->quantization = std::make_unique<schema::QuantizationT>();
    tensor->quantization->scale = quant->scale;
    tensor->quantization->zero_point = quant->zero_point;
    tensor->quantization->axis = quant->axis;
  }
  model_.backbone->tensors.push_back(std::move(tensor));
  return static_cast<uint32_t>(model_.backbone->tensors.size() - 1);
}

uint32_t ModelBuilder::add_constant(const std::string& name, std::vector<uint32_t> shape, schema::DType dtype,
                                    const void* data, size_t bytes, std::optional<QuantParams> quant) {
  const uint32_t index = add_activation(name, std::move(shape), dtype, std::move(quant));
  const auto* begin = static_cast<const uint8_t*>(data);
  buffers_.emplace_back(begin, begin + bytes);
  model_.backbone->tensors.back()->buffer = static_cast<int32_t>(buffers_.size() - 1);
  return index;
}

uint32_t ModelBuilder::add_constant_fp32(const std::string& name, std::vector<uint32_t> shape,
                                         const std::vector<float>& values) {
  return add_constant(name, std::move(shape), schema::DType_FLOAT32, values.data(), values.size() * sizeof(float));
}

void ModelBuilder::add_operator(const std::string& name, schema::OpOptionsUnion options,
                                std::vector<uint32_t> inputs, std::vector<uint32_t> outputs) {
  auto op = std::make_unique<schema::OperatorT>();
  op->name = name;
  op->options = std::move(options);
  op->inputs = std::move(inputs);
  op->outputs = std::move(outputs);
  model_.backbone->operators.push_back(std::move(op));
}

void ModelBuilder::set_graph(uint32_t input_tensor, uint32_t feature_tensor) {
  model_.backbone->input = input_tensor;
  model_.backbone->feature = feature_tensor;
}

void ModelBuilder::add_head_layer(uint32_t in_dim, uint32_t out_dim, std::vector<float> weight,
                                  std::vector<float> bias, schema::Activation activation) {
  auto layer = std::make_unique<schema::DenseLayerT>();
  layer->in_dim = in_dim;
  layer->out_dim = out_dim;
  layer->weight = std::move(weight);
  layer->bias = std::move(bias);
  layer->activation = activation;
  model_.head->layers.push_back(std::move(layer));
  model_.head->embedding_dim = out_dim;
}

void ModelBuilder::set_embedding(uint32_t embedding_dim, bool l2_normalize) {
  model_.head->embedding_dim = embedding_dim;
  model_.head->l2_normalize = l2_normalize;
}

void ModelBuilder::set_provenance(const std::string& producer, const std::string& source_model) {
  model_.provenance->producer = producer;
  model_.provenance->source_model = source_model;
}

void ModelBuilder::add_metadata(const std::string& key, const std::string& value) {
  auto kv = std::make_unique<schema::KeyValueT>();
  kv->key = key;
  kv->value = value;
  model_.metadata.push_back(std::move(kv));
}

namespace {

// Packs the staged model. Constant buffers go first and aligned, so that their data
// starts at a multiple of kModelAlignment from the start of the file.
flatbuffers::DetachedBuffer pack(const schema::ModelT& m, const std::vector<std::vector<uint8_t>>& buffers) {
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  fbb.ForceDefaults(true);  // checksum and backbone_hash must exist to be patched
  std::vector<flatbuffers::Offset<schema::Buffer>> buffer_offsets;
  for (const auto& bytes : buffers) {
    fbb.ForceVectorAlignment(bytes.size(), 1, kModelAlignment);
    const auto data = fbb.CreateVector(bytes);
    buffer_offsets.push_back(schema::CreateBuffer(fbb, data));
  }
  const auto buffer_vector = fbb.CreateVector(buffer_offsets);
  const auto input = m.input ? schema::CreateInputSpec(fbb, m.input.get()) : 0;
  const auto backbone = m.backbone ? schema::CreateBackbone(fbb, m.backbone.get()) : 0;
  const auto head = m.head ? schema::CreateHead(fbb, m.head.get()) : 0;
  const auto provenance = m.provenance ? schema::CreateProvenance(fbb, m.provenance.get()) : 0;
  std::vector<flatbuffers::Offset<schema::KeyValue>> metadata;
  for (const auto& kv : m.metadata) metadata.push_back(schema::CreateKeyValue(fbb, kv.get()));
  const auto metadata_vector = fbb.CreateVector(metadata);
  schema::ModelBuilder root(fbb);
  root.add_format_version(m.format_version != 0 ? m.format_version : required_format_version(m));
  if (!input.IsNull()) root.add_input(input);
  if (!backbone.IsNull()) root.add_backbone(backbone);
  if (!head.IsNull()) root.add_head(head);
  root.add_buffers(buffer_vector);
  if (!provenance.IsNull()) root.add_provenance(provenance);
  root.add_metadata(metadata_vector);
  root.add_checksum(0);
  schema::FinishModelBuffer(fbb, root.Finish());
  return fbb.Release();
}

}  // namespace

uint32_t required_format_version(const schema::ModelT& model) {
  if (!model.backbone) return kFirstTensorOpsFormat - 1;
  uint32_t version = kFirstTensorOpsFormat - 1;
  for (const auto& t : model.backbone->tensors) {
    if (t && t->shape.size() > 4) version = kFirstTensorOpsFormat;
  }
  for (const auto& op : model.backbone->operators) {
    if (!op) continue;
    if (op->options.type >= schema::OpOptions_ConcatOptions) version = std::max(version, kFirstTensorOpsFormat);
    const auto* fc = op->options.AsFullyConnectedOptions();
    if (fc && fc->input_quantization != schema::InputQuantization_NONE) return kFirstDynamicInt8Format;
  }
  return version;
}

std::vector<uint8_t> ModelBuilder::finish() const {
  const flatbuffers::DetachedBuffer packed = pack(model_, buffers_);
  // Copy into an aligned allocation first: the backbone hash reads the buffers in place.
  auto storage = ModelStorage::from_buffer(packed.data(), packed.size());
  std::vector<uint8_t> file(packed.data(), packed.data() + packed.size());
  if (!storage.ok()) return file;
  const schema::Model& root = *schema::GetModel(storage->data());
  std::vector<TensorInfo> tensors;
  schema::Model* mutable_root = schema::GetMutableModel(file.data());
  if (root.backbone() && root.input() && check_tensors(root, storage->data(), &tensors).ok() &&
      mutable_root->mutable_provenance() != nullptr) {
    mutable_root->mutable_provenance()->mutate_backbone_hash(compute_backbone_hash(root, tensors));
  }
  const uint8_t* field = checksum_field(*mutable_root);
  mutable_root->mutate_checksum(
      compute_file_checksum(file.data(), file.size(), field, hash_kind_for_format(mutable_root->format_version())));
  return file;
}

Status ModelBuilder::write(const std::string& path) const {
  const std::vector<uint8_t> file = finish();
  return write_file_atomically(path, file.data(), file.size());
}

}  // namespace edgeclr
