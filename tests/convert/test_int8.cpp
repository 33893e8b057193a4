// int8 corrections: cross-layer equalization (an exact fp32 rewrite that helps int8 where
// one activation channel is much wider than the others), bias correction (removes the
// mean shift of rounded weights), and the search that keeps layers in fp32 until a
// target cosine is reached.
#include <doctest/doctest.h>

#include <cstdlib>
#include <set>

#include "convert/int8_pipeline.h"
#include "convert_support.h"
#include "dataset/image_set.h"
#include "model/model_summary.h"
#include "model/op_checks.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

const std::string kFashionTest = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

dataset::ImageSet open_images(uint32_t channels) {
  auto images = dataset::ImageSet::open(kFashionTest, channels);
  REQUIRE_MESSAGE(images.ok(), images.status().message());
  return std::move(images).value();
}

// The largest |a - b| relative to the largest |b|.
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double max_abs = 0, max_err = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_abs = std::max(max_abs, std::abs(double{b[i]}));
    max_err = std::max(max_err, std::abs(double{a[i]} - b[i]));
  }
  return max_err / max_abs;
}

// Features of `model` for `rows` preprocessed NHWC inputs.
std::vector<float> features_of(const Model& model, const std::vector<float>& inputs, size_t rows) {
  std::vector<float> features, embeddings;
  run_model(model, inputs.data(), rows, &features, &embeddings);
  return features;
}

// Pseudo-random NHWC inputs of images: (p - mean) / std for pixels p in [0, 1], the range
// the runtime's preprocessing gives and equalization's ReLU6 bound assumes.
std::vector<float> test_inputs(const Model& model, size_t rows) {
  const size_t n = model.tensors()[model.backbone().input()].elements;
  const schema::InputSpec& spec = model.input_spec();
  const uint32_t channels = spec.channels();
  std::vector<float> v(rows * n);
  uint32_t state = 12345;
  for (size_t i = 0; i < v.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    const float p = static_cast<float>(state >> 8) / 16777216.0f;
    const uint32_t c = i % channels;
    const float mean = spec.mean() && c < spec.mean()->size() ? spec.mean()->Get(c) : 0.0f;
    const float std = spec.std() && c < spec.std()->size() ? spec.std()->Get(c) : 1.0f;
    v[i] = (p - mean) / std;
  }
  return v;
}

// A 1x1 conv writing 8 channels, channel 0 a hundred times wider than the rest, read by
// a 1x1 conv whose column 0 is small: per-tensor int8 of the activation between them
// leaves channels 1-7 a few levels, unless equalized. `clip6`: a ReLU6 between them that
// channel 0 reaches (pre-activation up to 12).
std::string wide_channel_model(const TempDir& dir, bool clip6) {
  OnnxGraph g;
  std::vector<float> a(8 * 3), b(4 * 8);
  for (int c = 0; c < 8; ++c) {
    for (int i = 0; i < 3; ++i) a[c * 3 + i] = c == 0 ? 4.0f : 0.04f * (1.0f + 0.1f * c + 0.05f * i);
  }
  for (int o = 0; o < 4; ++o) {
    for (int c = 0; c < 8; ++c) b[o * 8 + c] = c == 0 ? 0.01f : 0.5f + 0.1f * ((o + c) % 5);
  }
  g.values("a.w", {8, 3, 1, 1}, a);
  g.values("a.b", {8}, std::vector<float>(8, 0.0f));
  g.values("b.w", {4, 8, 1, 1}, b);
  g.values("b.b", {4}, {0.1f, -0.1f, 0.2f, 0.0f});
  g.node("Conv", {"image", "a.w", "a.b"}, "x");
  std::string between = "x";
  if (clip6) {
    g.scalar("zero", 0.0f);
    g.scalar("six", 6.0f);
    g.node("Clip", {"x", "zero", "six"}, "x6");
    between = "x6";
  }
  g.node("Conv", {between, "b.w", "b.b"}, "y");
  g.node("GlobalAveragePool", {"y"}, "pooled");
  g.node("Flatten", {"pooled"}, "feature");
  return g.write(dir, "feature");
}

convert::Int8Options options_for(size_t calibration, size_t holdout) {
  convert::Int8Options o;
  o.method = convert::CalibrationMethod::kMinMax;
  o.calibration_count = calibration;
  o.holdout = holdout;
  o.target_cosine = 0;  // no search unless a test asks
  return o;
}

double sqnr_of(const convert::FidelityReport& r, const std::string& op) {
  for (const auto& l : r.layers) {
    if (l.op == op) return l.sqnr_db;
  }
  FAIL("no layer " << op << " in the report");
  return 0;
}

