// The ONNX converter: the reference model against PyTorch's outputs (fp32), int8
// fidelity, and the refusals (unsupported ops, broken files) with their messages.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "backbone/backbone.h"
#include "convert/calibrate.h"
#include "convert/convert.h"
#include "convert/onnx_import.h"
#include "convert/quantize.h"
#include "dataset/image_set.h"
#include "head/projection_head.h"
#include "model/model.h"
#include "model/model_summary.h"
#include "convert_support.h"
#include "support/npy_reader.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

TEST_CASE("fp32: the reference model's features and embeddings match PyTorch's") {
  convert::LowerOptions options;
  options.l2_normalize = false;  // the fixture holds the head's raw output
  const Converted c = convert_file(kFashionOnnx, options);
  CHECK(c.model->feature_dim() == 256);
  CHECK(c.model->embedding_dim() == 128);
  CHECK(c.model->input_spec().channels() == 1);
  CHECK(std::abs(c.model->input_spec().mean()->Get(0) - 0.2860f) < 1e-6f);  // from metadata_props
  const NpyArray inputs = fixture("inputs.npy");
  std::vector<float> features, embeddings;
  run_model(*c.model, inputs.f32(), inputs.shape[0], &features, &embeddings);
  expect_close(features, fixture("expected_feature.npy"), "feature");
  expect_close(embeddings, fixture("expected_embedding.npy"), "embedding");
  const NpyArray want = fixture("expected_embedding.npy");
  for (size_t r = 0; r < inputs.shape[0]; ++r) {
    CHECK(row_cosine(embeddings.data() + r * 128, want.f32() + r * 128, 128) >= 0.9999);
  }
}

TEST_CASE("fp32: Clip(0, 6) after a Conv is fused into it, so no standalone clamp remains") {
  const Converted c = convert_file(kFashionOnnx, convert::LowerOptions{});
  const ModelSummary s = summarize(*c.model);
  CHECK(s.op_counts.count("clamp") == 0);
  CHECK(s.op_counts.at("depthwise_conv2d") == 5);
  CHECK(s.op_counts.at("add") == 3);
}

TEST_CASE("int8: calibrated on training images, embeddings stay within cosine 0.995 of fp32") {
  const Converted c = convert_file(kFashionOnnx, convert::LowerOptions{});
  auto images = dataset::ImageSet::open(kFashionTrain, 1);
  REQUIRE_MESSAGE(images.ok(), images.status().message());
  for (auto method : {convert::CalibrationMethod::kMinMax, convert::CalibrationMethod::kPercentile,
                      convert::CalibrationMethod::kMse}) {
    auto calibration = convert::calibrate(*c.model, images.value(), 0, 200, method, nullptr);
    REQUIRE_MESSAGE(calibration.ok(), calibration.status().message());
    auto builder = convert::quantize_model(*c.model, calibration.value(), {});
    REQUIRE_MESSAGE(builder.ok(), builder.status().message());
    const std::vector<uint8_t> bytes = builder->finish();
    auto int8 = Model::open_buffer(bytes.data(), bytes.size(), "int8");
    REQUIRE_MESSAGE(int8.ok(), int8.status().message());
    CHECK(std::string(summarize(*int8.value()).precision) == "int8");
    CHECK(int8.value()->backbone_hash() != c.model->backbone_hash());
    auto report = convert::measure_fidelity(*c.model, *int8.value(), images.value(), 200, 100, nullptr);
    REQUIRE_MESSAGE(report.ok(), report.status().message());
    CHECK(report->images == 100);
    CHECK(report->mean_cosine >= 0.995);
    CHECK(report->min_cosine >= 0.98);
    CHECK(report->layers.size() >= 20);
    for (const auto& layer : report->layers) CHECK_MESSAGE(layer.sqnr_db > 15.0, layer.op);
  }
}

