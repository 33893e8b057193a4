// Operators and exporter patterns against PyTorch: small models written by
// models/zoo/export_ops.py (a ctest fixture), each converted and run through the runtime.
#include <doctest/doctest.h>

#include <cstdlib>
#include <algorithm>
#include <fstream>

#include "convert/onnx_import.h"
#include "convert_support.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

std::string ops_dir() {
  const char* zoo = std::getenv("EDGECLR_ZOO_DIR");
  REQUIRE_MESSAGE(zoo != nullptr, "EDGECLR_ZOO_DIR is not set; run through ctest");
  return std::string(zoo) + "-ops";  // tests/convert/CMakeLists.txt
}

std::vector<std::string> op_models() {
  std::ifstream list(ops_dir() + "/ops.txt");
  std::vector<std::string> names;
  for (std::string line; std::getline(list, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

// A model with an operator this XNNPACK lacks (the tensor operators on 2022): checks that
// the encoder is refused, naming the XNNPACK it needs, and returns true.
bool refused_here(const Model& model) {
  auto backbone = Backbone::create(model, BackboneOptions{});
  if (backbone.ok()) return false;
  CHECK(xnnpack_info().api < 2024);
  CHECK_MESSAGE(backbone.status().message().find("needs XNNPACK 2024 or later") != std::string::npos,
                backbone.status().message());
  return true;
}

}  // namespace

TEST_CASE("each operator and exporter pattern matches PyTorch") {
  const std::vector<std::string> names = op_models();
  REQUIRE(names.size() >= 27);
  for (const std::string& name : names) {
    INFO(name);
    const std::string base = ops_dir() + "/" + name;
    convert::LowerOptions options;
    options.l2_normalize = false;
    options.flatten_spatial_feature = true;  // most of these end in a feature map
    const Converted c = convert_file(base + ".onnx", options);
    if (refused_here(*c.model)) continue;
    auto inputs = read_npy(base + ".inputs.npy");
    auto expected = read_npy(base + ".expected.npy");
    REQUIRE((inputs.ok() && expected.ok()));
    std::vector<float> features, embeddings;
    run_model(*c.model, inputs->f32(), inputs->shape[0], &features, &embeddings);
    expect_close(embeddings, expected.value(), "output");
  }
}

TEST_CASE("operators lower onto the runtime's own ops, not a fallback") {
  // The op each model exists for must appear in the converted model.
  const std::vector<std::pair<std::string, std::string>> want = {
      {"sub", "subtract"},       {"sub_constant_first", "subtract"}, {"div", "divide"},
      {"div_constant_first", "divide"}, {"max_min", "maximum"},     {"max_min", "minimum"},
      {"prelu_channel", "prelu"}, {"prelu_single", "prelu"},        {"elu", "elu"},
      {"silu", "sigmoid"},       {"standalone_batch_norm", "multiply"},
      // One operator for each spelled-out pattern, and no transpose where none is needed.
      {"concat_channels", "concat"}, {"channel_shuffle", "transpose"}, {"strided_slice", "slice"},
      {"layer_norm_nhwc", "layer_norm"}, {"gelu_erf", "gelu"}, {"gelu_tanh", "gelu"},
      {"attention", "softmax"},  {"attention_einsum", "softmax"},    {"class_token", "layer_norm"},
      {"layer_norm_op17", "layer_norm"}};
  for (const auto& [name, op] : want) {
    INFO(name, " should contain ", op);
    convert::LowerOptions options;
    options.flatten_spatial_feature = true;
    const Converted c = convert_file(ops_dir() + "/" + name + ".onnx", options);
    CHECK(summarize(*c.model).op_counts.count(op) == 1);
  }
  // The spelled-out patterns leave none of their parts behind, and the layouts no
  // transpose where the graph's transposes cancel (ConvNeXt's permute, LayerNorm, permute).
  convert::LowerOptions options;
  options.flatten_spatial_feature = true;
  const auto ops_of = [&](const char* name) { return summarize(*convert_file(ops_dir() + "/" + name + ".onnx", options).model).op_counts; };
  const auto layer_norm = ops_of("layer_norm_nhwc");
  CHECK(layer_norm.at("layer_norm") == 1);
  CHECK(layer_norm.count("transpose") == 0);
  CHECK(layer_norm.count("divide") == 0);
  CHECK(layer_norm.count("mean") == 0);
  for (const char* name : {"gelu_erf", "gelu_tanh"}) {
    const auto gelu = ops_of(name);
    CHECK(gelu.at("gelu") == 1);
    CHECK(gelu.count("multiply") == 0);
    CHECK(gelu.count("add") == 0);
  }
  CHECK(ops_of("attention_einsum").at("batch_matmul") == 2);
}

TEST_CASE("opset 9 exports of torchvision models (Clip with min/max attributes) match PyTorch") {
  const char* zoo = std::getenv("EDGECLR_ZOO_DIR");
  REQUIRE(zoo != nullptr);
  for (const std::string& name : {std::string("resnet18"), std::string("mobilenet_v2")}) {
    INFO(name);
    const std::string base = std::string(zoo) + "-opset9/" + name;
    convert::LowerOptions options;
    options.l2_normalize = false;
    const Converted c = convert_file(base + ".onnx", options);
    auto inputs = read_npy(base + ".inputs.npy");
    auto output = read_npy(base + ".expected.npy");
    REQUIRE((inputs.ok() && output.ok()));
    std::vector<float> features, embeddings;
    run_model(*c.model, inputs->f32(), inputs->shape[0], &features, &embeddings);
    expect_close(embeddings, output.value(), "output");
  }
}

TEST_CASE("opset 9 attribute forms: Pad and Clip by attributes, Slice of a shape by attributes") {
  // image [1,3,8,8] -> Pad (pads attribute, value 0.5) -> Clip(min 0.25, max 0.75 as
  // attributes) -> GlobalAveragePool -> Reshape to Shape(pooled)[0:2] (a Slice with
  // starts/ends attributes, folded) -> the feature [1,3].
  TempDir dir;
  OnnxGraph g;
  g.model.mutable_opset_import(0)->set_version(9);
  auto* pad = g.node("Pad", {"image"}, "padded");
  auto* pads = pad->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int v : {0, 0, 1, 2, 0, 0, 1, 0}) pads->add_ints(v);
  auto* value = pad->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::FLOAT);
  value->set_f(0.5f);
  auto* clip = g.node("Clip", {"padded"}, "clipped");
  for (const auto& [name, v] : {std::pair<const char*, float>{"min", 0.25f}, {"max", 0.75f}}) {
    auto* a = clip->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  g.node("GlobalAveragePool", {"clipped"}, "pooled");
  g.node("Shape", {"pooled"}, "shape");
  auto* slice = g.node("Slice", {"shape"}, "kept");
  for (const auto& [name, v] : {std::pair<const char*, int>{"starts", 0}, {"ends", 2}}) {
    auto* a = slice->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(v);
  }
  g.node("Reshape", {"pooled", "kept"}, "feature");
  convert::LowerOptions options;
  options.l2_normalize = false;
  const Converted c = convert_file(g.write(dir, "feature"), options);
  REQUIRE(c.model->feature_dim() == 3);
  // A constant image of value v in [0, 1]: the 10x10 padded map (H: 1 before, 1 after;
  // W: 2 before) has 64 values v and 36 values 0.5, each clipped to [0.25, 0.75].
  for (float v : {0.0f, 0.5f, 1.0f}) {
    std::vector<float> input(8 * 8 * 3, v), features, embeddings;
    run_model(*c.model, input.data(), 1, &features, &embeddings);
    const float clipped = std::min(std::max(v, 0.25f), 0.75f);
    const float want = (64.0f * clipped + 36.0f * 0.5f) / 100.0f;
    for (float f : features) CHECK(f == doctest::Approx(want).epsilon(1e-5));
  }
}

TEST_CASE("BatchNormalization with spatial = 0 (opsets 7-8) is refused, naming the node") {
  TempDir dir;
  OnnxGraph g;
  g.model.mutable_opset_import(0)->set_version(7);
  for (const char* name : {"s", "b", "m", "v"}) g.weight(name, {3}, 0.1f);
  auto* bn = g.node("BatchNormalization", {"image", "s", "b", "m", "v"}, "y");
  auto* spatial = bn->add_attribute();
  spatial->set_name("spatial");
  spatial->set_type(onnx::AttributeProto::INT);
  spatial->set_i(0);
  g.node("GlobalAveragePool", {"y"}, "feature");
  auto result = convert::convert_onnx_fp32(g.write(dir, "feature"), convert::LowerOptions{});
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().message().find("node 'y_node' (BatchNormalization): spatial = 0") != std::string::npos);
}