// SQNR of `layer` in int8 without and with bias correction (no equalization, no search),
// calibrated on 100 Fashion-MNIST images as RGB, measured on the next 50.
std::pair<double, double> sqnr_without_and_with_bias_correction(const Model& model, const std::string& layer) {
  const dataset::ImageSet images = open_images(3);
  convert::Int8Options o = options_for(100, 50);
  o.equalization = convert::Equalization::kOff;
  o.quantize.bias_correction = false;
  auto without = convert::quantize_to_int8(model, images, o);
  o.quantize.bias_correction = true;
  auto with = convert::quantize_to_int8(model, images, o);
  REQUIRE((without.ok() && with.ok()));
  return {sqnr_of(without->after, layer), sqnr_of(with->after, layer)};
}

}  // namespace

TEST_CASE("equalization is an exact fp32 rewrite: features unchanged on torchvision and reference models") {
  const char* zoo = std::getenv("EDGECLR_ZOO_DIR");
  REQUIRE_MESSAGE(zoo != nullptr, "EDGECLR_ZOO_DIR is not set; run through ctest");
  // resnet18: ReLU pairs; mobilenet_v2: padded depthwise convs behind ReLU6 (held by the
  // bound) and linear bottlenecks; mobilenet_v3_small: HardSwish and squeeze-excitation.
  for (const std::string& path : {std::string(zoo) + "/resnet18.onnx", std::string(zoo) + "/mobilenet_v2.onnx",
                                  std::string(zoo) + "/mobilenet_v3_small.onnx", kFashionOnnx}) {
    INFO(path);
    const Converted c = convert_file(path, convert::LowerOptions{});
    convert::EqualizeReport report;
    auto bytes = convert::equalize_model(*c.model, nullptr, &report);
    REQUIRE_MESSAGE(bytes.ok(), bytes.status().message());
    auto equalized = Model::open_buffer(bytes->data(), bytes->size(), "equalized");
    REQUIRE_MESSAGE(equalized.ok(), equalized.status().message());
    CHECK(report.pairs > 0);
    CHECK(report.scaled > 0);  // something was rescaled, or the comparison proves nothing
    const std::vector<float> inputs = test_inputs(*c.model, 3);
    // Exact in real arithmetic; in fp32 the rescaled weights round differently. 2e-5 of
    // the largest feature (about 340 u): XNNPACK 2024's kernels put MobileNetV2 (53
    // layers) at 1.0004e-5, 2022's below 1e-5; a wrong scale on one channel moves
    // features by far more.
    CHECK(relative_error(features_of(*equalized.value(), inputs, 3), features_of(*c.model, inputs, 3)) < 2e-5);
  }
}

TEST_CASE("equalization: a ReLU6 the activation reaches holds its channels; outputs stay equal") {
  TempDir dir;
  const Converted c = convert_file(wide_channel_model(dir, true), convert::LowerOptions{});
  convert::EqualizeReport report;
  auto bytes = convert::equalize_model(*c.model, nullptr, &report);
  REQUIRE(bytes.ok());
  auto equalized = Model::open_buffer(bytes->data(), bytes->size(), "equalized");
  REQUIRE(equalized.ok());
  CHECK(report.pairs == 1);
  // Channel 0 reaches 12 before the clamp: held. Channels 1-7 stay far below 6: scaled.
  CHECK(report.clamp_limited >= 1);
  CHECK(report.scaled >= 7);
  // Pixels in [0, 1]: channel 0's pre-activation (4 x the sum of three) reaches 12.
  const std::vector<float> inputs = test_inputs(*c.model, 4);
  CHECK(relative_error(features_of(*equalized.value(), inputs, 4), features_of(*c.model, inputs, 4)) < 1e-5);
}

TEST_CASE("equalization raises int8 SQNR where one activation channel is much wider than the rest") {
  TempDir dir;
  const Converted c = convert_file(wide_channel_model(dir, false), convert::LowerOptions{});
  const dataset::ImageSet images = open_images(3);
  convert::Int8Options o = options_for(100, 50);
  o.quantize.bias_correction = false;  // equalization alone
  for (auto mode : {convert::Equalization::kActivations, convert::Equalization::kWeights}) {
    o.equalization = mode;
    auto r = convert::quantize_to_int8(*c.model, images, o);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    const double before = sqnr_of(r->before, "y_node"), after = sqnr_of(r->after, "y_node");
    INFO("SQNR of the second conv: ", before, " dB plain, ", after, " dB equalized");
    CHECK(after > before + 10.0);
    CHECK(r->after.mean_cosine > r->before.mean_cosine);
  }
  o.equalization = convert::Equalization::kOff;  // and without it nothing changes
  auto off = convert::quantize_to_int8(*c.model, images, o);
  REQUIRE(off.ok());
  CHECK(sqnr_of(off->after, "y_node") == doctest::Approx(sqnr_of(off->before, "y_node")));
}

