#include "conformance/conformance_case.h"

#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "backbone/backbone.h"
#include "conformance/output_check.h"
#include "convert/convert.h"
#include "convert/onnx_import.h"
#include "head/projection_head.h"
#include "model/model.h"
#include "support/reference_backbone.h"

namespace edgeclr::conformance {
namespace {

// The tolerance is this many times the reference's per-element bound E
// (tests/support/reference_backbone.cpp: the largest |XNNPACK - exact| a correct fp32
// evaluation of the converted model may show, from Higham's gamma_n on every sum of
// products, propagated through the graph). Three evaluations stand between edgeclr's
// output and ONNX's expected one, each within E of the exact value:
//   1. edgeclr's XNNPACK run of the converted model (E by construction);
//   2. the converter's constant rewrites (BatchNorm folded into conv weights, constant
//      folding): one fp32 rounding per weight, u |w| |x| per product, inside the
//      gamma(K + 1) sum |w| |x| term of E;
//   3. whatever produced output_0.pb (NumPy or PyTorch, fp32, any summation order): the
//      same analysis on the same ops gives the same bound.
// Each term is a bound, not an estimate, so 3 E is a bound; E is 0 for exact ops (ReLU,
// max pooling, padding, reshapes), which must then match bit for bit.
constexpr double kIndependentEvaluations = 3;

CaseResult passed(std::string detail) { return {Outcome::kPassed, std::move(detail)}; }
CaseResult rejected(std::string why) { return {Outcome::kRejected, std::move(why)}; }
CaseResult failed(std::string why) { return {Outcome::kFailed, std::move(why)}; }

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

bool exists(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

// input_0.pb, input_1.pb, ... (or output_...) as long as they exist.
size_t count_numbered(const std::string& dir, const std::string& prefix) {
  size_t n = 0;
  while (exists(dir + "/" + prefix + std::to_string(n) + ".pb")) ++n;
  return n;
}

bool parse_file(const std::string& path, google::protobuf::MessageLite* message) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return in && message->ParseFromString(bytes.str());
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

// What to convert and what to feed it. The test input feeding the graph's one
// non-initializer input is the image. Several input files are fine when all but one
// feed initializers with the initializer's own value (the converter bakes initializers
// in). Otherwise the model has several inputs and is rejected, unless
// `freeze_extra_inputs`: then input_0 is the image and every other test input becomes an
// initializer of a rewritten model (node tests pass conv weights and the like as inputs).
struct CasePlan {
  std::string onnx_path;   // the model to convert
  std::string input_file;  // empty when rejected
  std::string rejection;
  std::string temporary;   // a rewritten model to delete afterwards, or empty
};

CasePlan plan_case(const std::string& case_dir, size_t inputs, bool freeze_extra_inputs) {
  const std::string data = case_dir + "/test_data_set_0";
  const std::string original = case_dir + "/model.onnx";
  if (inputs == 0) return {original, "", "no input in the test data", ""};
  if (inputs == 1) return {original, data + "/input_0.pb", "", ""};
  onnx::ModelProto model;
  if (!parse_file(original, &model)) return {original, "", "model.onnx does not parse", ""};
  std::map<std::string, const onnx::TensorProto*> initializers;
  for (const auto& t : model.graph().initializer()) initializers[t.name()] = &t;
  std::vector<onnx::TensorProto> fed_inputs;  // test inputs that are not initializers
  std::vector<std::string> fed_files;
  for (size_t k = 0; k < inputs; ++k) {
    const std::string file = data + "/input_" + std::to_string(k) + ".pb";
    onnx::TensorProto fed;
    if (!parse_file(file, &fed)) return {original, "", "a test input does not parse", ""};
    if (fed.name().empty() && k < size_t(model.graph().input_size())) fed.set_name(model.graph().input(int(k)).name());
    const auto init = initializers.find(fed.name());
    if (init == initializers.end()) {
      fed_inputs.push_back(fed);
      fed_files.push_back(file);
      continue;
    }
    onnx::TensorProto a = fed, b = *init->second;
    a.clear_name();
    b.clear_name();
    if (a.SerializeAsString() != b.SerializeAsString()) {
      return {original, "", "the test data overrides an initializer with another value", ""};
    }
  }
  if (fed_inputs.size() == 1) return {original, fed_files[0], "", ""};
  if (!freeze_extra_inputs) return {original, "", "more than one input in the test data", ""};
  for (size_t k = 1; k < fed_inputs.size(); ++k) *model.mutable_graph()->add_initializer() = fed_inputs[k];
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp ? tmp : "/tmp") + "/edgeclr-conformance-XXXXXX";
  const int fd = ::mkstemp(&path[0]);
  if (fd < 0) return {original, "", "mkstemp failed", ""};
  const std::string bytes = model.SerializeAsString();
  const bool written = ::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size());
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return {original, "", "cannot write the frozen model", ""};
  }
  return {path, fed_files[0], "", path};
}

// NCHW [1,C,H,W] -> NHWC
std::vector<float> nchw_to_nhwc(const convert::Constant& t) {
  const int64_t c = t.dims[1], h = t.dims[2], w = t.dims[3];
  std::vector<float> out(t.floats.size());
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) out[size_t((y * w + x) * c + k)] = t.floats[size_t((k * h + y) * w + x)];
  return out;
}

