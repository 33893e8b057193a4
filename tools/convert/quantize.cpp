#include "convert/quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "head/projection_head.h"
#include "model/tensor_op_checks.h"

namespace edgeclr::convert {

double RangeObserver::uniform_open() {
  return (static_cast<double>(rng_.next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);  // 53 bits, never 0 or 1
}

// Algorithm L (Li 1994): after the reservoir fills, the gaps between replaced values are
// geometric, so most values cost one comparison.
void RangeObserver::draw_skip() {
  weight_ *= std::exp(std::log(uniform_open()) / static_cast<double>(kMaxSamples));
  const double gap = std::floor(std::log(uniform_open()) / std::log1p(-weight_));
  next_pick_ = seen_count_ + 1 + static_cast<uint64_t>(std::min(gap, 1e18));
}

void RangeObserver::add(const float* values, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const float v = values[i];
    if (!seen_) {
      min_ = max_ = v;
      seen_ = true;
    }
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
    if (samples_.size() < kMaxSamples) {
      samples_.push_back(v);
      if (samples_.size() == kMaxSamples) {
        seen_count_ = kMaxSamples - 1;  // index of the last value seen
        draw_skip();
      }
      continue;
    }
    if (++seen_count_ == next_pick_) {
      samples_[static_cast<size_t>(uniform_open() * kMaxSamples)] = v;
      draw_skip();
    }
  }
}

namespace {

// Mean squared error of quantizing `samples` to int8 over [lo, hi].
double quantization_mse(const std::vector<float>& samples, float lo, float hi) {
  const double scale = (double{hi} - lo) / 255.0;
  double sum = 0;
  for (float v : samples) {
    const double q = std::round((std::min(std::max(double{v}, double{lo}), double{hi}) - lo) / scale);
    const double d = v - (q * scale + lo);
    sum += d * d;
  }
  return sum / std::max<size_t>(samples.size(), 1);
}

}  // namespace

Range RangeObserver::range(CalibrationMethod method) const {
  Range r{std::min(min_, 0.0f), std::max(max_, 0.0f)};
  if (samples_.empty() || method == CalibrationMethod::kMinMax) return r;
  std::vector<float> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  if (method == CalibrationMethod::kPercentile) {  // 0.01% and 99.99%
    const size_t n = sorted.size();
    r.min = std::min(0.0f, sorted[static_cast<size_t>(0.0001 * (n - 1))]);
    r.max = std::max(0.0f, sorted[static_cast<size_t>(0.9999 * (n - 1))]);
    return r;
  }
  Range best = r;
  double best_mse = quantization_mse(sorted, r.min, r.max);
  for (int step = 1; step < 40; ++step) {  // shrink the range towards 0 in 2% steps
    const float k = 1.0f - 0.02f * step;
    const double mse = quantization_mse(sorted, r.min * k, r.max * k);
    if (mse < best_mse) {
      best_mse = mse;
      best = Range{r.min * k, r.max * k};
    }
  }
  return best;
}

namespace {

// Asymmetric per-tensor parameters covering [min, max] (which always includes 0).
QuantParams activation_params(const Range& range) {
  const float lo = std::min(range.min, 0.0f);
  const float hi = std::max(std::max(range.max, 0.0f), lo + 1e-6f);
  const float scale = (hi - lo) / 255.0f;
  const long zp = std::lround(-128.0 - lo / scale);
  return QuantParams{{scale}, {static_cast<int32_t>(std::min(127L, std::max(-128L, zp)))}, -1};
}

bool has_tensor_operator(const Model& m) {
  for (const schema::Operator* op : *m.backbone().operators()) {
    if (is_tensor_operator(op->options_type())) return true;
  }
  return false;
}

// Whether quantize_model gives `fp32`'s fully connected layers dynamically quantized inputs
// (QuantizeOptions::dynamic_for_transformers).
bool uses_dynamic_int8(const Model& fp32, const QuantizeOptions& options) {
  return options.dynamic_for_transformers && options.xnnpack_api >= 2024 && has_tensor_operator(fp32);
}

class Quantizer {
 public:
  Quantizer(const Model& m, const Calibration& c, const QuantizeOptions& o)
      : m_(m), ranges_(c.ranges), means_(c.channel_means), options_(o), dynamic_(uses_dynamic_int8(m, o)),
        fp32_(m.tensors().size(), kNone), int8_(m.tensors().size(), kNone) {}