TEST_CASE("int8: --keep-fp32 keeps the named layer in fp32") {
  const Converted c = convert_file(kFashionOnnx, convert::LowerOptions{});
  auto images = dataset::ImageSet::open(kFashionTrain, 1);
  REQUIRE(images.ok());
  auto calibration = convert::calibrate(*c.model, images.value(), 0, 20, convert::CalibrationMethod::kMinMax, nullptr);
  REQUIRE(calibration.ok());
  convert::QuantizeOptions options;
  options.keep_fp32 = {"/backbone/backbone.0/Conv"};
  auto builder = convert::quantize_model(*c.model, calibration.value(), options);
  REQUIRE(builder.ok());
  const std::vector<uint8_t> bytes = builder->finish();
  auto int8 = Model::open_buffer(bytes.data(), bytes.size(), "int8");
  REQUIRE(int8.ok());
  for (const schema::Operator* op : *int8.value()->backbone().operators()) {
    if (op->name()->str() != "/backbone/backbone.0/Conv") continue;
    CHECK(int8.value()->tensors()[op->outputs()->Get(0)].dtype == schema::DType_FLOAT32);
  }
}

TEST_CASE("an unsupported op is refused with its type, its node and what is supported") {
  TempDir dir;
  OnnxGraph g;
  g.weight("w", {4, 3, 3, 3}, 0.1f);
  g.node("Conv", {"image", "w"}, "c")->add_attribute();
  g.g->mutable_node(0)->mutable_attribute(0)->set_name("pads");
  g.g->mutable_node(0)->mutable_attribute(0)->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) g.g->mutable_node(0)->mutable_attribute(0)->add_ints(1);
  g.node("Hardmax", {"c"}, "s");
  const std::string path = g.write(dir, "s");
  auto bytes = convert::convert_onnx_fp32(path, {});
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.status().code() == StatusCode::kUnsupported);
  const std::string& m = bytes.status().message();
  CHECK(m.find("failed to convert '" + path + "'") == 0);
  CHECK(m.find("node 's_node' (Hardmax)") != std::string::npos);
  CHECK(m.find("supported: Conv, BatchNormalization") != std::string::npos);
}

TEST_CASE("a spatial feature and a second input are refused; a Reshape of a map flattens in ONNX's order") {
  TempDir dir;
  {
    OnnxGraph g;
    g.node("Relu", {"image"}, "r");
    auto bytes = convert::convert_onnx_fp32(g.write(dir, "r"), {});
    REQUIRE_FALSE(bytes.ok());
    CHECK(bytes.status().message().find("is a [1,3,8,8] map, not a vector") != std::string::npos);
  }
  {
    // [1,3,8,8] -> [1,192]: the NHWC image goes back to NCHW order first (a transpose).
    OnnxGraph g;
    auto* shape = g.g->add_initializer();
    shape->set_name("shape");
    shape->set_data_type(onnx::TensorProto::INT64);
    shape->add_dims(2);
    shape->add_int64_data(1);
    shape->add_int64_data(192);
    g.node("Reshape", {"image", "shape"}, "flat");
    auto bytes = convert::convert_onnx_fp32(g.write(dir, "flat"), {});
    REQUIRE_MESSAGE(bytes.ok(), bytes.status().message());
    auto model = Model::open_buffer(bytes->data(), bytes->size(), "flat.eclr");
    REQUIRE(model.ok());
    auto backbone = Backbone::create(*model.value(), BackboneOptions{});
    if (xnnpack_info().api < 2024) {
      REQUIRE_FALSE(backbone.ok());
      CHECK_MESSAGE(backbone.status().message().find("(transpose): needs XNNPACK 2024") != std::string::npos,
                    backbone.status().message());
    } else {
      REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
      std::vector<float> nhwc(192), feature(192);
      for (size_t i = 0; i < nhwc.size(); ++i) nhwc[i] = float(i);
      REQUIRE(backbone.value()->run(nhwc.data(), feature.data()).ok());
      for (size_t c = 0; c < 3; ++c) {
        for (size_t p = 0; p < 64; ++p) CHECK(feature[c * 64 + p] == nhwc[p * 3 + c]);
      }
    }
  }
  {
    OnnxGraph g;
    auto* second = g.g->add_input();
    second->set_name("mask");
    second->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    g.node("Add", {"image", "mask"}, "sum");
    auto bytes = convert::convert_onnx_fp32(g.write(dir, "sum"), {});
    REQUIRE_FALSE(bytes.ok());
    CHECK(bytes.status().message().find("more than one input") != std::string::npos);
  }
}