CaseResult run_converted(const std::string& case_dir, const std::string& input_file,
                         const std::vector<uint8_t>& eclr) {
  auto model = Model::open_buffer(eclr.data(), eclr.size(), "converted model");
  if (!model.ok()) return failed("the converted model does not open: " + first_line(model.status().message()));
  const Model& m = *model.value();
  BackboneOptions backbone_options;
  backbone_options.threads = 1;
  backbone_options.batch = 1;
  auto backbone = Backbone::create(m, backbone_options);
  if (!backbone.ok()) {
    const std::string why = "backbone: " + first_line(backbone.status().message());
    return backbone.status().code() == StatusCode::kUnsupported ? rejected(why) : failed(why);
  }
  const ProjectionHead head = ProjectionHead::from_schema(m.head(), m.feature_dim());

  auto input = convert::read_tensor_file(input_file);
  if (!input.ok()) {
    const std::string why = "input: " + first_line(input.status().message());
    return input.status().code() == StatusCode::kUnsupported ? rejected(why) : failed(why);
  }
  const schema::InputSpec& spec = m.input_spec();
  const std::vector<int64_t> want_dims = {1, spec.channels(), spec.height(), spec.width()};
  if (input->dims != want_dims) {
    return failed("the converted model takes " + dims_text(want_dims) + " but ONNX feeds " + dims_text(input->dims) +
                  " (the converter accepted a batch or shape it does not run)");
  }
  const std::vector<float> image = nchw_to_nhwc(input.value());

  std::vector<float> feature(m.feature_dim());
  const Status run = backbone.value()->run(image.data(), feature.data());
  if (!run.ok()) return failed("backbone run: " + first_line(run.message()));
  std::vector<float> got(head.embedding_dim()), scratch(head.scratch_floats(1));
  head.forward(feature.data(), 1, got.data(), scratch.data());

  auto expected_tensor = convert::read_tensor_file(case_dir + "/test_data_set_0/output_0.pb");
  if (!expected_tensor.ok()) return failed("expected output: " + first_line(expected_tensor.status().message()));
  const std::vector<float> expected = expected_in_edgeclr_order(expected_tensor->dims, expected_tensor->floats);
  if (expected.size() != got.size()) {
    return failed("edgeclr gives " + std::to_string(got.size()) + " values, ONNX expects " +
                  std::to_string(expected.size()) + " " + dims_text(expected_tensor->dims));
  }

  // The tolerance, and the reference's own output to tell converter bugs from runtime ones.
  testing::ReferenceFeature reference;
  try {
    reference = testing::reference_feature_with_tolerance(m, image.data(), 1);
  } catch (const std::exception& e) {
    // A gap in the test's oracle (tests/support/reference_backbone.cpp), not necessarily
    // in the converter: without it there is no tolerance, so it cannot pass.
    return failed(std::string("the reference (tests/support) cannot run the converted model, so no tolerance: ") +
                  e.what());
  }
  std::vector<double> tolerance = head_output_bound(head, feature, reference.tolerance);
  for (double& t : tolerance) t *= kIndependentEvaluations;
  std::vector<float> reference_out(head.embedding_dim());
  head.forward(reference.feature.data(), 1, reference_out.data(), scratch.data());

  const Comparison c = compare(got, expected, tolerance);
  if (c.out_of_tolerance == 0) {
    return passed(format("max |diff| / tolerance %.3g", c.worst_tolerance > 0 ? c.worst_diff / c.worst_tolerance : 0.0));
  }
  const Comparison r = compare(reference_out, expected, tolerance);
  const Comparison x = compare(got, reference_out, tolerance);
  const char* suspect = r.out_of_tolerance == 0 ? "runtime: XNNPACK disagrees with the reference, which matches ONNX"
                        : x.out_of_tolerance == 0
                            ? "converter: the converted model computes something else than the ONNX model"
                            : "runtime and converter: XNNPACK, the reference and ONNX all disagree";
  const size_t i = c.worst;
  return failed(format("%zu of %zu values out of tolerance; worst at %s: got %.9g, expected %.9g, |diff| %.3g > "
                       "tolerance %.3g; edgeclr's reference gives %.9g there (%zu values off ONNX). Suspect %s",
                       c.out_of_tolerance, got.size(), onnx_position(expected_tensor->dims, i).c_str(),
                       double{got[i]}, double{expected[i]}, c.worst_diff, c.worst_tolerance,
                       double{reference_out[i]}, r.out_of_tolerance, suspect));
}

}  // namespace

CaseResult run_case(const std::string& case_dir, const CaseOptions& case_options) {
  const std::string data = case_dir + "/test_data_set_0";
  const size_t inputs = count_numbered(data, "input_"), outputs = count_numbered(data, "output_");
  if (outputs != 1) return rejected(outputs == 0 ? "no output in the test data" : "more than one output in the test data");
  const CasePlan plan = plan_case(case_dir, inputs, case_options.freeze_extra_inputs);
  if (plan.input_file.empty()) return rejected(plan.rejection);

  convert::LowerOptions options;
  options.l2_normalize = false;
  options.flatten_spatial_feature = true;  // compare any 4-D output, flattened H, W, C
  options.feature_output = "";             // the default backbone/head split
  options.source_model = case_dir + "/model.onnx";
  auto eclr = convert::convert_onnx_fp32(plan.onnx_path, options);
  if (!plan.temporary.empty()) ::unlink(plan.temporary.c_str());
  if (!eclr.ok()) {
    const StatusCode code = eclr.status().code();
    std::string why = first_line(eclr.status().message());
    if (!plan.temporary.empty()) {  // name the case's model, not the rewritten copy
      for (size_t at; (at = why.find(plan.temporary)) != std::string::npos;) {
        why.replace(at, plan.temporary.size(), options.source_model + " (extra inputs frozen)");
      }
    }
    return code == StatusCode::kUnsupported || code == StatusCode::kInvalidModel ? rejected(why) : failed(why);
  }
  try {
    return run_converted(case_dir, plan.input_file, eclr.value());
  } catch (const std::exception& e) {
    return failed(std::string("exception: ") + e.what());
  }
}

}  // namespace edgeclr::conformance