TEST_CASE("dynamic axes on the reference model: a symbolic batch, and batch, H and W, match PyTorch") {
  // fashion.onnx flattens with Flatten, so torch.onnx.export(dynamic_axes=...) writes the
  // same nodes with symbolic input dims; the test writes those dims into a copy.
  std::ifstream in(kFashionOnnx, std::ios::binary);
  onnx::ModelProto model;
  REQUIRE(model.ParseFromIstream(&in));
  const NpyArray inputs = fixture("inputs.npy");
  const NpyArray want = fixture("expected_embedding.npy");
  for (const std::vector<int>& dynamic : {std::vector<int>{0}, std::vector<int>{0, 2, 3}}) {
    onnx::ModelProto copy = model;
    auto* shape = copy.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
    const char* names[4] = {"N", "C", "H", "W"};
    for (int d : dynamic) shape->mutable_dim(d)->set_dim_param(names[d]);
    TempDir dir;
    std::string bytes;
    copy.SerializeToString(&bytes);
    const std::string path = dir.write("fashion-dynamic.onnx", std::vector<uint8_t>(bytes.begin(), bytes.end()));
    convert::LowerOptions options;
    options.l2_normalize = false;
    if (dynamic.size() > 1) {
      auto unbound = convert::convert_onnx_fp32(path, options);
      REQUIRE_FALSE(unbound.ok());
      CHECK(unbound.status().message().find("has dynamic dims [N,1,H,W]: give --input-size HxW") != std::string::npos);
      options.input.height = options.input.width = 28;
    }
    const Converted c = convert_file(path, options);
    std::vector<float> features, embeddings;
    run_model(*c.model, inputs.f32(), inputs.shape[0], &features, &embeddings);
    expect_close(embeddings, want, "embedding");
  }
}