TEST_CASE("a file that is not ONNX, a missing file and an old opset are refused") {
  TempDir dir;
  const std::string junk = dir.write("junk.onnx", std::vector<uint8_t>(100, 0xff));
  auto bytes = convert::convert_onnx_fp32(junk, {});
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.status().message().find("not an ONNX model") != std::string::npos);
  CHECK(convert::convert_onnx_fp32(dir.path() + "/missing.onnx", {}).status().code() == StatusCode::kIoError);
  OnnxGraph g;
  g.model.mutable_opset_import(0)->set_version(6);
  g.node("Relu", {"image"}, "r");
  auto old = convert::convert_onnx_fp32(g.write(dir, "r"), {});
  REQUIRE_FALSE(old.ok());
  CHECK(old.status().message().find("opset 6, supported: 7 to " + std::to_string(convert::max_opset())) !=
        std::string::npos);
}

TEST_CASE("a graph that crashes ONNX's shape inference is an error, not a crash of the converter") {
  // ONNX 1.12's convPoolShapeInference reads past a Conv's weight shape when the weight's
  // rank is not the input's and kernel_shape is absent (a null dereference; found by
  // fuzzing). Inference runs in a child process, so that is reported with the signal.
  TempDir dir;
  OnnxGraph g;
  g.weight("w", {4, 3, 3, 3, 1, 1, 1}, 0.1f);
  g.node("Conv", {"image", "w", "w"}, "c");
  const std::string path = g.write(dir, "c");
  auto refused = convert::convert_onnx_fp32(path, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kInvalidModel);
  CHECK(refused.status().message().find("failed to convert '" + path +
                                        "': ONNX shape inference crashed (signal 11, Segmentation fault)") !=
        std::string::npos);
}

TEST_CASE("an error of ONNX's shape inference comes back from its child process with libonnx's message") {
  TempDir dir;
  OnnxGraph g;
  g.values("image", {2}, {1.0f, 2.0f});  // an initializer of rank 1 named as the rank-4 input
  g.node("Relu", {"image"}, "r");
  const std::string path = g.write(dir, "r");
  auto refused = convert::convert_onnx_fp32(path, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kInvalidModel);
  CHECK(refused.status().message().find("failed to convert '" + path + "': ONNX shape inference failed: ") !=
        std::string::npos);
  CHECK(refused.status().message().find("Inferred shape and existing shape differ in rank: (1) vs (4)") !=
        std::string::npos);
}

TEST_CASE("zero or negative strides, dilations, kernel sizes, groups and block sizes are refused before shape inference") {
  // ONNX 1.12's shape inference divides by them unchecked (SIGFPE; found by fuzzing).
  for (const char* attribute : {"strides", "dilations", "kernel_shape", "group"}) {
    CAPTURE(attribute);
    TempDir dir;
    OnnxGraph g;
    g.weight("w", {4, 3, 3, 3}, 0.1f);
    auto* conv = g.node("Conv", {"image", "w"}, "c");
    auto* a = conv->add_attribute();
    a->set_name(attribute);
    if (std::string(attribute) == "group") {
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(0);
    } else {
      a->set_type(onnx::AttributeProto::INTS);
      a->add_ints(2);
      a->add_ints(std::string(attribute) == "dilations" ? -1 : 0);
    }
    auto refused = convert::convert_onnx_fp32(g.write(dir, "c"), {});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().message().find(std::string("node 0 'c_node' (Conv): attribute ") + attribute +
                                          " must be positive") != std::string::npos);
  }
  TempDir dir;
  OnnxGraph g;
  auto* d2s = g.node("DepthToSpace", {"image"}, "d");
  auto* blocksize = d2s->add_attribute();
  blocksize->set_name("blocksize");
  blocksize->set_type(onnx::AttributeProto::INT);
  blocksize->set_i(0);
  auto refused = convert::convert_onnx_fp32(g.write(dir, "d"), {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("node 0 'd_node' (DepthToSpace): attribute blocksize must be positive") !=
        std::string::npos);
}

