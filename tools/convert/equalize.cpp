#include "convert/equalize.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "builder/model_builder.h"

namespace edgeclr::convert {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kMaxSweeps = 20;

struct Interval {
  float lo = -kInf, hi = kInf;
};
using Intervals = std::vector<Interval>;  // per channel (the last dimension)

Interval apply_activation(Interval v, schema::Activation a) {
  if (a == schema::Activation_RELU || a == schema::Activation_RELU6) v = {std::max(v.lo, 0.0f), std::max(v.hi, 0.0f)};
  if (a == schema::Activation_RELU6) v = {std::min(v.lo, 6.0f), std::min(v.hi, 6.0f)};
  return v;
}

// Range of w * x for x in v (w finite); an unbounded side stays unbounded unless w == 0.
Interval scale_interval(float w, Interval v) {
  if (w == 0.0f) return {0.0f, 0.0f};
  return w > 0 ? Interval{w * v.lo, w * v.hi} : Interval{w * v.hi, w * v.lo};
}

// Exact at the infinities too (0 below -3, x above 3), so unbounded inputs give no NaN.
float hardswish(float x) {
  if (x <= -3.0f) return 0.0f;
  if (x >= 3.0f) return x;
  return x * (x + 3.0f) / 6.0f;
}

// A NaN side (inf - inf, inf * 0 upstream) is unbounded, never a bound.
Intervals without_nan(Intervals v) {
  for (Interval& i : v) {
    if (std::isnan(i.lo)) i.lo = -kInf;
    if (std::isnan(i.hi)) i.hi = kInf;
  }
  return v;
}

// Relative margin on the ReLU6 bound: the runtime's preprocessing and XNNPACK's
// summation order round differently from the bound's arithmetic.
constexpr float kClampMargin = 1e-5f;

class Equalizer {
 public:
  Equalizer(const Model& m, const Calibration* c) : model_(m), b_(ModelBuilder::from_model(m.root())) {
    if (c) activation_absmax_ = c->channel_absmax;
  }

  Result<std::vector<uint8_t>> run(EqualizeReport* report);

 private:
  struct Pair {
    size_t a, b;  // operator indices
  };
  schema::BackboneT& backbone() { return *b_.staged().backbone; }
  const schema::OperatorT& op(size_t i) { return *backbone().operators[i]; }
  const std::vector<uint32_t>& shape(uint32_t t) { return backbone().tensors[t]->shape; }
  uint32_t channels(uint32_t t) { return shape(t).empty() ? 1 : shape(t).back(); }
  float* data(uint32_t t) {
    const int32_t buffer = backbone().tensors[t]->buffer;
    return buffer < 0 ? nullptr : reinterpret_cast<float*>(b_.buffers()[buffer].data());
  }
  size_t elements(uint32_t t) {
    size_t n = 1;
    for (uint32_t d : shape(t)) n *= d;
    return n;
  }
  std::vector<Pair> find_pairs();
  std::vector<Intervals> propagate_intervals();
  Intervals conv_interval(const schema::OperatorT& o, const Intervals& in, bool fully_connected);
  Intervals op_interval(const schema::OperatorT& o, const std::vector<Intervals>& known);
  void weight_ranges(const Pair& p, std::vector<float>* ra, std::vector<float>* rb);
  std::vector<float> choose_scales(const Pair& p, EqualizeReport* report);
  void apply(const Pair& p, const std::vector<float>& s);

