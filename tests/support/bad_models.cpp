#include "support/bad_models.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "model/model_checksum.h"
#include "support/sample_models.h"

namespace edgeclr::testing {
namespace {

using Mutation = std::function<void(ModelBuilder&)>;

BadModel staged(const std::string& name, bool int8, const Mutation& mutate, const std::string& expect) {
  ModelBuilder b = int8 ? sample_int8_builder() : sample_fp32_builder();
  mutate(b);
  return BadModel{name, b.finish(), expect};
}

schema::TensorT& tensor(ModelBuilder& b, uint32_t i) { return *b.staged().backbone->tensors.at(i); }
schema::OperatorT& op(ModelBuilder& b, uint32_t i) { return *b.staged().backbone->operators.at(i); }

// Index of the first tensor named `name`.
uint32_t find(ModelBuilder& b, const std::string& name) {
  auto& tensors = b.staged().backbone->tensors;
  for (uint32_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i]->name == name) return i;
  }
  return 0;
}

}  // namespace

std::vector<BadModel> semantic_bad_models() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<BadModel> out;
  out.push_back(staged("op_input_out_of_range", false, [](ModelBuilder& b) { op(b, 1).inputs[0] = 999; },
                       "out of range"));
  out.push_back(staged("op_output_out_of_range", false, [](ModelBuilder& b) { op(b, 0).outputs[0] = 4000000; },
                       "out of range"));
  out.push_back(staged("graph_input_out_of_range", false, [](ModelBuilder& b) { b.staged().backbone->input = 77; },
                       "out of range"));
  out.push_back(staged("buffer_index_out_of_range", false,
                       [](ModelBuilder& b) { tensor(b, find(b, "stem.bias")).buffer = 1000; }, "buffer 1000 out of range"));
  out.push_back(staged("absurd_dimension", false,
                       [](ModelBuilder& b) { tensor(b, find(b, "stem")).shape = {1, 1u << 30, 8, 8}; }, "dimension 1"));
  out.push_back(staged("absurd_element_count", false,
                       [](ModelBuilder& b) { tensor(b, find(b, "stem")).shape = {1u << 20, 1u << 20, 8, 8}; },
                       "elements"));
  out.push_back(staged("zero_dimension", false, [](ModelBuilder& b) { tensor(b, find(b, "dw")).shape = {1, 0, 8, 8}; },
                       "dimension 1 is 0"));
  out.push_back(staged("rank_too_high", false,
                       [](ModelBuilder& b) { tensor(b, find(b, "dw")).shape = {1, 8, 8, 8, 1, 1, 1}; }, "rank 7"));
  out.push_back(staged("buffer_size_mismatch", false,
                       [](ModelBuilder& b) { tensor(b, find(b, "stem.bias")).shape = {9}; }, "needs 36 bytes"));
  out.push_back(staged("unknown_dtype", false,
                       [](ModelBuilder& b) { tensor(b, find(b, "dw")).dtype = static_cast<schema::DType>(9); },
                       "unknown dtype"));
  out.push_back(staged("zero_scale", true,
                       [](ModelBuilder& b) { tensor(b, find(b, "stem")).quantization->scale[0] = 0.0f; },
                       "scale 0 is 0"));
  out.push_back(staged("nan_scale", true,
                       [nan](ModelBuilder& b) { tensor(b, find(b, "stem.weight")).quantization->scale[3] = nan; },
                       "scale 3 is nan"));
  out.push_back(staged("negative_scale", true,
                       [](ModelBuilder& b) { tensor(b, find(b, "pw")).quantization->scale[0] = -1.0f; },
                       "expected finite and > 0"));
  out.push_back(staged("zero_point_out_of_range", true,
                       [](ModelBuilder& b) { tensor(b, find(b, "pw")).quantization->zero_point[0] = 200; },
                       "zero point 0 is 200"));
  out.push_back(staged("scale_count_mismatch", true,
                       [](ModelBuilder& b) { tensor(b, find(b, "stem.weight")).quantization->scale.pop_back(); },
                       "7 scales"));
  out.push_back(staged("quant_axis_out_of_rank", true,
                       [](ModelBuilder& b) { tensor(b, find(b, "stem.weight")).quantization->axis = 6; },
                       "axis 6 outside rank"));
  out.push_back(staged("int8_without_quantization", true,
                       [](ModelBuilder& b) { tensor(b, find(b, "dw")).quantization.reset(); }, "needs a scale"));
  out.push_back(staged("asymmetric_int8_weight", true,
                       [](ModelBuilder& b) { tensor(b, find(b, "pw.weight")).quantization->zero_point[0] = 5; },
                       "symmetric"));
  out.push_back(staged("graph_order", false,
                       [](ModelBuilder& b) { std::swap(b.staged().backbone->operators[0], b.staged().backbone->operators[1]); },
                       "before any operator writes it"));
  out.push_back(staged("tensor_written_twice", false, [](ModelBuilder& b) { op(b, 2).outputs[0] = op(b, 1).outputs[0]; },
                       "already written"));
  out.push_back(staged("no_operator_type", false, [](ModelBuilder& b) { op(b, 2).options.Reset(); },
                       "unknown operator type 0"));
  // A union type with its options table absent, for every operator type: the FlatBuffers
  // Verifier accepts it, so the loader must refuse it before reading options. Made by
  // zeroing the options entry of operator 0's vtable (FlatBuffers shares vtables, so
  // other operators may lose theirs too), then making the checksum right again.
  for (int type = schema::OpOptions_MIN + 1; type <= schema::OpOptions_MAX; ++type) {
    std::vector<uint8_t> bytes = sample_fp32_model();
    schema::Model* root = schema::GetMutableModel(bytes.data());
    auto* op0 = root->mutable_backbone()->mutable_operators()->GetMutableObject(0);
    // Offsets within `bytes` (indexing the vector, not pointers into it, keeps GCC's
    // object-size checks quiet).
    const size_t table = static_cast<size_t>(reinterpret_cast<uint8_t*>(op0) - bytes.data());
    int32_t vtable_offset;
    std::memcpy(&vtable_offset, &bytes[table], sizeof(vtable_offset));
    const size_t vtable = static_cast<size_t>(static_cast<int64_t>(table) - vtable_offset);
    uint16_t type_field;  // where options_type lies in the table (present: op 0 has options)
    std::memcpy(&type_field, &bytes[vtable + schema::Operator::VT_OPTIONS_TYPE], sizeof(type_field));
    bytes[table + type_field] = static_cast<uint8_t>(type);
    bytes[vtable + schema::Operator::VT_OPTIONS] = 0;
    bytes[vtable + schema::Operator::VT_OPTIONS + 1] = 0;
    root->mutate_checksum(compute_file_checksum(bytes.data(), bytes.size(), checksum_field(*root),
                                               hash_kind_for_format(root->format_version())));
    out.push_back(BadModel{"options_absent_" + std::to_string(type), bytes, "or no options"});
  }
  out.push_back(staged("conv_groups_mismatch", false,
                       [](ModelBuilder& b) { op(b, 1).options.AsConv2DOptions()->groups = 3; }, "groups 3"));
  out.push_back(staged("conv_output_shape", false,
                       [](ModelBuilder& b) { op(b, 0).options.AsConv2DOptions()->stride_h = 1; }, "output shape"));
  out.push_back(staged("conv_zero_stride", false,
                       [](ModelBuilder& b) { op(b, 0).options.AsConv2DOptions()->stride_w = 0; }, "each must be 1 to"));
  out.push_back(staged("conv_kernel_too_big", false,
                       [](ModelBuilder& b) {
                         auto* o = op(b, 3).options.AsConv2DOptions();
                         o->kernel_h = o->kernel_w = 40;
                         tensor(b, find(b, "pw.weight")).shape = {8, 40, 40, 8};
                         b.buffers()[tensor(b, find(b, "pw.weight")).buffer].resize(8 * 40 * 40 * 8 * 4);
                       },
                       "does not fit input"));
  out.push_back(staged("conv_bias_is_activation", false,
                       [](ModelBuilder& b) { op(b, 0).inputs[2] = find(b, "input"); }, "must be a constant"));
  out.push_back(staged("add_no_broadcast", false,
                       [](ModelBuilder& b) {
                         tensor(b, find(b, "pw.weight")).shape = {4, 1, 1, 8};
                         b.buffers()[tensor(b, find(b, "pw.weight")).buffer].resize(4 * 8 * 4);
                         tensor(b, find(b, "pw.bias")).shape = {4};
                         b.buffers()[tensor(b, find(b, "pw.bias")).buffer].resize(4 * 4);
                         tensor(b, find(b, "pw")).shape = {1, 8, 8, 4};
                       },
                       "do not broadcast"));
  out.push_back(staged("reshape_changes_count", false,
                       [](ModelBuilder& b) {
                         op(b, 6).options.AsReshapeOptions()->new_shape = {1, 9};
                         tensor(b, find(b, "feature")).shape = {1, 9};
                       },
                       "changes the element count"));
  out.push_back(staged("mixed_dtypes", true,
                       [](ModelBuilder& b) {
                         auto& t = tensor(b, find(b, "pool"));
                         t.dtype = schema::DType_FLOAT32;
                         t.quantization.reset();
                       },
                       "is fp32, expected int8"));
  out.push_back(staged("feature_is_constant", false,
                       [](ModelBuilder& b) { b.staged().backbone->feature = find(b, "stem.bias"); }, "feature"));
  out.push_back(staged("feature_not_flat", false,
                       [](ModelBuilder& b) { b.staged().backbone->feature = find(b, "residual"); },
                       "expected fp32 [1,D]"));
  out.push_back(staged("input_shape_not_spec", false, [](ModelBuilder& b) { b.staged().input->height = 17; },
                       "from the input spec"));
  out.push_back(staged("input_spec_channels", false,
                       [](ModelBuilder& b) { b.staged().input->channels = 2; }, "2 channels"));
  out.push_back(staged("input_spec_zero_std", false, [](ModelBuilder& b) { b.staged().input->std[1] = 0.0f; },
                       "std[1] is 0"));
  out.push_back(staged("input_spec_nan_mean", false, [nan](ModelBuilder& b) { b.staged().input->mean[0] = nan; },
                       "mean[0] is nan"));
  out.push_back(staged("input_spec_huge", false,
                       [](ModelBuilder& b) { b.staged().input->width = 100000; }, "expected 1 to 4096"));
  out.push_back(staged("head_dim_chain", false,
                       [](ModelBuilder& b) { b.staged().head->layers[1]->in_dim = 15; }, "head layer 1"));
  out.push_back(staged("head_weight_count", false,
                       [](ModelBuilder& b) { b.staged().head->layers[0]->weight.pop_back(); }, "127 weights"));
  out.push_back(staged("head_nan_weight", false,
                       [nan](ModelBuilder& b) { b.staged().head->layers[0]->weight[5] = nan; }, "weight[5] is nan"));
  out.push_back(staged("head_embedding_dim", false,
                       [](ModelBuilder& b) { b.staged().head->embedding_dim = 5; }, "embedding_dim is 5"));
  out.push_back(staged("missing_head", false, [](ModelBuilder& b) { b.staged().head.reset(); }, "missing"));
  out.push_back(staged("newer_format_version", false, [](ModelBuilder& b) { b.staged().format_version = 99; },
                       "format version 99"));
  out.push_back(staged("no_backbone_hash", false, [](ModelBuilder& b) { b.staged().provenance.reset(); },
                       "backbone_hash is 0000000000000000"));
  {
    // A weight edited after writing, with the checksum made right again: only the
    // backbone hash can tell.
    std::vector<uint8_t> bytes = sample_fp32_model();
    schema::Model* root = schema::GetMutableModel(bytes.data());
    auto* data = root->mutable_buffers()->GetMutableObject(0)->mutable_data();
    data->Mutate(0, static_cast<uint8_t>(data->Get(0) ^ 0x40));
    root->mutate_checksum(compute_file_checksum(bytes.data(), bytes.size(), checksum_field(*root),
                                               hash_kind_for_format(root->format_version())));
    out.push_back(BadModel{"stale_backbone_hash", bytes, "the backbone's content gives"});
  }
  {
    std::vector<uint8_t> bytes = sample_fp32_model();
    bytes[4] = 'X';  // the identifier sits at bytes 4..7
    out.push_back(BadModel{"wrong_identifier", bytes, "file identifier"});
  }
  return out;
}