TEST_CASE("BatchNormalization after a Conv is folded into it, elsewhere it becomes multiply+add") {
  // image (constant pixel value v per channel) -> 1x1 Conv (w, b) -> BN -> GAP -> Flatten:
  // every output is gamma * (sum_i w[o,i] v_i + b[o] - mean) / sqrt(var + eps) + beta,
  // computed here from the definition of BatchNormalization.
  TempDir dir;
  OnnxGraph g;
  g.weight("w", {2, 3, 1, 1}, 0.25f);  // values 0.25 x ((i % 7) - 3): -0.75 -0.5 -0.25 0 0.25 0.5
  g.weight("b", {2}, 0.5f);            // -1.5 -1.0
  const float gamma[2] = {2.0f, 0.5f}, beta[2] = {0.1f, -0.2f}, mean[2] = {0.3f, -0.4f}, var[2] = {4.0f, 0.25f};
  for (const auto& [name, values] : std::vector<std::pair<std::string, const float*>>{
           {"gamma", gamma}, {"beta", beta}, {"mean", mean}, {"var", var}}) {
    auto* t = g.g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(2);
    t->add_float_data(values[0]);
    t->add_float_data(values[1]);
  }
  g.node("Conv", {"image", "w", "b"}, "c");
  auto* bn = g.node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, "n");
  auto* eps = bn->add_attribute();
  eps->set_name("epsilon");
  eps->set_type(onnx::AttributeProto::FLOAT);
  eps->set_f(0.01f);
  g.node("GlobalAveragePool", {"n"}, "p");
  g.node("Flatten", {"p"}, "f");
  convert::LowerOptions options;
  options.l2_normalize = false;
  const Converted c = convert_file(g.write(dir, "f"), options);
  CHECK(summarize(*c.model).op_counts.count("multiply") == 0);  // folded, not lowered

  const float pixel[3] = {0.5f, -1.0f, 2.0f};
  std::vector<float> input(8 * 8 * 3);
  for (size_t i = 0; i < input.size(); ++i) input[i] = pixel[i % 3];
  std::vector<float> features, embeddings;
  run_model(*c.model, input.data(), 1, &features, &embeddings);
  const float w[2][3] = {{-0.75f, -0.5f, -0.25f}, {0.0f, 0.25f, 0.5f}}, b[2] = {-1.5f, -1.0f};
  for (int o = 0; o < 2; ++o) {
    const double conv = w[o][0] * pixel[0] + w[o][1] * pixel[1] + w[o][2] * pixel[2] + b[o];
    const double expected = gamma[o] * (conv - mean[o]) / std::sqrt(var[o] + 0.01) + beta[o];
    CHECK(std::abs(features[o] - expected) <= 1e-5 * (1 + std::abs(expected)));  // a few float roundings
  }
}

