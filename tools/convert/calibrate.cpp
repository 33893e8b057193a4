#include "convert/calibrate.h"

#include <cmath>

#include "backbone/backbone.h"
#include "head/projection_head.h"
#include "image/preprocess.h"

namespace edgeclr::convert {
namespace {

std::vector<uint32_t> intermediate_activations(const Model& model) {
  std::vector<uint32_t> out;
  for (const schema::Operator* op : *model.backbone().operators()) {
    const uint32_t t = op->outputs()->Get(0);
    if (t != model.backbone().feature()) out.push_back(t);
  }
  return out;
}

// A backbone observing `observed`, and the preprocessing of its model.
struct Runner {
  std::unique_ptr<Backbone> backbone;
  PreprocessSpec spec;
  std::vector<float> feature;

  static Result<Runner> create(const Model& model, const std::vector<uint32_t>& observed) {
    BackboneOptions options;
    options.observed = observed;
    auto backbone = Backbone::create(model, options);
    if (!backbone.ok()) return backbone.status();
    Runner r;
    r.backbone = std::move(backbone).value();
    r.spec = preprocess_spec_from(model.input_spec());
    r.feature.assign(model.feature_dim(), 0.0f);
    return r;
  }

  Status run(const dataset::ImageSet& images, size_t index) {
    auto image = images.image(index);
    if (!image.ok()) return image.status();
    EDGECLR_RETURN_IF_ERROR(preprocess(image->view(), spec, backbone->input_buffer()));
    return backbone->run(backbone->input_buffer(), feature.data());
  }
};

// Values of an observed tensor as floats (int8 ones dequantized).
std::vector<float> observed_values(const Model& model, const Backbone& backbone, size_t slot, uint32_t tensor) {
  const TensorInfo& info = model.tensors()[tensor];
  std::vector<float> out(info.elements);
  if (info.dtype == schema::DType_FLOAT32) {
    const auto* f = static_cast<const float*>(backbone.observed(slot));
    out.assign(f, f + info.elements);
    return out;
  }
  const auto* q = model.backbone().tensors()->Get(tensor)->quantization();
  const float scale = q->scale()->Get(0);
  const int32_t zp = q->zero_point()->Get(0);
  const auto* i8 = static_cast<const int8_t*>(backbone.observed(slot));
  for (size_t i = 0; i < info.elements; ++i) out[i] = scale * static_cast<float>(i8[i] - zp);
  return out;
}

std::string tensor_name(const Model& model, uint32_t t) {
  const auto* name = model.backbone().tensors()->Get(t)->name();
  return name ? name->str() : std::string();
}

}  // namespace

Result<std::map<uint32_t, Range>> calibrate(const Model& fp32, const dataset::ImageSet& images, size_t first,
                                            size_t count, CalibrationMethod method, Progress progress) {
  const std::vector<uint32_t> observed = intermediate_activations(fp32);
  auto runner = Runner::create(fp32, observed);
  if (!runner.ok()) return runner.status();
  // One observer per observed tensor, then the graph input, then the feature (the
  // backbone's own outputs, which are not observed tensors).
  std::vector<RangeObserver> observers(observed.size() + 2);
  RangeObserver& input_range = observers[observed.size()];
  RangeObserver& feature_range = observers[observed.size() + 1];
  const size_t input_floats = fp32.tensors()[fp32.backbone().input()].elements;
  for (size_t i = 0; i < count; ++i) {
    EDGECLR_RETURN_IF_ERROR(runner->run(images, first + i));
    input_range.add(runner->backbone->input_buffer(), input_floats);
    feature_range.add(runner->feature.data(), runner->feature.size());
    for (size_t k = 0; k < observed.size(); ++k) {
      const auto* values = static_cast<const float*>(runner->backbone->observed(k));
      observers[k].add(values, fp32.tensors()[observed[k]].elements);
    }
    if (progress) progress(i + 1, count);
  }
  std::map<uint32_t, Range> ranges;
  for (size_t k = 0; k < observed.size(); ++k) ranges[observed[k]] = observers[k].range(method);
  ranges[fp32.backbone().input()] = input_range.range(method);
  ranges[fp32.backbone().feature()] = feature_range.range(method);
  return ranges;
}

Result<FidelityReport> measure_fidelity(const Model& fp32, const Model& int8, const dataset::ImageSet& images,
                                        size_t first, size_t count, Progress progress) {
  // Pairs of (fp32 tensor, int8 tensor) with the same name, int8 tensors only.
  std::map<std::string, uint32_t> fp32_by_name;
  for (uint32_t t : intermediate_activations(fp32)) fp32_by_name[tensor_name(fp32, t)] = t;
  std::vector<uint32_t> fp32_observed, int8_observed;
  std::vector<std::string> ops;
  for (const schema::Operator* op : *int8.backbone().operators()) {
    const uint32_t t = op->outputs()->Get(0);
    const auto match = fp32_by_name.find(tensor_name(int8, t));
    if (int8.tensors()[t].dtype != schema::DType_INT8 || match == fp32_by_name.end()) continue;
    fp32_observed.push_back(match->second);
    int8_observed.push_back(t);
    ops.push_back(op->name() ? op->name()->str() : "");
  }
  auto reference = Runner::create(fp32, fp32_observed);
  if (!reference.ok()) return reference.status();
  auto quantized = Runner::create(int8, int8_observed);
  if (!quantized.ok()) return quantized.status();
  const ProjectionHead head32 = ProjectionHead::from_schema(fp32.head(), fp32.feature_dim());
  const ProjectionHead head8 = ProjectionHead::from_schema(int8.head(), int8.feature_dim());
  std::vector<float> scratch(head32.scratch_floats(1)), e32(head32.embedding_dim()), e8(head8.embedding_dim());
  std::vector<double> signal(ops.size(), 0.0), noise(ops.size(), 0.0);
  FidelityReport report;
  report.min_cosine = 1.0;
  double cosine_sum = 0;
  for (size_t i = 0; i < count; ++i) {
    EDGECLR_RETURN_IF_ERROR(reference->run(images, first + i));
    EDGECLR_RETURN_IF_ERROR(quantized->run(images, first + i));
    for (size_t k = 0; k < ops.size(); ++k) {
      const std::vector<float> x = observed_values(fp32, *reference->backbone, k, fp32_observed[k]);
      const std::vector<float> y = observed_values(int8, *quantized->backbone, k, int8_observed[k]);
      for (size_t j = 0; j < x.size(); ++j) {
        signal[k] += double{x[j]} * x[j];
        noise[k] += (double{x[j]} - y[j]) * (double{x[j]} - y[j]);
      }
    }
    head32.forward(reference->feature.data(), 1, e32.data(), scratch.data());
    head8.forward(quantized->feature.data(), 1, e8.data(), scratch.data());
    double dot = 0, n32 = 0, n8 = 0;
    for (size_t d = 0; d < e32.size(); ++d) {
      dot += double{e32[d]} * e8[d];
      n32 += double{e32[d]} * e32[d];
      n8 += double{e8[d]} * e8[d];
    }
    const double cosine = n32 > 0 && n8 > 0 ? dot / std::sqrt(n32 * n8) : 0.0;
    cosine_sum += cosine;
    report.min_cosine = std::min(report.min_cosine, cosine);
    if (progress) progress(i + 1, count);
  }
  for (size_t k = 0; k < ops.size(); ++k) {
    const double sqnr = noise[k] > 0 ? 10.0 * std::log10(signal[k] / noise[k]) : 200.0;  // exact: cap at 200 dB
    report.layers.push_back(LayerFidelity{ops[k], tensor_name(int8, int8_observed[k]), sqnr});
  }
  report.images = count;
  report.mean_cosine = count ? cosine_sum / count : 0.0;
  return report;
}

}  // namespace edgeclr::convert