  Result<ModelBuilder> run();

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  const schema::Tensor& st(uint32_t t) const { return *m_.backbone().tensors()->Get(t); }
  std::string name(uint32_t t) const { return st(t).name() ? st(t).name()->str() : "t" + std::to_string(t); }
  Result<QuantParams> params_of(uint32_t t) const;
  Result<uint32_t> as_fp32(uint32_t t);
  Result<uint32_t> as_int8(uint32_t t);
  uint32_t copy_constant(uint32_t t);
  Status quantize_op(const schema::Operator& op);
  Status copy_op(const schema::Operator& op);
  Status dynamic_fully_connected(const schema::Operator& op);
  bool runs_in_int8(const schema::Operator& op) const;
  void quantize_weights(const schema::Operator& op, std::vector<uint32_t>* inputs);
  uint32_t add_int8_weights(const schema::Operator& op, bool per_channel, std::vector<int8_t>* q,
                            std::vector<float>* scales);
  std::vector<double> weight_bias_shift(const schema::Operator& op, const std::vector<int8_t>& q,
                                        const std::vector<float>& scales) const;
  std::vector<uint32_t> dims(uint32_t t) const {
    const TensorInfo& i = m_.tensors()[t];
    return std::vector<uint32_t>(i.dims.begin(), i.dims.begin() + i.rank);
  }
  const float* floats(uint32_t t) const { return reinterpret_cast<const float*>(m_.tensors()[t].data); }