TEST_CASE("division and subtraction by constants, spelled-out hard-swish and a trailing Softmax") {
  // image (constant value v per channel) -> 1x1 Conv (w, b) -> Div 2 -> Sub 0.5 ->
  // x * Clip(x + 3, 0, 6) / 6 (hard-swish as exporters write it) -> GAP -> Flatten ->
  // Gemm -> Softmax. Expected values computed here from the op definitions; the Softmax
  // is dropped with a note (the embedding is the head's output).
  TempDir dir;
  OnnxGraph g;
  g.weight("w", {2, 3, 1, 1}, 0.25f);  // -0.75 -0.5 -0.25 / 0 0.25 0.5
  g.weight("b", {2}, 0.5f);            // -1.5 -1.0
  g.weight("gw", {2, 2}, 0.5f);        // Gemm weight [out, in] (transB): -1.5 -1.0 / -0.5 0
  g.weight("gb", {2}, 1.0f);           // -3 -2
  for (const auto& [name, v] : std::vector<std::pair<std::string, float>>{
           {"two", 2.0f}, {"half", 0.5f}, {"three", 3.0f}, {"zero", 0.0f}, {"six", 6.0f}}) {
    g.scalar(name, v);
  }
  g.node("Conv", {"image", "w", "b"}, "c");
  g.node("Div", {"c", "two"}, "d");
  g.node("Sub", {"d", "half"}, "x");
  g.node("Add", {"x", "three"}, "x3");
  g.node("Clip", {"x3", "zero", "six"}, "r6");
  g.node("Mul", {"x", "r6"}, "xr");
  g.node("Div", {"xr", "six"}, "hs");
  g.node("GlobalAveragePool", {"hs"}, "p");
  g.node("Flatten", {"p"}, "f");
  auto* gemm = g.node("Gemm", {"f", "gw", "gb"}, "logits");
  auto* trans_b = gemm->add_attribute();
  trans_b->set_name("transB");
  trans_b->set_type(onnx::AttributeProto::INT);
  trans_b->set_i(1);
  g.node("Softmax", {"logits"}, "prob");
  convert::LowerOptions options;
  options.l2_normalize = false;
  std::vector<std::string> notes;
  auto bytes = convert::convert_onnx_fp32(g.write(dir, "prob"), options, &notes);
  REQUIRE_MESSAGE(bytes.ok(), bytes.status().message());
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("dropped the trailing Softmax 'prob_node'") == 0);
  auto model = Model::open_buffer(bytes->data(), bytes->size(), "m");
  REQUIRE(model.ok());

  const float pixel[3] = {0.5f, -1.0f, 2.0f};
  std::vector<float> input(8 * 8 * 3);
  for (size_t i = 0; i < input.size(); ++i) input[i] = pixel[i % 3];
  std::vector<float> features, embeddings;
  run_model(*model.value(), input.data(), 1, &features, &embeddings);
  const float w[2][3] = {{-0.75f, -0.5f, -0.25f}, {0.0f, 0.25f, 0.5f}}, b[2] = {-1.5f, -1.0f};
  double h[2];
  for (int o = 0; o < 2; ++o) {
    const double x = (w[o][0] * pixel[0] + w[o][1] * pixel[1] + w[o][2] * pixel[2] + b[o]) / 2.0 - 0.5;
    h[o] = x * std::min(6.0, std::max(0.0, x + 3.0)) / 6.0;
    CHECK(std::abs(features[o] - h[o]) <= 1e-5 * (1 + std::abs(h[o])));
  }
  const double logits[2] = {-1.5 * h[0] - 1.0 * h[1] - 3.0, -0.5 * h[0] + 0.0 * h[1] - 2.0};
  for (int o = 0; o < 2; ++o) CHECK(std::abs(embeddings[o] - logits[o]) <= 1e-5 * (1 + std::abs(logits[o])));

  // Division by a constant zero is refused, naming the node.
  TempDir dir2;
  OnnxGraph z;
  z.weight("w", {2, 3, 1, 1}, 0.25f);
  z.scalar("zero", 0.0f);
  z.node("Conv", {"image", "w"}, "c");
  z.node("Div", {"c", "zero"}, "d");
  z.node("GlobalAveragePool", {"d"}, "p");
  z.node("Flatten", {"p"}, "f");
  auto refused = convert::convert_onnx_fp32(z.write(dir2, "f"), options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("node 'd_node' (Div): divides by the constant 0") != std::string::npos);
}