  const Model& model_;
  ModelBuilder b_;
  // Per channel of the activations between pairs, kept in step with the scaling.
  std::map<uint32_t, std::vector<float>> activation_absmax_;
};

// A -> B: two Conv2D in a row, A's output read by B alone and not the feature.
std::vector<Equalizer::Pair> Equalizer::find_pairs() {
  const size_t n = backbone().operators.size();
  std::vector<size_t> readers(backbone().tensors.size(), 0);
  std::vector<size_t> producer(backbone().tensors.size(), SIZE_MAX);
  for (size_t i = 0; i < n; ++i) {
    for (uint32_t t : op(i).inputs) ++readers[t];
    producer[op(i).outputs[0]] = i;
  }
  // Scaling edits weights and biases in place: each must belong to this pair alone, as
  // a tensor (one reader) and as a buffer (one tensor).
  std::map<int32_t, size_t> buffer_users;
  for (const auto& t : backbone().tensors) ++buffer_users[t->buffer];
  const auto owned = [&](uint32_t t) { return readers[t] == 1 && buffer_users[backbone().tensors[t]->buffer] == 1; };
  std::vector<Pair> pairs;
  for (size_t i = 0; i < n; ++i) {
    if (op(i).options.type != schema::OpOptions_Conv2DOptions) continue;
    const uint32_t x = op(i).inputs[0];
    const size_t a = producer[x];
    if (a == SIZE_MAX || op(a).options.type != schema::OpOptions_Conv2DOptions) continue;
    if (readers[x] != 1 || x == backbone().feature) continue;
    if (!owned(op(a).inputs[1]) || !owned(op(i).inputs[1]) || (op(a).inputs.size() > 2 && !owned(op(a).inputs[2]))) {
      continue;
    }
    pairs.push_back(Pair{a, i});
  }
  return pairs;
}

Intervals Equalizer::conv_interval(const schema::OperatorT& o, const Intervals& in, bool fully_connected) {
  const uint32_t wt = o.inputs[1];
  const std::vector<uint32_t>& wshape = shape(wt);
  const uint32_t out_c = wshape[0], in_per_group = wshape.back();
  const size_t per_out = elements(wt) / out_c;
  const auto* conv = fully_connected ? nullptr : o.options.AsConv2DOptions();
  const uint32_t groups = conv ? conv->groups : 1;
  const bool padded = conv && (conv->pad_top || conv->pad_bottom || conv->pad_left || conv->pad_right);
  const float* w = data(wt);
  const float* bias = o.inputs.size() > 2 ? data(o.inputs[2]) : nullptr;
  Intervals out(out_c);
  for (uint32_t c = 0; c < out_c; ++c) {
    const size_t first = static_cast<size_t>(c / (out_c / groups)) * in_per_group;
    double lo = bias ? bias[c] : 0.0, hi = lo;
    for (size_t j = 0; j < per_out; ++j) {
      Interval x = in[std::min(first + j % in_per_group, in.size() - 1)];
      if (padded) x = {std::min(x.lo, 0.0f), std::max(x.hi, 0.0f)};
      const Interval p = scale_interval(w[c * per_out + j], x);
      lo += p.lo;
      hi += p.hi;
    }
    const auto activation = conv ? conv->activation : o.options.AsFullyConnectedOptions()->activation;
    out[c] = apply_activation(Interval{static_cast<float>(lo), static_cast<float>(hi)}, activation);
  }
  return out;
}

// Bounds of one operator's output channels from its inputs' bounds; unknown ops give
// (-inf, inf).
Intervals Equalizer::op_interval(const schema::OperatorT& o, const std::vector<Intervals>& known) {
  const uint32_t out_c = channels(o.outputs[0]);
  auto input = [&](size_t k) {
    const uint32_t t = o.inputs[k];
    const float* c = data(t);
    if (!c) return known[t];
    const auto [lo, hi] = std::minmax_element(c, c + elements(t));
    return Intervals(channels(t), Interval{*lo, *hi});
  };
  auto per_channel = [&](const Intervals& v, uint32_t c) { return v[v.size() == 1 ? 0 : std::min<size_t>(c, v.size() - 1)]; };
  Intervals out(out_c);
  switch (o.options.type) {
    case schema::OpOptions_Conv2DOptions: return without_nan(conv_interval(o, input(0), false));
    case schema::OpOptions_FullyConnectedOptions: return without_nan(conv_interval(o, input(0), true));
    case schema::OpOptions_AddOptions:
    case schema::OpOptions_MultiplyOptions: {
      const bool add = o.options.type == schema::OpOptions_AddOptions;
      const Intervals x = input(0), y = input(1);
      const auto activation = add ? o.options.AsAddOptions()->activation : o.options.AsMultiplyOptions()->activation;
      for (uint32_t c = 0; c < out_c; ++c) {
        const Interval p = per_channel(x, c), q = per_channel(y, c);
        Interval r{p.lo + q.lo, p.hi + q.hi};
        if (!add) {
          const float v[4] = {p.lo * q.lo, p.lo * q.hi, p.hi * q.lo, p.hi * q.hi};
          r = std::any_of(v, v + 4, [](float f) { return std::isnan(f); }) ? Interval{}
                                                                              : Interval{*std::min_element(v, v + 4), *std::max_element(v, v + 4)};
        }
        out[c] = apply_activation(r, activation);
      }
      return out;
    }
    case schema::OpOptions_ClampOptions: {
      const auto* clamp = o.options.AsClampOptions();
      const Intervals x = input(0);
      for (uint32_t c = 0; c < out_c; ++c) {
        const Interval v = per_channel(x, c);
        out[c] = {std::min(std::max(v.lo, clamp->min), clamp->max), std::min(std::max(v.hi, clamp->min), clamp->max)};
      }
      return out;
    }
    case schema::OpOptions_MaxPool2DOptions:
    case schema::OpOptions_AveragePool2DOptions:
    case schema::OpOptions_GlobalAveragePoolOptions:
    case schema::OpOptions_PadOptions:
    case schema::OpOptions_HardSwishOptions:
    case schema::OpOptions_SigmoidOptions: {
      const Intervals x = input(0);
      for (uint32_t c = 0; c < out_c; ++c) {
        Interval v = per_channel(x, c);
        if (o.options.type == schema::OpOptions_HardSwishOptions) {
          const float a = hardswish(v.lo), b = hardswish(v.hi);
          v = {v.lo <= -1.5f && v.hi >= -1.5f ? -0.375f : std::min(a, b), std::max(a, b)};
        } else if (o.options.type == schema::OpOptions_SigmoidOptions) {
          v = {1.0f / (1.0f + std::exp(-v.lo)), 1.0f / (1.0f + std::exp(-v.hi))};
        } else if (o.options.type != schema::OpOptions_GlobalAveragePoolOptions) {
          v = {std::min(v.lo, 0.0f), std::max(v.hi, 0.0f)};  // padding (0 or the pad value's side)
          if (o.options.type == schema::OpOptions_PadOptions) {
            const float pad = o.options.AsPadOptions()->value;
            v = {std::min(v.lo, pad), std::max(v.hi, pad)};
          }
        }
        out[c] = v;
      }
      return out;
    }
    default: return Intervals(out_c);  // unknown: unbounded
  }
}

// Bounds of every tensor's channels, from the input spec's pixel range [0, 1] through
// (p - mean) / std.
std::vector<Intervals> Equalizer::propagate_intervals() {
  std::vector<Intervals> known(backbone().tensors.size());
  const schema::InputSpec& spec = *model_.root().input();
  const uint32_t in = backbone().input;
  known[in].resize(channels(in));
  for (uint32_t c = 0; c < channels(in); ++c) {
    const float mean = spec.mean() && c < spec.mean()->size() ? spec.mean()->Get(c) : 0.0f;
    const float std = spec.std() && c < spec.std()->size() ? spec.std()->Get(c) : 1.0f;
    known[in][c] = {(0.0f - mean) / std, (1.0f - mean) / std};
  }
  for (const auto& o : backbone().operators) known[o->outputs[0]] = without_nan(op_interval(*o, known));
  return known;
}

// rA: A's largest |w| per output channel; rB: B's largest |w| per input channel.
void Equalizer::weight_ranges(const Pair& p, std::vector<float>* ra, std::vector<float>* rb) {
  const uint32_t wa = op(p.a).inputs[1], wb = op(p.b).inputs[1];
  const uint32_t c_count = shape(wa)[0];
  const size_t per_a = elements(wa) / c_count;
  ra->assign(c_count, 0.0f);
  rb->assign(c_count, 0.0f);
  for (uint32_t c = 0; c < c_count; ++c) {
    for (size_t j = 0; j < per_a; ++j) (*ra)[c] = std::max((*ra)[c], std::abs(data(wa)[c * per_a + j]));
  }
  const uint32_t out_b = shape(wb)[0], in_per_group = shape(wb).back();
  const uint32_t groups = op(p.b).options.AsConv2DOptions()->groups;
  const size_t per_b = elements(wb) / out_b;
  for (uint32_t o = 0; o < out_b; ++o) {
    const size_t first = static_cast<size_t>(o / (out_b / groups)) * in_per_group;
    for (size_t j = 0; j < per_b; ++j) {
      const size_t c = first + j % in_per_group;
      (*rb)[c] = std::max((*rb)[c], std::abs(data(wb)[o * per_b + j]));
    }
  }
}

std::vector<float> Equalizer::choose_scales(const Pair& p, EqualizeReport* report) {
  std::vector<float> ra, rb;
  weight_ranges(p, &ra, &rb);
  const auto measured = activation_absmax_.find(op(p.a).outputs[0]);
  if (measured != activation_absmax_.end() && measured->second.size() == ra.size()) ra = measured->second;
  std::vector<float> s(ra.size(), 1.0f);
  for (size_t c = 0; c < s.size(); ++c) {
    if (ra[c] > 0 && rb[c] > 0) s[c] = std::min(1e3f, std::max(1e-3f, std::sqrt(ra[c] / rb[c])));
  }
  if (op(p.a).options.AsConv2DOptions()->activation != schema::Activation_RELU6) return s;
  // The clamp at 6 stays exact only where A's pre-activation provably stays at most 6,
  // before (x <= 6) and after (x / s <= 6): U <= 6 and s >= U / 6.
  schema::OperatorT pre = op(p.a);
  pre.options.AsConv2DOptions()->activation = schema::Activation_NONE;
  const std::vector<Intervals> known = propagate_intervals();
  const Intervals bound = without_nan(op_interval(pre, known));
  for (size_t c = 0; c < s.size(); ++c) {
    const float u = bound[c].hi;
    const float limited = u <= 0.0f                             ? s[c]
                          : u <= 6.0f * (1.0f - kClampMargin) ? std::max(s[c], u / 6.0f * (1.0f + kClampMargin))
                                                               : 1.0f;
    if (limited != s[c]) ++report->clamp_limited;
    s[c] = limited;
  }
  return s;
}

void Equalizer::apply(const Pair& p, const std::vector<float>& s) {
  const uint32_t wa = op(p.a).inputs[1], wb = op(p.b).inputs[1];
  float* bias = op(p.a).inputs.size() > 2 ? data(op(p.a).inputs[2]) : nullptr;
  const size_t per_a = elements(wa) / s.size();
  for (size_t c = 0; c < s.size(); ++c) {
    for (size_t j = 0; j < per_a; ++j) data(wa)[c * per_a + j] /= s[c];
    if (bias) bias[c] /= s[c];
  }
  const auto measured = activation_absmax_.find(op(p.a).outputs[0]);
  if (measured != activation_absmax_.end() && measured->second.size() == s.size()) {
    for (size_t c = 0; c < s.size(); ++c) measured->second[c] /= s[c];
  }
  const uint32_t out_b = shape(wb)[0], in_per_group = shape(wb).back();
  const uint32_t groups = op(p.b).options.AsConv2DOptions()->groups;
  const size_t per_b = elements(wb) / out_b;
  for (uint32_t o = 0; o < out_b; ++o) {
    const size_t first = static_cast<size_t>(o / (out_b / groups)) * in_per_group;
    for (size_t j = 0; j < per_b; ++j) data(wb)[o * per_b + j] *= s[first + j % in_per_group];
  }
}

Result<std::vector<uint8_t>> Equalizer::run(EqualizeReport* report) {
  *report = EqualizeReport{};
  for (const auto& t : backbone().tensors) {
    if (t->dtype != schema::DType_FLOAT32) return error(StatusCode::kInvalidArgument, "equalization needs an fp32 model");
  }
  const std::vector<Pair> pairs = find_pairs();
  report->pairs = pairs.size();
  std::vector<std::vector<double>> total(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) {
    total[k].assign(shape(op(pairs[k].a).inputs[1])[0], 1.0);
    report->channels += total[k].size();
  }
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    double largest_change = 0;
    report->clamp_limited = 0;
    for (size_t k = 0; k < pairs.size(); ++k) {
      const std::vector<float> s = choose_scales(pairs[k], report);
      apply(pairs[k], s);
      for (size_t c = 0; c < s.size(); ++c) {
        total[k][c] *= s[c];
        largest_change = std::max(largest_change, std::abs(std::log(double{s[c]})));
      }
    }
    report->sweeps = sweep + 1;
    if (largest_change < 1e-3) break;
  }
  for (const auto& t : total) {
    report->scaled += std::count_if(t.begin(), t.end(), [](double s) { return std::abs(std::log(s)) > std::log(1.01); });
  }
  b_.add_metadata("equalization", format("cross-layer, %zu conv pairs, %s", pairs.size(),
                                         activation_absmax_.empty() ? "data-free" : "activation ranges"));
  return b_.finish();
}

}  // namespace

Result<std::vector<uint8_t>> equalize_model(const Model& fp32, const Calibration* calibration, EqualizeReport* report) {
  return Equalizer(fp32, calibration).run(report);
}

}  // namespace edgeclr::convert
