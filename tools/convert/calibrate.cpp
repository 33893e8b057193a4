#include "convert/calibrate.h"

#include <algorithm>
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

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t d = 0; d < a.size(); ++d) {
    dot += double{a[d]} * b[d];
    na += double{a[d]} * a[d];
    nb += double{b[d]} * b[d];
  }
  return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
}

std::string tensor_name(const Model& model, uint32_t t) {
  const auto* name = model.backbone().tensors()->Get(t)->name();
  return name ? name->str() : std::string();
}

}  // namespace

// Sums and largest magnitudes of each channel (the last dimension) of a tensor's values,
// over every position.
class ChannelStats {
 public:
  explicit ChannelStats(const TensorInfo& t) : sums_(t.rank ? t.dims[t.rank - 1] : 1, 0.0), absmax_(sums_.size(), 0.0f) {}
  void add(const float* values, size_t count) {
    const size_t c = sums_.size();
    for (size_t i = 0; i < count; ++i) {
      sums_[i % c] += values[i];
      absmax_[i % c] = std::max(absmax_[i % c], std::abs(values[i]));
    }
    positions_ += count / c;
  }
  const std::vector<float>& absmax() const { return absmax_; }
  std::vector<double> mean() const {
    std::vector<double> out(sums_);
    for (double& v : out) v /= static_cast<double>(std::max<uint64_t>(positions_, 1));
    return out;
  }

 private:
  std::vector<double> sums_;
  std::vector<float> absmax_;
  uint64_t positions_ = 0;
};

Result<Calibration> calibrate(const Model& fp32, const dataset::ImageSet& images, size_t first, size_t count,
                              CalibrationMethod method, Progress progress) {
  const std::vector<uint32_t> observed = intermediate_activations(fp32);
  auto runner = Runner::create(fp32, observed);
  if (!runner.ok()) return runner.status();
  // One entry per observed tensor, then the graph input, then the feature (the
  // backbone's own outputs, which are not observed tensors).
  std::vector<uint32_t> tensors = observed;
  tensors.push_back(fp32.backbone().input());
  tensors.push_back(fp32.backbone().feature());
  std::vector<RangeObserver> ranges(tensors.size());
  std::vector<ChannelStats> means;
  for (uint32_t t : tensors) means.emplace_back(fp32.tensors()[t]);
  for (size_t i = 0; i < count; ++i) {
    EDGECLR_RETURN_IF_ERROR(runner->run(images, first + i));
    for (size_t k = 0; k < tensors.size(); ++k) {
      const float* values = k < observed.size() ? static_cast<const float*>(runner->backbone->observed(k))
                            : k == observed.size() ? runner->backbone->input_buffer()
                                                   : runner->feature.data();
      const size_t n = fp32.tensors()[tensors[k]].elements;
      ranges[k].add(values, n);
      means[k].add(values, n);
    }
    if (progress) progress(i + 1, count);
  }
  Calibration out;
  for (size_t k = 0; k < tensors.size(); ++k) {
    out.ranges[tensors[k]] = ranges[k].range(method);
    out.channel_means[tensors[k]] = means[k].mean();
    out.channel_absmax[tensors[k]] = means[k].absmax();
  }
  return out;
}

Result<FidelityReport> measure_fidelity(const Model& fp32, const Model& int8, const dataset::ImageSet& images,
                                        size_t first, size_t count, Progress progress) {
  // Pairs of (fp32 tensor, int8 tensor) with the same name: int8 tensors, and the fp32
  // outputs of fully connected layers that quantize their input at run time.
  std::map<std::string, uint32_t> fp32_by_name;
  for (uint32_t t : intermediate_activations(fp32)) fp32_by_name[tensor_name(fp32, t)] = t;
  std::vector<uint32_t> fp32_observed, int8_observed;
  std::vector<std::string> ops;
  for (const schema::Operator* op : *int8.backbone().operators()) {
    const uint32_t t = op->outputs()->Get(0);
    const auto match = fp32_by_name.find(tensor_name(int8, t));
    const bool dynamic = op->options_type() == schema::OpOptions_FullyConnectedOptions &&
                         op->options_as_FullyConnectedOptions()->input_quantization() != schema::InputQuantization_NONE;
    if ((int8.tensors()[t].dtype != schema::DType_INT8 && !dynamic) || match == fp32_by_name.end()) continue;
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
    const double c = cosine(e32, e8);
    cosine_sum += c;
    report.min_cosine = std::min(report.min_cosine, c);
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

namespace {

// The embeddings of `model` for preprocessed `inputs`.
Result<std::vector<std::vector<float>>> embed_all(const Model& model, const std::vector<std::vector<float>>& inputs) {
  auto runner = Runner::create(model, {});
  if (!runner.ok()) return runner.status();
  const ProjectionHead head = ProjectionHead::from_schema(model.head(), model.feature_dim());
  std::vector<float> scratch(head.scratch_floats(1));
  std::vector<std::vector<float>> out;
  for (const std::vector<float>& input : inputs) {
    EDGECLR_RETURN_IF_ERROR(runner->backbone->run(input.data(), runner->feature.data()));
    out.emplace_back(head.embedding_dim());
    head.forward(runner->feature.data(), 1, out.back().data(), scratch.data());
  }
  return out;
}

}  // namespace

Result<EmbeddingProbe> EmbeddingProbe::create(const Model& fp32, const dataset::ImageSet& images, size_t first,
                                              size_t count) {
  EmbeddingProbe probe;
  const PreprocessSpec spec = preprocess_spec_from(fp32.input_spec());
  const size_t floats = fp32.tensors()[fp32.backbone().input()].elements;
  for (size_t i = 0; i < count; ++i) {
    auto image = images.image(first + i);
    if (!image.ok()) return image.status();
    probe.inputs_.emplace_back(floats);
    EDGECLR_RETURN_IF_ERROR(preprocess(image->view(), spec, probe.inputs_.back().data()));
  }
  auto reference = embed_all(fp32, probe.inputs_);
  if (!reference.ok()) return reference.status();
  probe.reference_ = std::move(reference).value();
  return probe;
}

Result<std::vector<double>> EmbeddingProbe::cosines(const Model& candidate) const {
  auto embeddings = embed_all(candidate, inputs_);
  if (!embeddings.ok()) return embeddings.status();
  std::vector<double> out;
  for (size_t i = 0; i < reference_.size(); ++i) out.push_back(cosine(reference_[i], embeddings.value()[i]));
  return out;
}

}  // namespace edgeclr::convert