TEST_CASE("torchvision models (random weights) convert and match PyTorch's outputs") {
  // Exported by models/zoo/export_torchvision.py into EDGECLR_ZOO_DIR (a ctest fixture).
  const char* zoo = std::getenv("EDGECLR_ZOO_DIR");
  REQUIRE_MESSAGE(zoo != nullptr, "EDGECLR_ZOO_DIR is not set; run through ctest");
  for (const std::string name : {"resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"}) {
    INFO(name);
    const std::string base = std::string(zoo) + "/" + name;
    convert::LowerOptions options;
    options.l2_normalize = false;  // compare the raw classifier output
    const Converted c = convert_file(base + ".onnx", options);
    auto inputs = read_npy(base + ".inputs.npy");
    auto feature = read_npy(base + ".expected_feature.npy");
    auto output = read_npy(base + ".expected.npy");
    REQUIRE((inputs.ok() && feature.ok() && output.ok()));
    std::vector<float> features, embeddings;
    run_model(*c.model, inputs->f32(), inputs->shape[0], &features, &embeddings);
    expect_close(features, feature.value(), "feature");
    expect_close(embeddings, output.value(), "output");
    for (size_t r = 0; r < inputs->shape[0]; ++r) {
      const size_t d = output->shape[1];
      CHECK(row_cosine(embeddings.data() + r * d, output->f32() + r * d, d) >= 0.9999);
    }
  }
}

// One torchvision model per family of general graphs (concat, transposes, attention,
// LayerNorm, GELU, strided and ceil-mode windows), exported by
// models/zoo/export_torchvision.py --families into EDGECLR_ZOO_FAMILIES_DIR. Each converts;
// on XNNPACK 2024 its feature matches PyTorch's; on 2022 the encoder is refused, naming an
// operator that needs 2024.
TEST_CASE("torchvision families with concat, attention, LayerNorm and GELU convert and match PyTorch (XNNPACK 2024)") {
  const char* zoo = std::getenv("EDGECLR_ZOO_FAMILIES_DIR");  // else the one ctest's fixture fills
  if (zoo == nullptr) zoo = EDGECLR_ZOO_FAMILIES_DIR;
  const char* only = std::getenv("EDGECLR_ZOO_FAMILIES");
  const std::string names = only ? only : "vit_b_32,swin_t,convnext_tiny,maxvit_t,densenet121,shufflenet_v2_x1_0,"
                                          "squeezenet1_0,googlenet,inception_v3,vgg11,alexnet";
  std::stringstream list(names);
  std::string name;
  while (std::getline(list, name, ',')) {
    INFO(name);
    const std::string base = std::string(zoo) + "/" + name;
    convert::LowerOptions options;
    options.l2_normalize = false;
    const Converted c = convert_file(base + ".onnx", options);
    auto backbone = Backbone::create(*c.model, BackboneOptions{});
    if (xnnpack_info().api < 2024) {
      REQUIRE_FALSE(backbone.ok());
      CHECK_MESSAGE(backbone.status().message().find("needs XNNPACK 2024 or later") != std::string::npos,
                    backbone.status().message());
      continue;
    }
    REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
    auto inputs = read_npy(base + ".inputs.npy");
    auto output = read_npy(base + ".expected.npy");  // the classifier's output: backbone and head
    REQUIRE((inputs.ok() && output.ok()));
    std::vector<float> features, embeddings;
    run_model(*c.model, inputs->f32(), inputs->shape[0], &features, &embeddings);
    expect_close(embeddings, output.value(), "output");
    const size_t d = output->count() / inputs->shape[0];
    for (size_t r = 0; r < inputs->shape[0]; ++r) {
      CHECK(row_cosine(embeddings.data() + r * d, output->f32() + r * d, d) >= 0.9999);
    }
  }
}

