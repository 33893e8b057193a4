#include "convert/convert.h"

#include <algorithm>
#include <map>

#include "convert/graph_passes.h"
#include "convert/onnx_import.h"
#include "model/model.h"

namespace edgeclr::convert {
namespace {

Status with_path(const std::string& path, const Status& status) {
  if (status.ok() || status.message().rfind("failed to convert", 0) == 0) return status;
  return error(status.code(), format("failed to convert '%s': %s", path.c_str(), status.message().c_str()));
}

// Every constant of the graph, initializers and folded node outputs.
std::map<std::string, Constant> constants_of(const Graph& graph) {
  std::map<std::string, Constant> out;
  for (const auto& [name, value] : graph.values) {
    if (value.constant) out[name] = *value.constant;
  }
  return out;
}

bool shapes_missing(const Graph& graph) {
  for (const Node& n : graph.nodes) {
    for (const std::string& out : n.outputs) {
      const auto it = graph.values.find(out);
      if (out.empty()) continue;
      if (it == graph.values.end() || !it->second.shape_known) return true;
      // ONNX 1.17 names a dim it cannot compute (a symbol) where 1.12 leaves the shape out.
      const auto& shape = it->second.shape;
      if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; })) return true;
    }
  }
  return false;
}

// Imports, drops pass-through nodes and folds constants. Where shape inference left
// shapes unknown behind folded chains (a Reshape to x.size(0), -1; ONNX 1.12 follows no
// Where or Expand, so a ViT's token count and a Swin's window masks stay unknown), imports
// again with the folded values as initializers, so inference sees constant shapes, until
// every shape is known or a round folds nothing new (Swin-T takes about 30 rounds).
Result<Graph> import_and_fold(const std::string& path, const InputBinding& binding) {
  constexpr int kMaxRounds = 64;
  std::map<std::string, Constant> folded;
  for (int round = 0;; ++round) {
    auto graph = import_onnx(path, binding, round == 0 ? nullptr : &folded);
    if (!graph.ok()) return graph.status();
    EDGECLR_RETURN_IF_ERROR(with_path(path, remove_passthrough(graph.value())));
    EDGECLR_RETURN_IF_ERROR(with_path(path, fold_constants(graph.value())));
    std::map<std::string, Constant> now = constants_of(graph.value());
    if (!shapes_missing(graph.value()) || now.size() <= folded.size() || round + 1 == kMaxRounds) return graph;
    folded = std::move(now);
  }
}

}  // namespace

Result<std::vector<uint8_t>> convert_onnx_fp32(const std::string& onnx_path, const LowerOptions& options,
                                               std::vector<std::string>* notes) {
  auto graph = import_and_fold(onnx_path, InputBinding{options.input.channels, options.input.height, options.input.width});
  if (!graph.ok()) return graph.status();
  EDGECLR_RETURN_IF_ERROR(with_path(onnx_path, drop_classifier_activation(graph.value(), notes)));
  EDGECLR_RETURN_IF_ERROR(with_path(onnx_path, fuse_layer_norm(graph.value())));  // before Div becomes Mul
  EDGECLR_RETURN_IF_ERROR(with_path(onnx_path, fuse_gelu(graph.value())));
  EDGECLR_RETURN_IF_ERROR(with_path(onnx_path, rewrite_constant_division(graph.value())));
  EDGECLR_RETURN_IF_ERROR(with_path(onnx_path, fuse_hard_swish(graph.value())));
  EDGECLR_RETURN_IF_ERROR(with_path(onnx_path, fold_batch_norm(graph.value())));
  EDGECLR_RETURN_IF_ERROR(with_path(onnx_path, fold_hard_sigmoid(graph.value())));
  auto builder = lower_to_eclr(graph.value(), options);
  if (!builder.ok()) return with_path(onnx_path, builder.status());
  std::vector<uint8_t> bytes = builder->finish();
  if (bytes.size() > kMaxModelBytes) {  // e.g. ViT-L in fp32 (1.2 GB)
    return with_path(onnx_path, error(StatusCode::kUnsupported,
                                      format("the converted model has %zu bytes (%.2f GB), more than the %zu bytes "
                                             "(1 GiB) an edgeclr model may have", bytes.size(), bytes.size() / 1e9,
                                             kMaxModelBytes)));
  }
  // What we write must load: the runtime's verifier is the final check.
  auto model = Model::open_buffer(bytes.data(), bytes.size(), "converted model");
  if (!model.ok()) return with_path(onnx_path, error(StatusCode::kInternal, model.status().message()));
  return bytes;
}

}  // namespace edgeclr::convert