  const Model& m_;
  const std::map<uint32_t, Range>& ranges_;
  const std::map<uint32_t, std::vector<double>>& means_;
  const QuantizeOptions& options_;
  const bool dynamic_;  // fully connected layers quantize their input per row at run time
  ModelBuilder b_;
  std::vector<uint32_t> fp32_, int8_;  // new tensor index of each old tensor, per dtype
  std::map<uint32_t, QuantParams> params_;  // chosen parameters of int8 tensors (old index)
};

Result<QuantParams> Quantizer::params_of(uint32_t t) const {
  const auto chosen = params_.find(t);
  if (chosen != params_.end()) return chosen->second;
  const auto it = ranges_.find(t);
  if (it == ranges_.end()) {
    return error(StatusCode::kInternal, "no calibration range for tensor '" + name(t) + "'");
  }
  return activation_params(it->second);
}

uint32_t Quantizer::copy_constant(uint32_t t) {
  if (fp32_[t] == kNone) {
    const TensorInfo& i = m_.tensors()[t];
    fp32_[t] = b_.add_constant(name(t), dims(t), i.dtype, i.data, i.elements * dtype_size(i.dtype));
  }
  return fp32_[t];
}

Result<uint32_t> Quantizer::as_fp32(uint32_t t) {
  if (m_.tensors()[t].is_constant) return copy_constant(t);
  if (fp32_[t] != kNone) return fp32_[t];
  // Computed in int8: dequantize it.
  const uint32_t out = b_.add_activation(name(t) + "/fp32", dims(t));
  b_.add_operator(name(t) + "/dequantize", op_options(schema::OpOptions_DequantizeOptions, schema::DequantizeOptionsT{}),
                  {int8_[t]}, {out});
  fp32_[t] = out;
  return out;
}

Result<uint32_t> Quantizer::as_int8(uint32_t t) {
  if (int8_[t] != kNone) return int8_[t];
  auto params = params_of(t);
  if (!params.ok()) return params.status();
  const uint32_t out = b_.add_activation(name(t) + "/int8", dims(t), schema::DType_INT8, params.value());
  b_.add_operator(name(t) + "/quantize", op_options(schema::OpOptions_QuantizeOptions, schema::QuantizeOptionsT{}),
                  {fp32_[t]}, {out});
  params_[t] = params.value();
  int8_[t] = out;
  return out;
}

// Symmetric int8 weights of a conv or fully connected layer, per output channel or per
// tensor, added to the model; `q`, `scales`: what was added.
uint32_t Quantizer::add_int8_weights(const schema::Operator& op, bool per_channel, std::vector<int8_t>* q,
                                     std::vector<float>* scales) {
  const uint32_t wt = op.inputs()->Get(1);
  const TensorInfo& w = m_.tensors()[wt];
  const uint32_t out_c = w.dims[0];
  const size_t per_out = w.elements / out_c;
  const float* wf = floats(wt);
  scales->assign(per_channel ? out_c : 1, 0.0f);
  for (uint32_t o = 0; o < out_c; ++o) {
    for (size_t j = 0; j < per_out; ++j) {
      float& s = (*scales)[per_channel ? o : 0];
      s = std::max(s, std::abs(wf[o * per_out + j]) / 127.0f);
    }
  }
  for (float& s : *scales) s = s > 0.0f ? s : 1.0f;  // an all-zero channel
  q->resize(w.elements);
  for (uint32_t o = 0; o < out_c; ++o) {
    const float s = (*scales)[per_channel ? o : 0];
    for (size_t j = 0; j < per_out; ++j) {
      (*q)[o * per_out + j] =
          static_cast<int8_t>(std::max(-127L, std::min(127L, std::lround(wf[o * per_out + j] / s))));
    }
  }
  QuantParams wq{*scales, std::vector<int32_t>(scales->size(), 0), per_channel ? 0 : -1};
  return b_.add_constant(name(wt), dims(wt), schema::DType_INT8, q->data(), q->size(), wq);
}

// Conv: per-output-channel symmetric weights. Fully connected: per output channel for
// XNNPACK 2024, per tensor for 2022.
void Quantizer::quantize_weights(const schema::Operator& op, std::vector<uint32_t>* inputs) {
  const uint32_t wt = op.inputs()->Get(1);
  const TensorInfo& w = m_.tensors()[wt];
  const bool per_channel = op.options_type() == schema::OpOptions_Conv2DOptions || options_.xnnpack_api >= 2024;
  const uint32_t out_c = w.dims[0];
  std::vector<int8_t> q;
  std::vector<float> scales;
  inputs->push_back(add_int8_weights(op, per_channel, &q, &scales));
  const std::vector<double> shift = weight_bias_shift(op, q, scales);
  const bool has_bias = op.inputs()->size() > 2;
  // A layer without a bias gets one when its correction is not zero.
  if (!has_bias && std::all_of(shift.begin(), shift.end(), [](double v) { return v == 0.0; })) return;
  const float* fp32_bias = has_bias ? floats(op.inputs()->Get(2)) : nullptr;
  const float in_scale = params_.at(op.inputs()->Get(0)).scale[0];
  QuantParams bq{{}, {}, per_channel ? 0 : -1};
  for (float s : scales) {
    bq.scale.push_back(in_scale * s);
    bq.zero_point.push_back(0);
  }
  std::vector<int32_t> bias(out_c);
  for (uint32_t o = 0; o < out_c; ++o) {
    const double v = std::round(((fp32_bias ? double{fp32_bias[o]} : 0.0) - shift[o]) / bq.scale[per_channel ? o : 0]);
    bias[o] = static_cast<int32_t>(std::max(-2147483647.0, std::min(2147483647.0, v)));
  }
  const std::string bias_name = has_bias ? name(op.inputs()->Get(2)) : name(wt) + "/bias_correction";
  inputs->push_back(b_.add_constant(bias_name, {out_c}, schema::DType_INT32, bias.data(), bias.size() * 4, bq));
}

// The mean output shift, per output channel, of int8 weights `q` (scales per channel or
// one) against the fp32 ones: sum over taps of (q * scale - w) * E[input channel]. Zeros
// without bias correction or without the input's calibration means.
std::vector<double> Quantizer::weight_bias_shift(const schema::Operator& op, const std::vector<int8_t>& q,
                                                 const std::vector<float>& scales) const {
  const TensorInfo& w = m_.tensors()[op.inputs()->Get(1)];
  const uint32_t out_c = w.dims[0];
  std::vector<double> shift(out_c, 0.0);
  const auto mean = means_.find(op.inputs()->Get(0));
  if (!options_.bias_correction || mean == means_.end()) return shift;
  const size_t per_out = w.elements / out_c;
  const uint32_t in_per_group = w.dims[w.rank - 1];  // [O, I] or [O, KH, KW, I/groups]
  const uint32_t groups = op.options_type() == schema::OpOptions_Conv2DOptions
                              ? op.options_as_Conv2DOptions()->groups() : 1;
  const uint32_t out_per_group = out_c / groups;
  const float* wf = floats(op.inputs()->Get(1));
  for (uint32_t o = 0; o < out_c; ++o) {
    const float s = scales[scales.size() == 1 ? 0 : o];
    const size_t first_channel = static_cast<size_t>(o / out_per_group) * in_per_group;
    for (size_t j = 0; j < per_out; ++j) {
      const size_t channel = first_channel + j % in_per_group;
      if (channel >= mean->second.size()) return std::vector<double>(out_c, 0.0);  // layout not understood
      shift[o] += (static_cast<double>(q[o * per_out + j]) * s - wf[o * per_out + j]) * mean->second[channel];
    }
  }
  return shift;
}

Status Quantizer::quantize_op(const schema::Operator& op) {
  const uint32_t x = op.inputs()->Get(0);
  auto x8 = as_int8(x);
  if (!x8.ok()) return x8.status();
  std::vector<uint32_t> inputs = {x8.value()};
  const auto type = op.options_type();
  if (type == schema::OpOptions_Conv2DOptions || type == schema::OpOptions_FullyConnectedOptions) {
    quantize_weights(op, &inputs);
  } else if (type == schema::OpOptions_AddOptions || type == schema::OpOptions_MultiplyOptions) {
    auto y8 = as_int8(op.inputs()->Get(1));
    if (!y8.ok()) return y8.status();
    inputs.push_back(y8.value());
  }
  const uint32_t out = op.outputs()->Get(0);
  // Pass-through ops keep their input's parameters (XNNPACK requires it for pad,
  // reshape, max pool and clamp).
  const bool same_params = type == schema::OpOptions_ReshapeOptions || type == schema::OpOptions_PadOptions ||
                           type == schema::OpOptions_MaxPool2DOptions || type == schema::OpOptions_ClampOptions;
  if (same_params) {
    params_[out] = params_.at(x);
  } else if (type == schema::OpOptions_SigmoidOptions) {
    params_[out] = QuantParams{{1.0f / 256}, {-128}, -1};  // [0, 1) on the whole int8 range, as XNNPACK requires
  } else {
    auto p = params_of(out);
    if (!p.ok()) return p.status();
    params_[out] = p.value();
  }
  int8_[out] = b_.add_activation(name(out), dims(out), schema::DType_INT8, params_[out]);
  schema::OperatorT copy;
  op.UnPackTo(&copy);
  b_.add_operator(copy.name, std::move(copy.options), inputs, {int8_[out]});
  return Status::Ok();
}

// Weights int8 per output channel; input, bias and output fp32, the input quantized per
// row when the layer runs. The fp32 bias absorbs the rounded weights' mean shift (bias
// correction, as for static int8), where calibration saw the input.
Status Quantizer::dynamic_fully_connected(const schema::Operator& op) {
  auto x = as_fp32(op.inputs()->Get(0));
  if (!x.ok()) return x.status();
  std::vector<uint32_t> inputs = {x.value()};
  std::vector<int8_t> q;
  std::vector<float> scales;
  inputs.push_back(add_int8_weights(op, /*per_channel=*/true, &q, &scales));
  const std::vector<double> shift = weight_bias_shift(op, q, scales);
  const bool has_bias = op.inputs()->size() > 2;
  const bool shifted = std::any_of(shift.begin(), shift.end(), [](double v) { return v != 0.0; });
  if (has_bias || shifted) {
    const uint32_t out_c = m_.tensors()[op.inputs()->Get(1)].dims[0];
    const float* fp32_bias = has_bias ? floats(op.inputs()->Get(2)) : nullptr;
    std::vector<float> bias(out_c);
    for (uint32_t o = 0; o < out_c; ++o) bias[o] = static_cast<float>((fp32_bias ? fp32_bias[o] : 0.0) - shift[o]);
    const std::string bias_name = has_bias ? name(op.inputs()->Get(2)) : name(op.inputs()->Get(1)) + "/bias_correction";
    inputs.push_back(b_.add_constant_fp32(bias_name, {out_c}, bias));
  }
  const uint32_t out = op.outputs()->Get(0);
  fp32_[out] = b_.add_activation(name(out), dims(out));
  schema::OperatorT copy;
  op.UnPackTo(&copy);
  copy.options.AsFullyConnectedOptions()->input_quantization = schema::InputQuantization_DYNAMIC_PER_ROW;
  b_.add_operator(copy.name, std::move(copy.options), inputs, {fp32_[out]});
  return Status::Ok();
}

// Whether `op` runs in static int8 (else fp32, or a dynamic fully connected layer).
bool Quantizer::runs_in_int8(const schema::Operator& op) const {
  const std::string op_name = op.name() ? op.name()->str() : "";
  const uint32_t since = int8_since_xnnpack(op, m_.tensors());
  if (since == 0 || since > options_.xnnpack_api || options_.keep_fp32.count(op_name)) return false;
  const auto type = op.options_type();
  const bool pass_through = type == schema::OpOptions_ReshapeOptions || type == schema::OpOptions_PadOptions ||
                            type == schema::OpOptions_ClampOptions || type == schema::OpOptions_MaxPool2DOptions;
  // Pass-through ops follow their input: int8 only when it already is.
  if (pass_through) return int8_[op.inputs()->Get(0)] != kNone;
  // A transformer's patch embedding, the convolution reading the image, stays fp32:
  // static int8 of raw pixel patches loses ~8 dB SQNR at the first block (DINOv2's
  // class token: held-out min cosine 0.99666 against 0.99894 with it fp32) and saves
  // ~0.1 ms of 23 (docs/converter.md, "Transformers"). A conv behind a Pad is not caught.
  if (dynamic_ && type == schema::OpOptions_Conv2DOptions && op.inputs()->Get(0) == m_.backbone().input()) {
    return false;
  }
  if (dynamic_ && (type == schema::OpOptions_AddOptions || type == schema::OpOptions_MultiplyOptions)) {
    return int8_[op.inputs()->Get(0)] != kNone && int8_[op.inputs()->Get(1)] != kNone;
  }
  return true;
}

Status Quantizer::copy_op(const schema::Operator& op) {
  std::vector<uint32_t> inputs;
  for (uint32_t t : *op.inputs()) {
    auto f = as_fp32(t);
    if (!f.ok()) return f.status();
    inputs.push_back(f.value());
  }
  const uint32_t out = op.outputs()->Get(0);
  fp32_[out] = b_.add_activation(name(out), dims(out));
  schema::OperatorT copy;
  op.UnPackTo(&copy);
  b_.add_operator(copy.name, std::move(copy.options), inputs, {fp32_[out]});
  return Status::Ok();
}

Result<ModelBuilder> Quantizer::run() {
  schema::ModelT source;
  m_.root().UnPackTo(&source);  // input spec, head, provenance, metadata
  b_.staged().input = std::move(source.input);
  b_.staged().head = std::move(source.head);
  b_.staged().provenance = std::move(source.provenance);
  b_.staged().metadata = std::move(source.metadata);
  const uint32_t input = m_.backbone().input();
  fp32_[input] = b_.add_activation(name(input), dims(input));
  for (const schema::Operator* op : *m_.backbone().operators()) {
    const std::string op_name = op->name() ? op->name()->str() : "";
    if (dynamic_ && op->options_type() == schema::OpOptions_FullyConnectedOptions && !options_.keep_fp32.count(op_name)) {
      EDGECLR_RETURN_IF_ERROR(dynamic_fully_connected(*op));
      continue;
    }
    EDGECLR_RETURN_IF_ERROR(runs_in_int8(*op) ? quantize_op(*op) : copy_op(*op));
  }
  auto feature = as_fp32(m_.backbone().feature());
  if (!feature.ok()) return feature.status();
  b_.set_graph(fp32_[input], feature.value());
  b_.add_metadata("quantization", "int8 post-training (edgeclr convert)");
  b_.add_metadata("xnnpack", format("%u", options_.xnnpack_api));  // the generation quantized for
  return std::move(b_);
}

}  // namespace

Result<ModelBuilder> quantize_model(const Model& fp32, const Calibration& calibration, const QuantizeOptions& options) {
  return Quantizer(fp32, calibration, options).run();
}

}  // namespace edgeclr::convert