TEST_CASE("PyTorch's Hardswish before opset 14 becomes one hardswish; a HardSigmoid after a conv folds into it") {
  // torchvision's MobileNetV3-Small, exported at opset 13: 28 HardSigmoid nodes, 19 of them
  // gating their own input (Hardswish), 9 after the squeeze-excitation blocks' second conv.
  const char* zoo = std::getenv("EDGECLR_ZOO_DIR");
  REQUIRE_MESSAGE(zoo != nullptr, "EDGECLR_ZOO_DIR is not set; run through ctest");
  const Converted c = convert_file(std::string(zoo) + "/mobilenet_v3_small.onnx", convert::LowerOptions{});
  const ModelSummary s = summarize(*c.model);
  const auto count = [&](const std::string& type) { return s.op_counts.count(type) ? s.op_counts.at(type) : 0u; };
  CHECK(count("hardswish") == 19);
  // The other 9 follow a conv, which absorbs alpha and beta: a clamp to [0, 1] is left.
  CHECK(count("clamp") == 9);
  CHECK(count("add") == 6);  // the residual adds only
  CHECK(count("multiply") == 9);  // the gates
}

TEST_CASE("dynamic axes: batch binds to 1, H and W to the input size, then the model matches PyTorch") {
  // torch.onnx.export(..., dynamic_axes=...) files: input [N,3,224,224] and [N,3,H,W].
  const char* zoo_dir = std::getenv("EDGECLR_ZOO_DIR");
  REQUIRE_MESSAGE(zoo_dir != nullptr, "EDGECLR_ZOO_DIR is not set; run through ctest");
  const std::string zoo = std::string(zoo_dir) + "-dynamic";  // tests/convert/CMakeLists.txt
  for (const std::string name : {"resnet18", "mobilenet_v3_small"}) {
    INFO(name);
    const std::string base = zoo + "/" + name;
    auto inputs = read_npy(base + ".inputs.npy");
    auto output = read_npy(base + ".expected.npy");
    REQUIRE((inputs.ok() && output.ok()));
    for (const char* variant : {".dyn-batch.onnx", ".dyn-nhw.onnx"}) {
      INFO(variant);
      convert::LowerOptions options;
      options.l2_normalize = false;
      options.input.height = options.input.width = 224;
      const Converted c = convert_file(base + variant, options);
      std::vector<float> features, embeddings;
      run_model(*c.model, inputs->f32(), inputs->shape[0], &features, &embeddings);
      expect_close(embeddings, output.value(), "output");
      for (size_t r = 0; r < inputs->shape[0]; ++r) {
        const size_t d = output->shape[1];
        CHECK(row_cosine(embeddings.data() + r * d, output->f32() + r * d, d) >= 0.9999);
      }
    }
    // Without an input size the dynamic H and W are named, as the file writes them.
    auto unbound = convert::convert_onnx_fp32(base + ".dyn-nhw.onnx", convert::LowerOptions{});
    REQUIRE_FALSE(unbound.ok());
    CHECK(unbound.status().message() == "failed to convert '" + base +
                                            ".dyn-nhw.onnx': the input 'image' has dynamic dims [N,3,H,W]: give "
                                            "--input-size HxW");
    // Another size binds too (the network is fully convolutional up to its pooling).
    convert::LowerOptions other;
    other.input.height = 160;
    other.input.width = 192;
    const Converted resized = convert_file(base + ".dyn-nhw.onnx", other);
    CHECK(resized.model->input_spec().height() == 160);
    CHECK(resized.model->input_spec().width() == 192);
    // A static file's size cannot be changed: the error prints its dims as numbers.
    auto fixed = convert::convert_onnx_fp32(base + ".dyn-batch.onnx", other);
    REQUIRE_FALSE(fixed.ok());
    CHECK(fixed.status().message().find("--input-size 160x192 disagrees with the ONNX input [1,3,224,224]") !=
          std::string::npos);
  }
}