TEST_CASE("--feature-output at a pooled [N,C,1,1] map that the file flattens through Shape/Concat/Reshape") {
  // dyn_flatten_view: GlobalAveragePool -> x.view(x.size(0), -1) -> Linear. Naming the
  // pool's output was refused ("the nodes after it are not all Gemm/MatMul/Add/Relu");
  // now the backbone ends there, the nodes after it are dropped, and the feature is the
  // pooled vector: the same values the default split (head = the Linear) computes.
  const std::string path = ops_dir() + "/dyn_flatten_view.onnx";
  auto graph = convert::import_onnx(path);
  REQUIRE(graph.ok());
  const auto pool = std::find_if(graph->nodes.begin(), graph->nodes.end(),
                                 [](const convert::Node& n) { return n.op == "GlobalAveragePool"; });
  REQUIRE(pool != graph->nodes.end());
  convert::LowerOptions cut;
  cut.feature_output = pool->outputs[0];
  const Converted at_pool = convert_file(path, cut);
  CHECK(at_pool.model->feature_dim() == 8);
  CHECK((at_pool.model->head().layers() == nullptr || at_pool.model->head().layers()->size() == 0));
  const Converted whole = convert_file(path, {});
  REQUIRE(whole.model->head().layers() != nullptr);
  REQUIRE(whole.model->head().layers()->size() == 1);
  auto inputs = read_npy(ops_dir() + "/dyn_flatten_view.inputs.npy");
  REQUIRE(inputs.ok());
  std::vector<float> cut_features, cut_embeddings, features, embeddings;
  run_model(*at_pool.model, inputs->f32(), inputs->shape[0], &cut_features, &cut_embeddings);
  run_model(*whole.model, inputs->f32(), inputs->shape[0], &features, &embeddings);
  REQUIRE(cut_features.size() == features.size());
  for (size_t i = 0; i < features.size(); ++i) CHECK(cut_features[i] == features[i]);
}
