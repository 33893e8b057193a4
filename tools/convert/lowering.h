// The lowering pass itself (lower.h is its interface): ONNX nodes to edgeclr operators.
// Private to tools/convert/. One class, its methods spread by kind of operator:
// lower.cpp (values, layouts, input, head split, driver), lower_image_ops.cpp (operators on
// NHWC image maps and elementwise ones), lower_tensor_ops.cpp (reshape, transpose, concat,
// slice, gather, matmul, softmax, mean, layer norm, gelu).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "convert/layout.h"
#include "convert/lower.h"

namespace edgeclr::convert {

using Dims = std::vector<uint32_t>;

Status unsupported(const Node& n, const std::string& why);

class Lowering {
 public:
  Lowering(const Graph& graph, const LowerOptions& options) : g_(graph), options_(options) {}
  Result<ModelBuilder> run();

 private:
  // ---- values and layouts (lower.cpp) ----
  struct Lowered {
    uint32_t tensor;
    Layout layout;  // stored.shape[k] = onnx.shape[layout[k]]
  };
  // ONNX dims of a value, an unknown batch read as 1; an error when unknown or out of range.
  Result<std::vector<int64_t>> onnx_dims(const std::string& value) const;
  size_t rank_of(const std::string& value) const { return g_.values.at(value).shape.size(); }
  // How an activation is stored; constants have no layout until a consumer picks one.
  Result<Lowered> lowered(const std::string& value);
  // The value stored in `layout`: a constant laid out so, an activation as it lies, or
  // moved by a transpose (or a reshape, when only size-1 axes move), made once per layout.
  Result<uint32_t> value_in(const std::string& value, const Layout& layout);
  // A constant of lower rank, padded with leading 1s to `rank` (NumPy broadcasting), then laid out.
  Result<uint32_t> broadcast_constant(const std::string& value, size_t rank, const Layout& layout);
  // A new activation for ONNX value `value` stored in `layout`.
  Result<uint32_t> new_value(const std::string& value, const Layout& layout);
  // The same stored tensor read as another ONNX value (a transpose that moves no data).
  void alias(const std::string& value, uint32_t tensor, const Layout& layout);
  // An activation of stored dims `dims` that is no ONNX value (a step inside one node).
  uint32_t new_step(const std::string& name, const Dims& dims);
  void add_op(const Node& n, schema::OpOptionsUnion options, std::vector<uint32_t> inputs, uint32_t output);
  void add_op(const std::string& name, schema::OpOptionsUnion options, std::vector<uint32_t> inputs, uint32_t output);
  // Activation fused from the single consumer of `out`, marking it done.
  schema::Activation fuse_activation(const std::string& out, std::string* final_out);
  const Dims& stored_shape(uint32_t tensor) { return b_.staged().backbone->tensors[tensor]->shape; }

  Status set_input();
  Status split_head();
  Status lower_node(size_t index);
  Status finish_feature();
  // The --pool of the token tensor feature_ [1, T, C]: a new tensor [1, C] or [1, 2C].
  Result<uint32_t> pool_tokens(const std::string& pooled);
  Status build_head();

  // ---- image maps and elementwise (lower_image_ops.cpp) ----
  Status lower_conv(const Node& n);
  Status lower_pool(const Node& n);
  Status lower_global_pool(const Node& n);
  Status lower_batch_norm(const Node& n);
  Status lower_prelu(const Node& n);
  Status lower_binary(const Node& n);
  Status lower_unary(const Node& n);
  Status lower_hard_sigmoid(const Node& n);
  Status lower_tanh(const Node& n);
  Status lower_pad(const Node& n);

  // ---- tensors (lower_tensor_ops.cpp) ----
  Status lower_gemm(const Node& n);
  Status lower_matmul(const Node& n);
  Status lower_reshape(const Node& n);
  Status lower_transpose(const Node& n);
  Status lower_concat(const Node& n);
  Status lower_slice(const Node& n);
  Status lower_split(const Node& n);
  Status lower_gather(const Node& n);
  Status lower_softmax(const Node& n);
  Status lower_reduce_mean(const Node& n);
  Status lower_layer_norm(const Node& n);
  Status lower_gelu(const Node& n);
  // Slice of stored tensor `in` (ONNX dims `in_dims`, layout `layout`) along ONNX axis
  // `axis` from `begin`, `size` long, as ONNX value `out`.
  Result<uint32_t> slice_axis(const std::string& out, uint32_t in, const std::vector<int64_t>& in_dims,
                              const Layout& layout, uint32_t axis, int64_t begin, int64_t size);

  const Graph& g_;
  const LowerOptions& options_;
  ModelBuilder b_;
  std::map<std::string, Lowered> lowered_;
  std::map<std::string, uint32_t> laid_out_;  // "value@layout" -> tensor (moved or constant copies)
  std::set<size_t> skip_;                     // nodes fused into another, or in the head
  std::vector<size_t> head_nodes_;            // Gemm/MatMul/Add/Relu of the head, in order
  std::string feature_;
  uint32_t input_tensor_ = 0;
};

}  // namespace edgeclr::convert