std::vector<BadModel> truncated_models(const std::vector<uint8_t>& valid) {
  std::vector<BadModel> out;
  std::vector<size_t> lengths = {1, 4, 7, 8, 9, 16, 31, 64, valid.size() - 1, valid.size() - 8};
  for (size_t i = 1; i < 24; ++i) lengths.push_back(valid.size() * i / 24);
  for (size_t n : lengths) {
    out.push_back(BadModel{"truncated_" + std::to_string(n),
                           std::vector<uint8_t>(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(n)), ""});
  }
  return out;
}

std::vector<BadModel> byte_flipped_models(const std::vector<uint8_t>& valid, uint32_t count) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> position(0, valid.size() - 1);
  std::uniform_int_distribution<int> delta(1, 255);
  std::vector<size_t> positions = {0, valid.size() - 1};
  for (uint32_t i = 0; i < count; ++i) positions.push_back(position(rng));
  std::vector<BadModel> out;
  for (size_t pos : positions) {
    std::vector<uint8_t> bytes = valid;
    bytes[pos] = static_cast<uint8_t>(bytes[pos] + delta(rng));  // never 0 change
    out.push_back(BadModel{"flip_" + std::to_string(pos), std::move(bytes), ""});
  }
  return out;
}

}  // namespace edgeclr::testing
