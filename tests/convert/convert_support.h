// Helpers shared by the converter tests: converting a file, running a model, comparing
// with fixtures, and writing small ONNX graphs by hand.
#pragma once

#include <doctest/doctest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "convert/convert.h"
#include "head/projection_head.h"
#include "model/model.h"
#include "model/model_summary.h"
#include "support/npy_reader.h"
#include "support/temp_dir.h"

namespace edgeclr::testing {

const std::string kSource = EDGECLR_SOURCE_DIR;
const std::string kFashionOnnx = kSource + "/models/fashion/fashion.onnx";
const std::string kFixtures = kSource + "/tests/fixtures/fashion/";
const std::string kFashionTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

struct Converted {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
};

inline Converted convert_file(const std::string& path, convert::LowerOptions options) {
  auto bytes = convert::convert_onnx_fp32(path, options);
  REQUIRE_MESSAGE(bytes.ok(), bytes.status().message());
  Converted c{std::move(bytes).value(), nullptr};
  auto model = Model::open_buffer(c.bytes.data(), c.bytes.size(), path);
  REQUIRE(model.ok());
  c.model = std::move(model).value();
  return c;
}

// Runs backbone and head on preprocessed NHWC inputs: rows x feature_dim, rows x embedding_dim.
inline void run_model(const Model& model, const float* inputs, size_t rows, std::vector<float>* features,
               std::vector<float>* embeddings) {
  auto backbone = Backbone::create(model, BackboneOptions{});
  REQUIRE_MESSAGE(backbone.ok(), backbone.status().message());
  const ProjectionHead head = ProjectionHead::from_schema(model.head(), model.feature_dim());
  const size_t in = model.tensors()[model.backbone().input()].elements;
  features->assign(rows * model.feature_dim(), 0.0f);
  embeddings->assign(rows * head.embedding_dim(), 0.0f);
  std::vector<float> scratch(head.scratch_floats(1));
  for (size_t r = 0; r < rows; ++r) {
    float* f = features->data() + r * model.feature_dim();
    REQUIRE(backbone.value()->run(inputs + r * in, f).ok());
    head.forward(f, 1, embeddings->data() + r * head.embedding_dim(), scratch.data());
  }
}

inline NpyArray fixture(const std::string& name) {
  auto a = read_npy(kFixtures + name);
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  return std::move(a).value();
}

// PyTorch (oneDNN) and XNNPACK sum in different orders through ~20 layers; each layer's
// relative rounding error is about sqrt(reduction) x eps (~ 30 x 6e-8 = 2e-6), so about
// 4e-5 of the largest value after 20 layers. 1e-4 leaves 2.5x margin and is still far
// below what a wrong layout, padding or folded BatchNorm gives (> 1e-2).
inline void expect_close(const std::vector<float>& got, const NpyArray& want, const char* what) {
  REQUIRE(got.size() == want.count());
  double max_abs = 0, max_err = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    max_abs = std::max(max_abs, std::abs(double{want.f32()[i]}));
    max_err = std::max(max_err, std::abs(double{got[i]} - want.f32()[i]));
  }
  INFO(what, ": max error ", max_err, " of max |value| ", max_abs);
  CHECK(max_err <= 1e-4 * max_abs);
}

inline double row_cosine(const float* a, const float* b, size_t n) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; ++i) {
    dot += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  return dot / std::sqrt(na * nb);
}

// A small ONNX graph written by hand: input [1,3,8,8] -> nodes -> output.
struct OnnxGraph {
  onnx::ModelProto model;
  onnx::GraphProto* g;
  OnnxGraph() : g(model.mutable_graph()) {
    model.set_ir_version(8);
    model.add_opset_import()->set_version(13);
    auto* in = g->add_input();
    in->set_name("image");
    auto* shape = in->mutable_type()->mutable_tensor_type();
    shape->set_elem_type(onnx::TensorProto::FLOAT);
    for (int d : {1, 3, 8, 8}) shape->mutable_shape()->add_dim()->set_dim_value(d);
  }
  void weight(const std::string& name, std::vector<int64_t> dims, float value) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i) t->add_float_data(value * static_cast<float>((i % 7) - 3));
  }
  void values(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
  }
  void scalar(const std::string& name, float value) {  // a rank-0 float initializer
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(value);
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out + "_node");
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  }
  std::string write(const TempDir& dir, const std::string& output) {
    g->add_output()->set_name(output);
    std::string bytes;
    model.SerializeToString(&bytes);
    return dir.write("m.onnx", std::vector<uint8_t>(bytes.begin(), bytes.end()));
  }
};

}  // namespace edgeclr::testing