TEST_CASE("bias correction removes the mean shift of weights that all round the same way") {
  // Conv B reads channel 0, the pixel mean of the three inputs, and 63 channels close to
  // 1 (a bias and a small share of the pixels). Weight 1 on channel 0 sets B's int8 scale
  // to 1/127, and 0.004 on the others rounds up to 1/127: +0.0039 on each of 63 taps that
  // read about 1, a shift of ~0.24 on every output, always in the same direction.
  TempDir dir;
  OnnxGraph g;
  std::vector<float> a(64 * 3, 0.01f / 3.0f), a_bias(64, 1.0f);
  for (int i = 0; i < 3; ++i) a[i] = 1.0f / 3.0f;
  a_bias[0] = 0.0f;
  g.values("a.w", {64, 3, 1, 1}, a);
  g.values("a.b", {64}, a_bias);
  std::vector<float> b(4 * 64, 0.004f);
  for (int o = 0; o < 4; ++o) b[o * 64] = 1.0f;
  g.values("b.w", {4, 64, 1, 1}, b);
  g.values("b.b", {4}, std::vector<float>(4, 0.0f));
  g.node("Conv", {"image", "a.w", "a.b"}, "x");
  g.node("Conv", {"x", "b.w", "b.b"}, "y");
  g.node("GlobalAveragePool", {"y"}, "pooled");
  g.node("Flatten", {"pooled"}, "feature");
  const Converted c = convert_file(g.write(dir, "feature"), convert::LowerOptions{});
  const auto [plain, corrected] = sqnr_without_and_with_bias_correction(*c.model, "y_node");
  INFO("SQNR of conv B: ", plain, " dB without, ", corrected, " dB with bias correction");
  CHECK(corrected > plain + 10.0);
}

TEST_CASE("bias correction maps a depthwise conv's output channels (multiplier 2) to their input channel") {
  // A: three channels of constant 1, 2 and 3 (bias) plus a little of the image. B: a 3x3
  // depthwise conv, multiplier 2 (6 outputs), no padding: one tap 1, eight taps 0.004
  // that round up. Each output's shift is 8 x 0.0039 x its own input channel's mean, so
  // reading the wrong channel leaves most of it.
  TempDir dir;
  OnnxGraph g;
  g.values("a.w", {3, 3, 1, 1}, std::vector<float>(9, 0.01f));
  g.values("a.b", {3}, {1.0f, 2.0f, 3.0f});
  std::vector<float> b(6 * 9, 0.004f);
  for (int o = 0; o < 6; ++o) b[o * 9 + 4] = 1.0f;
  g.values("b.w", {6, 1, 3, 3}, b);
  g.values("b.b", {6}, std::vector<float>(6, 0.0f));
  g.node("Conv", {"image", "a.w", "a.b"}, "x");
  auto* dw = g.node("Conv", {"x", "b.w", "b.b"}, "y");
  auto* group = dw->add_attribute();
  group->set_name("group");
  group->set_type(onnx::AttributeProto::INT);
  group->set_i(3);
  g.node("GlobalAveragePool", {"y"}, "pooled");
  g.node("Flatten", {"pooled"}, "feature");
  const Converted c = convert_file(g.write(dir, "feature"), convert::LowerOptions{});
  REQUIRE(summarize(*c.model).op_counts.count("depthwise_conv2d") == 1);
  const auto [plain, corrected] = sqnr_without_and_with_bias_correction(*c.model, "y_node");
  INFO("SQNR of the depthwise conv: ", plain, " dB without, ", corrected, " dB with bias correction");
  CHECK(corrected > plain + 10.0);
}

TEST_CASE("the fp32 search reaches a target it can, and says so when it cannot") {
  TempDir dir;
  const Converted c = convert_file(wide_channel_model(dir, false), convert::LowerOptions{});
  const dataset::ImageSet images = open_images(3);
  convert::Int8Options o = options_for(100, 50);
  o.equalization = convert::Equalization::kOff;  // leave the damage for the search
  o.quantize.bias_correction = false;
  o.target_cosine = 0.9999;
  auto r = convert::quantize_to_int8(*c.model, images, o);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  INFO("plain mean cosine ", r->before.mean_cosine, ", after the search ", r->after.mean_cosine);
  CHECK(r->before.mean_cosine < 0.9999);
  CHECK(r->target_reached);
  CHECK(r->search_stop == convert::SearchStop::kReached);
  CHECK(r->after.mean_cosine >= 0.9999);
  REQUIRE(!r->kept_by_search.empty());
  CHECK(r->int8_mac_share < 1.0);
  CHECK(r->total_macs == 8 * 8 * (8 * 3 + 4 * 8));  // two 1x1 convs on 8x8

  // A cosine of exactly 1 needs every layer in fp32 and no int8 at the input: not reached.
  const Converted fashion = convert_file(kFashionOnnx, convert::LowerOptions{});
  const dataset::ImageSet gray = open_images(1);
  o = options_for(100, 20);
  o.target_cosine = 1.0;
  auto unreachable = convert::quantize_to_int8(*fashion.model, gray, o);
  REQUIRE_MESSAGE(unreachable.ok(), unreachable.status().message());
  CHECK_FALSE(unreachable->target_reached);
  CHECK((unreachable->search_stop == convert::SearchStop::kStepLimit ||
         unreachable->search_stop == convert::SearchStop::kNoGain));
  CHECK(unreachable->after.mean_cosine < 1.0);
  CHECK(unreachable->int8_mac_share > 0.0);
}