TEST_CASE("torchvision models quantize to int8 with a fidelity report (RGB from gray images)") {
  // Calibration on Fashion-MNIST test images, replicated to RGB and enlarged to 224x224:
  // not the data these (random) weights would see, but real images through the real path.
  const char* zoo = std::getenv("EDGECLR_ZOO_DIR");
  REQUIRE(zoo != nullptr);
  auto images = dataset::ImageSet::open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", 3);
  REQUIRE(images.ok());
  // resnet18: plain convs and adds quantize well. mobilenet_v3_small: its feature is
  // computed by an int8 Mul (hardswish as HardSigmoid x), so the feature needs its own range.
  for (const auto& [name, min_mean_cosine] : {std::pair<std::string, double>{"resnet18", 0.99},
                                             std::pair<std::string, double>{"mobilenet_v3_small", 0.5}}) {
    INFO(name);
    const Converted c = convert_file(std::string(zoo) + "/" + name + ".onnx", convert::LowerOptions{});
    auto calibration = convert::calibrate(*c.model, images.value(), 0, 20, convert::CalibrationMethod::kMinMax, nullptr);
    REQUIRE_MESSAGE(calibration.ok(), calibration.status().message());
    auto builder = convert::quantize_model(*c.model, calibration.value(), {});
    REQUIRE_MESSAGE(builder.ok(), builder.status().message());
    const std::vector<uint8_t> bytes = builder->finish();
    auto int8 = Model::open_buffer(bytes.data(), bytes.size(), name);
    REQUIRE_MESSAGE(int8.ok(), int8.status().message());
    auto report = convert::measure_fidelity(*c.model, *int8.value(), images.value(), 20, 5, nullptr);
    REQUIRE_MESSAGE(report.ok(), report.status().message());
    CHECK(report->mean_cosine >= min_mean_cosine);
    CHECK(!report->layers.empty());
  }
}

TEST_CASE("malformed preprocessing metadata is refused, not thrown") {
  TempDir dir;
  OnnxGraph g;
  auto* meta = g.model.add_metadata_props();
  meta->set_key("edgeclr.mean");
  meta->set_value("0.5,abc");
  g.node("GlobalAveragePool", {"image"}, "p");
  g.node("Flatten", {"p"}, "f");
  auto bytes = convert::convert_onnx_fp32(g.write(dir, "f"), {});
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.status().message().find("metadata_props edgeclr.mean is '0.5,abc'") != std::string::npos);
}

TEST_CASE("calibration samples every channel of an NHWC tensor, not a stride's few") {
  // 96 channels (as MobileNetV2's 112x112x96), channel c always c / 95: a percentile
  // range must span [0, 1]. A power-of-two stride kept channel 0 (and 32, 64) only.
  constexpr size_t kChannels = 96, kPixels = 112 * 112;
  std::vector<float> image(kPixels * kChannels);
  for (size_t i = 0; i < image.size(); ++i) image[i] = float(i % kChannels) / (kChannels - 1);
  convert::RangeObserver observer, again;
  for (int n = 0; n < 20; ++n) {  // 24 M values: the reservoir of 65,536 turns over
    observer.add(image.data(), image.size());
    again.add(image.data(), image.size());
  }
  const convert::Range percentile = observer.range(convert::CalibrationMethod::kPercentile);
  CHECK(percentile.min <= 1.0f / (kChannels - 1));
  CHECK(percentile.max >= 94.0f / (kChannels - 1));
  const convert::Range mse = observer.range(convert::CalibrationMethod::kMse);
  CHECK(mse.max >= 0.9f);
  const convert::Range minmax = observer.range(convert::CalibrationMethod::kMinMax);
  CHECK(minmax.min == 0.0f);
  CHECK(minmax.max == 1.0f);
  // Seeded: the same values give the same ranges.
  CHECK(again.range(convert::CalibrationMethod::kPercentile).max == percentile.max);
}