TEST_CASE("MACs: MobileNetV3-Small at 224x224 is about 56M in its convolutions") {
  const char* zoo = std::getenv("EDGECLR_ZOO_DIR");
  REQUIRE(zoo != nullptr);
  const Converted c = convert_file(std::string(zoo) + "/mobilenet_v3_small.onnx", convert::LowerOptions{});
  uint64_t total = 0;
  CHECK(convert::int8_mac_share(*c.model, &total) == 0.0);  // an fp32 model
  // torchvision's figure is 0.06 GFLOPS (multiply-adds), the convs and the classifier's
  // first layer included (the second belongs to our head here).
  INFO("MACs ", total);
  CHECK(total > 50'000'000);
  CHECK(total < 62'000'000);
}

// A ViT on XNNPACK 2024 (torchvision's vit_b_32, random weights, from the families
// fixture): every fully connected layer in int8 with its input quantized per token at run
// time, the residual adds and everything between in fp32, the report covering the new
// layers. On XNNPACK 2022 the model cannot run, so it cannot be calibrated: an error
// naming what it needs.
TEST_CASE("int8 of a transformer: fully connected layers quantize their input per token, residual adds and the "
          "patch embedding stay fp32") {
  const char* zoo = std::getenv("EDGECLR_ZOO_FAMILIES_DIR");
  if (zoo == nullptr) zoo = EDGECLR_ZOO_FAMILIES_DIR;
  convert::LowerOptions lower;
  lower.l2_normalize = false;
  const Converted c = convert_file(std::string(zoo) + "/vit_b_32.onnx", lower);
  const dataset::ImageSet images = open_images(3);
  const convert::Int8Options o = options_for(16, 8);
  auto r = convert::quantize_to_int8(*c.model, images, o);
  if (xnnpack_info().api < 2024) {
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.status().message().find("needs XNNPACK 2024 or later") != std::string::npos, r.status().message());
    return;
  }
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  auto model = Model::open_buffer(r->bytes.data(), r->bytes.size(), "vit_b_32-int8.eclr");
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  const Model& m = *model.value();
  CHECK(m.root().format_version() == 4);
  const ModelSummary s = summarize(m);
  const auto count = [&](const std::string& type) { return s.op_counts.count(type) ? s.op_counts.at(type) : 0u; };
  CHECK(count("fully_connected_dynamic_int8") == 48);  // 12 blocks: attention in and out, MLP in and out
  CHECK(count("fully_connected") == 0);
  std::set<std::string> dynamic;
  for (const schema::Operator* op : *m.backbone().operators()) {
    if (op->options_type() == schema::OpOptions_Conv2DOptions) {  // the patch embedding reads the image
      CHECK(op->inputs()->Get(0) == m.backbone().input());
      CHECK(m.tensors()[op->inputs()->Get(1)].dtype == schema::DType_FLOAT32);
    }
    if (op->options_type() == schema::OpOptions_AddOptions) {
      CHECK_MESSAGE(m.tensors()[op->outputs()->Get(0)].dtype == schema::DType_FLOAT32, op->name()->str());
    }
    if (std::string(op_type_name(*op, m.tensors())) == "fully_connected_dynamic_int8") dynamic.insert(op->name()->str());
  }
  size_t reported = 0;
  for (const auto& layer : r->after.layers) reported += dynamic.count(layer.op);
  CHECK(reported == 48);
  MESSAGE("int8 vs fp32 embedding cosine: mean ", r->after.mean_cosine, ", min ", r->after.min_cosine);
  // All but the patch embedding (32x32x3 -> 768 on 7x7 patches: 115.6M of 4.36G MACs).
  CHECK(r->int8_mac_share > 0.97);
  CHECK(r->int8_mac_share < 0.98);
  CHECK(r->after.mean_cosine >= 0.999);
  CHECK(r->after.min_cosine >= 0.995);
}
