// The reference run and its tolerance.
//
// Every tensor carries, per element, a bound E on |XNNPACK value - reference value| in
// real units. An op's output bound is E_prop (how far its inputs' bounds can move it)
// plus its own rounding term:
//
//   u = 2^-24, the fp32 unit roundoff; gamma(n) = n u / (1 - n u) bounds the error of any
//   fp32 evaluation order of a sum of n products (Higham, Accuracy and Stability of
//   Numerical Algorithms, 3.1). The reference itself accumulates in double and rounds
//   once (u |y|, inside the gamma terms below).
//
//   op              E_prop                          fp32 rounding term (mag = magnitude)
//   conv / fc       sum |w| E_x                     gamma(K + 1) * (sum |w| (|x| + E_x) + |b|),
//                                                   K = KH * KW * C/groups (resp. I) products
//   fc, input       sum |w| E_x + s_row sum |w|     as fc (the int32 accumulation is exact);
//   quantized per                                   s_row = the row's range / 255, its int8 step
//   row at run time
//   add             E_a + E_b                       2u (|a| + |b| + E_a + E_b)
//   multiply        |b| E_a + |a| E_b + E_a E_b     2u (|a| + E_a) (|b| + E_b)
//   avg pool        mean of E_x over the window     gamma(K + 2) * mean(|x| + E_x), K elements
//   global avg pool mean of E_x                     gamma(H W + 2) * mean(|x| + E_x)
//   max pool        max of E_x over the window      0 (selection is exact)
//   clamp           E_x                             0
//   leaky relu      max(1, |alpha|) E_x             2u max(1, |alpha|) (|x| + E_x)
//   hardswish       1.5 E_x (its largest slope)     2u (x~ (x~ + 3) / 2 + 2 x~), x~ = |x| + E_x:
//                                                   covers both XNNPACK formulations,
//                                                   x * clamp(x / 6 + 1/2, 0, 1) and x * relu6(x + 3) / 6
//   sigmoid         0.25 E_x (its largest slope)    5e-6 absolute: XNNPACK's own accuracy
//                                                   contract (test/sigmoid-operator-tester.h)
//   reshape, pad    E_x (padding exact)             0
//   dequantize      E_q                             2u (|y| + E_q)
//
// int8 outputs: the reference's q is round(v) + zero_point, v the exact pre-rounding value
// in output LSB. XNNPACK's pre-rounding value differs from v by at most
//   delta = E_prop / scale_out + 2e-3 + 1e-5 * mag / scale_out   (LSB)
// where the constant and relative slack cover XNNPACK's requantization arithmetic (fp32
// scale: ~2u relative; the 2022 qs8 add's ~21-bit fixed-point multipliers: under 2e-3 LSB
// for input/output scale ratios up to 16; an fp32 emulation: a few u) and this pass's own
// fp32 evaluation of v. XNNPACK's q is then some rounding
// (half to even or half up) of a value in [v - delta, v + delta], saturated to the
// activation range, so |q_xnn - q| <= max(round_up(v + delta) - q, q - round_down(v - delta)).
// Far from a rounding boundary this is 0; only near a tie can the two round apart. This is
// what keeps multi-layer int8 bounds at a few LSB instead of multiplying by sum |w| per layer.
#include "support/reference_backbone.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "support/reference_kernels.h"
#include "support/reference_tensor_ops.h"

namespace edgeclr::testing {
namespace {

namespace ref = reference;
using ref::AffineQuant;
using ref::Dims;
using ref::OutputRange;
using ref::Shape4;

constexpr double kUnitRoundoff = 0x1p-24;
constexpr double kSigmoidAccuracy = 5e-6;  // XNNPACK test/sigmoid-operator-tester.h, absolute
constexpr double kInt8AbsoluteSlack = 2e-3;  // LSB
constexpr double kInt8RelativeSlack = 1e-5;  // times the magnitude in LSB

double gamma(size_t n) {
  const double nu = double(n) * kUnitRoundoff;
  return nu / (1.0 - nu);
}

struct Value {
  Dims dims;
  bool is_int8 = false;
  AffineQuant quant;
  std::vector<float> f32;   // fp32 tensors: the reference values
  std::vector<int8_t> s8;   // int8 tensors: the reference values
  std::vector<float> real;  // real values (f32 itself, or dequantized s8) for the bound pass
  std::vector<double> err;  // per element bound on |XNNPACK - reference|, real units
};

// The op computed in real numbers on the reference's real inputs (fp32 kernels), and the
// terms of its output bound.
struct BoundPass {
  std::vector<float> y;       // the result in real numbers (for fp32 outputs: the reference)
  std::vector<double> eprop;  // how far the inputs' bounds can move it
  std::vector<double> mag;    // the magnitude the op's own rounding scales with
  std::vector<double> local;  // fp32 outputs: the op's own rounding term
};

std::vector<float> abs_plus(const std::vector<float>& x, const std::vector<double>& e) {
  std::vector<float> r(x.size());
  for (size_t i = 0; i < x.size(); ++i) r[i] = static_cast<float>(std::fabs(double{x[i]}) + e[i]);
  return r;
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }
std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

Shape4 shape4(const Dims& d) {
  if (d.size() != 4) throw std::invalid_argument("reference: expected a rank-4 tensor");
  return {d[0], d[1], d[2], d[3]};
}

Dims dims_of(const TensorInfo& t) { return Dims(t.dims.begin(), t.dims.begin() + t.rank); }

// |q_xnn - q_ref| * scale for an int8 output (see the file comment).
double int8_output_error(int8_t q_ref, double v, double delta, AffineQuant q, ref::QuantRange r) {
  auto saturate = [&](double x) { return std::clamp(x, double(r.min), double(r.max)); };
  const double hi = saturate(std::floor(v + delta + 0.5) + q.zero_point);
  const double lo = saturate(std::ceil(v - delta - 0.5) + q.zero_point);
  if (q_ref > hi || q_ref < lo) {
    throw std::logic_error("reference: int8 kernel gives " + std::to_string(int{q_ref}) +
                           " but its real-valued pass gives " + std::to_string(v + q.zero_point));
  }
  return std::max(hi - q_ref, q_ref - lo) * q.scale;
}

class ReferenceRunner {
 public:
  explicit ReferenceRunner(const Model& model) : model_(model), values_(model.tensors().size()) {
    load_fp32_constants();
  }

  void run(const float* image, std::vector<float>* feature, std::vector<double>* tolerance) {
    const uint32_t input = model_.backbone().input();
    Value& in = values_[input];
    in.dims = dims_of(model_.tensors()[input]);
    in.f32.assign(image, image + ref::element_count(in.dims));
    in.real = in.f32;
    in.err.assign(in.f32.size(), 0.0);
    const auto* ops = model_.backbone().operators();
    for (uint32_t i = 0; i < ops->size(); ++i) run_op(*ops->Get(i), i);
    const Value& f = values_.at(model_.backbone().feature());
    feature->insert(feature->end(), f.f32.begin(), f.f32.end());
    tolerance->insert(tolerance->end(), f.err.begin(), f.err.end());
  }

 private:
  const schema::Tensor& schema_tensor(uint32_t t) const { return *model_.backbone().tensors()->Get(t); }

  AffineQuant quant_of(uint32_t t) const {
    const auto* q = schema_tensor(t).quantization();
    return {q->scale()->Get(0), q->zero_point()->Get(0)};
  }

  std::vector<float> scales_of(uint32_t t) const {
    const auto* s = schema_tensor(t).quantization()->scale();
    return std::vector<float>(s->begin(), s->end());
  }

  // An operator's input: a value an earlier operator wrote, or an fp32 constant.
  const Value& input(const schema::Operator& op, uint32_t i) const {
    const Value& v = values_.at(op.inputs()->Get(i));
    if (v.err.empty()) throw std::invalid_argument("reference: operator reads a tensor nobody wrote");
    return v;
  }

  // fp32 constants as exact values, for the operators that read them as activations (a
  // concatenated class token, an added position embedding).
  void load_fp32_constants() {
    for (uint32_t t = 0; t < model_.tensors().size(); ++t) {
      const TensorInfo& info = model_.tensors()[t];
      if (!info.is_constant || info.dtype != schema::DType_FLOAT32) continue;
      Value& v = values_[t];
      v.dims = dims_of(info);
      v.f32.resize(info.elements);
      std::memcpy(v.f32.data(), info.data, info.elements * sizeof(float));
      v.real = v.f32;
      v.err.assign(info.elements, 0.0);
    }
  }

  // Real-valued weights (O, ...) and bias (O) of a conv / fully connected, dequantized for int8.
  void real_weights(const schema::Operator& op, double in_scale, std::vector<float>* w, std::vector<float>* b) const {
    const uint32_t wt = op.inputs()->Get(1);
    const TensorInfo& wi = model_.tensors()[wt];
    const uint32_t out = wi.dims[0];
    const size_t per_out = wi.elements / out;
    w->resize(wi.elements);
    if (wi.dtype == schema::DType_FLOAT32) {
      const float* data = reinterpret_cast<const float*>(wi.data);
      w->assign(data, data + wi.elements);
    } else {
      const std::vector<float> scales = scales_of(wt);
      const int8_t* data = reinterpret_cast<const int8_t*>(wi.data);
      for (size_t i = 0; i < wi.elements; ++i) {
        const double s = scales.size() == 1 ? scales[0] : scales[i / per_out];
        (*w)[i] = static_cast<float>(s * data[i]);
      }
    }
    b->assign(out, 0.0f);
    if (op.inputs()->size() < 3) return;
    const uint32_t bt = op.inputs()->Get(2);
    const TensorInfo& bi = model_.tensors()[bt];
    if (bi.dtype == schema::DType_FLOAT32) {
      const float* data = reinterpret_cast<const float*>(bi.data);
      b->assign(data, data + out);
    } else {
      // The bias scale is input scale x weight scale by the format's convention (the
      // scale stored on the bias tensor is not what XNNPACK uses).
      const std::vector<float> scales = scales_of(wt);
      const int32_t* data = reinterpret_cast<const int32_t*>(bi.data);
      for (uint32_t o = 0; o < out; ++o) {
        const double s = scales.size() == 1 ? scales[0] : scales[o];
        (*b)[o] = static_cast<float>(in_scale * s * data[o]);
      }
    }
  }

  // Stores an op's output: fp32 takes the bound pass's y as the reference; int8 takes
  // `s8` (from the int8 kernel) and bounds it from the pass's pre-rounding value.
  void store(uint32_t tensor, const BoundPass& pass, std::vector<int8_t> s8, OutputRange range) {
    Value& out = values_[tensor];
    const TensorInfo& info = model_.tensors()[tensor];
    out.dims = dims_of(info);
    out.is_int8 = info.dtype == schema::DType_INT8;
    const size_t n = pass.y.size();
    if (n != info.elements) throw std::logic_error("reference: output size does not match the model");
    out.err.assign(n, 0.0);
    if (!out.is_int8) {
      out.f32 = pass.y;
      out.real = pass.y;
      for (size_t i = 0; i < n; ++i) out.err[i] = pass.eprop[i] + pass.local[i];
      return;
    }
    out.quant = quant_of(tensor);
    const double s = out.quant.scale;
    const ref::QuantRange qr = ref::quantized_range(range, out.quant);
    for (size_t i = 0; i < n; ++i) {
      const double v = pass.y[i] / s;
      const double delta = pass.eprop[i] / s + kInt8AbsoluteSlack + kInt8RelativeSlack * pass.mag[i] / s;
      out.err[i] = int8_output_error(s8[i], v, delta, out.quant, qr);
    }
    out.s8 = std::move(s8);
    out.real.resize(n);
    for (size_t i = 0; i < n; ++i) out.real[i] = static_cast<float>(out.quant.real(out.s8[i]));
  }

  // The int32 bias of an int8 conv / fully connected, or null.
  const int32_t* int32_bias(const schema::Operator& op) const {
    if (op.inputs()->size() < 3) return nullptr;
    return reinterpret_cast<const int32_t*>(model_.tensors()[op.inputs()->Get(2)].data);
  }

  bool output_is_int8(const schema::Operator& op) const {
    return model_.tensors()[op.outputs()->Get(0)].dtype == schema::DType_INT8;
  }

  void run_op(const schema::Operator& op, uint32_t index) {
    try {
      switch (op.options_type()) {
        case schema::OpOptions_Conv2DOptions: return conv(op, *op.options_as_Conv2DOptions());
        case schema::OpOptions_FullyConnectedOptions:
          return fully_connected(op, *op.options_as_FullyConnectedOptions());
        case schema::OpOptions_AddOptions:
          return binary(op, true, ref::activation_range(op.options_as_AddOptions()->activation()));
        case schema::OpOptions_MultiplyOptions:
          return binary(op, false, ref::activation_range(op.options_as_MultiplyOptions()->activation()));
        case schema::OpOptions_AveragePool2DOptions: return pool(op, *op.options_as_AveragePool2DOptions(), true);
        case schema::OpOptions_MaxPool2DOptions: return pool(op, *op.options_as_MaxPool2DOptions(), false);
        case schema::OpOptions_GlobalAveragePoolOptions: return global_average_pool(op);
        case schema::OpOptions_ClampOptions:
        case schema::OpOptions_HardSwishOptions:
        case schema::OpOptions_SigmoidOptions:
        case schema::OpOptions_LeakyReluOptions: return unary(op);
        case schema::OpOptions_ReshapeOptions: return reshape(op);
        case schema::OpOptions_PadOptions: return pad(op, *op.options_as_PadOptions());
        case schema::OpOptions_QuantizeOptions: return quantize(op);
        case schema::OpOptions_DequantizeOptions: return dequantize(op);
        case schema::OpOptions_ConcatOptions:
        case schema::OpOptions_SliceOptions:
        case schema::OpOptions_TransposeOptions:
        case schema::OpOptions_BatchMatMulOptions:
        case schema::OpOptions_SoftmaxOptions:
        case schema::OpOptions_MeanOptions:
        case schema::OpOptions_LayerNormOptions:
        case schema::OpOptions_GeluOptions: return tensor_op(op);
        // Not in the reference (its tests use models without them); converter tests
        // check these ops against PyTorch.
        case schema::OpOptions_SubtractOptions:
        case schema::OpOptions_DivideOptions:
        case schema::OpOptions_MaximumOptions:
        case schema::OpOptions_MinimumOptions:
        case schema::OpOptions_PReluOptions:
        case schema::OpOptions_EluOptions:
        case schema::OpOptions_NONE: break;
        default: break;
      }
      throw std::invalid_argument("operator type not in the reference");
    } catch (const std::exception& e) {
      const char* name = op.name() ? op.name()->c_str() : "";
      throw std::runtime_error("reference: operator " + std::to_string(index) + " '" + name + "': " + e.what());
    }
  }

  void conv(const schema::Operator& op, const schema::Conv2DOptions& o) {
    const Value& x = input(op, 0);
    const bool int8_out = output_is_int8(op);
    const OutputRange act = ref::activation_range(o.activation());
    const ref::Conv2DParams p{o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(), o.dilation_h(), o.dilation_w(),
                              o.pad_top(), o.pad_bottom(), o.pad_left(), o.pad_right(), o.groups()};
    const TensorInfo& wi = model_.tensors()[op.inputs()->Get(1)];
    const uint32_t out_c = wi.dims[0];
    const Shape4 xs = shape4(x.dims);
    const Shape4 ys = ref::conv2d_output_shape(xs, out_c, p);
    std::vector<float> w, b;
    real_weights(op, x.is_int8 ? x.quant.scale : 1.0, &w, &b);
    std::vector<float> w_abs(w.size()), b_abs(b.size());
    std::transform(w.begin(), w.end(), w_abs.begin(), [](float v) { return std::fabs(v); });
    std::transform(b.begin(), b.end(), b_abs.begin(), [](float v) { return std::fabs(v); });

    BoundPass pass;
    pass.y.resize(ys.elements());
    ref::conv2d_f32(x.real.data(), xs, w.data(), b.data(), out_c, p, int8_out ? OutputRange{} : act, pass.y.data());
    std::vector<float> tmp(ys.elements());
    const std::vector<float> e = to_float(x.err);
    ref::conv2d_f32(e.data(), xs, w_abs.data(), nullptr, out_c, p, OutputRange{}, tmp.data());
    pass.eprop = to_double(tmp);
    const std::vector<float> xa = abs_plus(x.real, x.err);
    ref::conv2d_f32(xa.data(), xs, w_abs.data(), b_abs.data(), out_c, p, OutputRange{}, tmp.data());
    pass.mag = to_double(tmp);
    const size_t products = size_t{p.kernel_h} * p.kernel_w * (xs.c / p.groups);
    pass.local.resize(pass.mag.size());
    for (size_t i = 0; i < pass.mag.size(); ++i) pass.local[i] = gamma(products + 1) * pass.mag[i];

    std::vector<int8_t> s8;
    if (int8_out) {
      s8.resize(ys.elements());
      ref::conv2d_s8(x.s8.data(), xs, x.quant, reinterpret_cast<const int8_t*>(wi.data), scales_of(op.inputs()->Get(1)),
                     int32_bias(op), out_c, p, quant_of(op.outputs()->Get(0)), act, s8.data());
    }
    store(op.outputs()->Get(0), pass, std::move(s8), act);
  }

  void fully_connected(const schema::Operator& op, const schema::FullyConnectedOptions& o) {
    const Value& x = input(op, 0);
    const bool int8_out = output_is_int8(op);
    const OutputRange act = ref::activation_range(o.activation());
    const TensorInfo& wi = model_.tensors()[op.inputs()->Get(1)];
    const uint32_t out_f = wi.dims[0], in_f = wi.dims[1];
    const auto batch = static_cast<uint32_t>(x.real.size() / in_f);  // every axis but the last
    std::vector<float> w, b;
    real_weights(op, x.is_int8 ? x.quant.scale : 1.0, &w, &b);
    std::vector<float> w_abs(w.size()), b_abs(b.size());
    std::transform(w.begin(), w.end(), w_abs.begin(), [](float v) { return std::fabs(v); });
    std::transform(b.begin(), b.end(), b_abs.begin(), [](float v) { return std::fabs(v); });

    BoundPass pass;
    const size_t n = size_t{batch} * out_f;
    pass.y.resize(n);
    ref::fully_connected_f32(x.real.data(), batch, in_f, w.data(), b.data(), out_f, int8_out ? OutputRange{} : act,
                             pass.y.data());
    std::vector<float> tmp(n);
    const std::vector<float> e = to_float(x.err);
    ref::fully_connected_f32(e.data(), batch, in_f, w_abs.data(), nullptr, out_f, OutputRange{}, tmp.data());
    pass.eprop = to_double(tmp);
    const std::vector<float> xa = abs_plus(x.real, x.err);
    ref::fully_connected_f32(xa.data(), batch, in_f, w_abs.data(), b_abs.data(), out_f, OutputRange{}, tmp.data());
    pass.mag = to_double(tmp);
    pass.local.resize(n);
    for (size_t i = 0; i < n; ++i) pass.local[i] = gamma(size_t{in_f} + 1) * pass.mag[i];
    if (o.input_quantization() == schema::InputQuantization_DYNAMIC_PER_ROW) {
      add_row_quantization_bound(x, batch, in_f, w_abs, out_f, &pass.eprop);
    }

    std::vector<int8_t> s8;
    if (int8_out) {
      s8.resize(n);
      ref::fully_connected_s8(x.s8.data(), batch, in_f, x.quant, reinterpret_cast<const int8_t*>(wi.data),
                              scales_of(op.inputs()->Get(1)), int32_bias(op), out_f, quant_of(op.outputs()->Get(0)),
                              act, s8.data());
    }
    store(op.outputs()->Get(0), pass, std::move(s8), act);
  }

  // A fully connected layer quantizing its fp32 input per row at run time: each row's
  // scale s = (max(0, max x) - min(0, min x)) / 255 over the row's possible values
  // (x +- E_x), and each quantized input is within s of x (half an LSB of rounding, and
  // up to half more where a nudged zero point clamps an end of the range). The output
  // moves by at most s * sum |w| more.
  static void add_row_quantization_bound(const Value& x, uint32_t rows, uint32_t in_f, const std::vector<float>& w_abs,
                                         uint32_t out_f, std::vector<double>* eprop) {
    std::vector<double> weight_sum(out_f, 0.0);
    for (uint32_t o = 0; o < out_f; ++o) {
      for (uint32_t k = 0; k < in_f; ++k) weight_sum[o] += w_abs[size_t{o} * in_f + k];
    }
    for (uint32_t r = 0; r < rows; ++r) {
      double lo = 0.0, hi = 0.0;
      for (uint32_t k = 0; k < in_f; ++k) {
        const size_t i = size_t{r} * in_f + k;
        lo = std::min(lo, double{x.real[i]} - x.err[i]);
        hi = std::max(hi, double{x.real[i]} + x.err[i]);
      }
      const double scale = (hi - lo) / 255.0;
      for (uint32_t o = 0; o < out_f; ++o) (*eprop)[size_t{r} * out_f + o] += scale * weight_sum[o];
    }
  }

  void binary(const schema::Operator& op, bool is_add, OutputRange act) {
    const Value& a = input(op, 0);
    const Value& b = input(op, 1);
    const bool int8_out = output_is_int8(op);
    const auto idx = ref::broadcast_indices(a.dims, b.dims);
    BoundPass pass;
    const size_t n = idx.size();
    pass.y.resize(n);
    const OutputRange r = int8_out ? OutputRange{} : act;
    if (is_add) {
      ref::add_f32(a.real.data(), a.dims, b.real.data(), b.dims, r, pass.y.data());
    } else {
      ref::multiply_f32(a.real.data(), a.dims, b.real.data(), b.dims, r, pass.y.data());
    }
    pass.eprop.resize(n);
    pass.mag.resize(n);
    pass.local.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const auto [ia, ib] = idx[i];
      const double ea = a.err[ia], eb = b.err[ib];
      const double xa = std::fabs(double{a.real[ia]}), xb = std::fabs(double{b.real[ib]});
      pass.eprop[i] = is_add ? ea + eb : xb * ea + xa * eb + ea * eb;
      pass.mag[i] = is_add ? xa + xb + ea + eb : (xa + ea) * (xb + eb);
      pass.local[i] = 2 * kUnitRoundoff * pass.mag[i];
    }
    std::vector<int8_t> s8;
    if (int8_out) {
      s8.resize(n);
      const AffineQuant out_q = quant_of(op.outputs()->Get(0));
      if (is_add) {
        ref::add_s8(a.s8.data(), a.dims, a.quant, b.s8.data(), b.dims, b.quant, out_q, act, s8.data());
      } else {
        ref::multiply_s8(a.s8.data(), a.dims, a.quant, b.s8.data(), b.dims, b.quant, out_q, act, s8.data());
      }
    }
    store(op.outputs()->Get(0), pass, std::move(s8), act);
  }

  void pool(const schema::Operator& op, const schema::Pool2DOptions& o, bool average) {
    const Value& x = input(op, 0);
    const bool int8_out = output_is_int8(op);
    const OutputRange act = ref::activation_range(o.activation());
    const ref::Pool2DParams p{o.kernel_h(), o.kernel_w(), o.stride_h(), o.stride_w(),
                              o.pad_top(),  o.pad_bottom(), o.pad_left(), o.pad_right()};
    const Shape4 xs = shape4(x.dims);
    const Shape4 ys = ref::pool2d_output_shape(xs, p);
    auto run_f32 = average ? ref::average_pool2d_f32 : ref::max_pool2d_f32;
    BoundPass pass;
    pass.y.resize(ys.elements());
    run_f32(x.real.data(), xs, p, int8_out ? OutputRange{} : act, pass.y.data());
    std::vector<float> tmp(ys.elements());
    const std::vector<float> e = to_float(x.err);
    run_f32(e.data(), xs, p, OutputRange{}, tmp.data());
    pass.eprop = to_double(tmp);
    const std::vector<float> xa = abs_plus(x.real, x.err);
    run_f32(xa.data(), xs, p, OutputRange{}, tmp.data());
    pass.mag = to_double(tmp);
    pass.local.assign(ys.elements(), 0.0);
    if (average) {
      const size_t window = size_t{p.kernel_h} * p.kernel_w;
      for (size_t i = 0; i < pass.mag.size(); ++i) pass.local[i] = gamma(window + 2) * pass.mag[i];
    }
    std::vector<int8_t> s8;
    if (int8_out) {
      s8.resize(ys.elements());
      const AffineQuant out_q = quant_of(op.outputs()->Get(0));
      if (average) {
        ref::average_pool2d_s8(x.s8.data(), xs, x.quant, p, out_q, act, s8.data());
      } else {
        ref::max_pool2d_s8(x.s8.data(), xs, x.quant, p, out_q, act, s8.data());
      }
    }
    store(op.outputs()->Get(0), pass, std::move(s8), act);
  }

  void global_average_pool(const schema::Operator& op) {
    const Value& x = input(op, 0);
    const Shape4 xs = shape4(x.dims);
    const size_t n = size_t{xs.n} * xs.c;
    BoundPass pass;
    pass.y.resize(n);
    ref::global_average_pool_f32(x.real.data(), xs, pass.y.data());
    std::vector<float> tmp(n);
    const std::vector<float> e = to_float(x.err);
    ref::global_average_pool_f32(e.data(), xs, tmp.data());
    pass.eprop = to_double(tmp);
    const std::vector<float> xa = abs_plus(x.real, x.err);
    ref::global_average_pool_f32(xa.data(), xs, tmp.data());
    pass.mag = to_double(tmp);
    pass.local.resize(n);
    for (size_t i = 0; i < n; ++i) pass.local[i] = gamma(size_t{xs.h} * xs.w + 2) * pass.mag[i];
    std::vector<int8_t> s8;
    if (output_is_int8(op)) {
      s8.resize(n);
      ref::global_average_pool_s8(x.s8.data(), xs, x.quant, quant_of(op.outputs()->Get(0)), s8.data());
    }
    store(op.outputs()->Get(0), pass, std::move(s8), OutputRange{});
  }

  // clamp, hardswish, sigmoid, leaky relu: elementwise with a slope bound and a rounding term.
  void unary(const schema::Operator& op) {
    const Value& x = input(op, 0);
    const size_t n = x.real.size();
    BoundPass pass;
    pass.y.resize(n);
    pass.eprop.resize(n);
    pass.mag.resize(n);
    pass.local.resize(n);
    std::vector<int8_t> s8;
    const bool int8_out = output_is_int8(op);
    const AffineQuant out_q = int8_out ? quant_of(op.outputs()->Get(0)) : AffineQuant{};
    if (int8_out) s8.resize(n);
    const float* xr = x.real.data();
    double slope = 1.0;
    switch (op.options_type()) {
      case schema::OpOptions_ClampOptions: {
        const auto& o = *op.options_as_ClampOptions();
        ref::clamp_f32(xr, n, o.min(), o.max(), pass.y.data());
        if (int8_out) ref::clamp_s8(x.s8.data(), n, x.quant, o.min(), o.max(), out_q, s8.data());
        for (size_t i = 0; i < n; ++i) pass.mag[i] = std::fabs(double{xr[i]}) + x.err[i];
        break;
      }
      case schema::OpOptions_HardSwishOptions:
        slope = 1.5;
        ref::hardswish_f32(xr, n, pass.y.data());
        if (int8_out) ref::hardswish_s8(x.s8.data(), n, x.quant, out_q, s8.data());
        for (size_t i = 0; i < n; ++i) {
          const double xt = std::fabs(double{xr[i]}) + x.err[i];
          pass.mag[i] = xt * (xt + 3.0) / 2.0 + 2.0 * xt;
          pass.local[i] = 2 * kUnitRoundoff * pass.mag[i];
        }
        break;
      case schema::OpOptions_SigmoidOptions:
        slope = 0.25;
        ref::sigmoid_f32(xr, n, pass.y.data());
        if (int8_out) ref::sigmoid_s8(x.s8.data(), n, x.quant, out_q, s8.data());
        for (size_t i = 0; i < n; ++i) {
          pass.mag[i] = 1.0;
          pass.local[i] = kSigmoidAccuracy;
        }
        break;
      case schema::OpOptions_LeakyReluOptions: {
        const float alpha = op.options_as_LeakyReluOptions()->alpha();
        slope = std::max(1.0, std::fabs(double{alpha}));
        ref::leaky_relu_f32(xr, n, alpha, pass.y.data());
        if (int8_out) ref::leaky_relu_s8(x.s8.data(), n, x.quant, alpha, out_q, s8.data());
        for (size_t i = 0; i < n; ++i) {
          pass.mag[i] = slope * (std::fabs(double{xr[i]}) + x.err[i]);
          pass.local[i] = 2 * kUnitRoundoff * pass.mag[i];
        }
        break;
      }
      default: throw std::logic_error("not a unary operator");
    }
    for (size_t i = 0; i < n; ++i) pass.eprop[i] = slope * x.err[i];
    store(op.outputs()->Get(0), pass, std::move(s8), OutputRange{});
  }

  // The tensor operators (fp32 only; reference_tensor_ops.cpp has their rules). Layer
  // norm's gamma and beta are constants the kernel reads from the model.
  void tensor_op(const schema::Operator& op) {
    std::vector<ref::BoundedTensor> in;
    const uint32_t computed = op.options_type() == schema::OpOptions_LayerNormOptions ? 1 : op.inputs()->size();
    for (uint32_t i = 0; i < computed; ++i) {
      const Value& v = input(op, i);
      if (v.is_int8) throw std::invalid_argument("tensor operators run in fp32 only");
      in.push_back({v.dims, v.f32, v.err});
    }
    ref::BoundedTensor y = ref::run_tensor_op(model_, op, in);
    Value out;
    out.dims = std::move(y.dims);
    out.f32 = std::move(y.x);
    out.real = out.f32;
    out.err = std::move(y.err);
    values_[op.outputs()->Get(0)] = std::move(out);
  }

  void reshape(const schema::Operator& op) {
    const uint32_t out_t = op.outputs()->Get(0);
    Value out = input(op, 0);  // row-major data is unchanged; only the shape is new
    out.dims = dims_of(model_.tensors()[out_t]);
    if (out.is_int8) {
      const AffineQuant q = quant_of(out_t);
      if (q.scale != out.quant.scale || q.zero_point != out.quant.zero_point) {
        throw std::invalid_argument("reference: int8 reshape needs the same quantization in and out");
      }
    }
    values_[out_t] = std::move(out);
  }

  void pad(const schema::Operator& op, const schema::PadOptions& o) {
    const Value& x = input(op, 0);
    const Dims pre(o.pre_pad()->begin(), o.pre_pad()->end());
    const Dims post(o.post_pad()->begin(), o.post_pad()->end());
    Value out;
    out.dims = dims_of(model_.tensors()[op.outputs()->Get(0)]);
    out.is_int8 = x.is_int8;
    out.quant = x.is_int8 ? quant_of(op.outputs()->Get(0)) : AffineQuant{};
    const size_t n = ref::element_count(out.dims);
    std::vector<float> e(n);
    const std::vector<float> xe = to_float(x.err);
    ref::pad_f32(xe.data(), x.dims, pre, post, 0.0f, e.data());  // padding elements are exact
    out.err = to_double(e);
    if (x.is_int8) {
      if (out.quant.scale != x.quant.scale || out.quant.zero_point != x.quant.zero_point) {
        throw std::invalid_argument("reference: int8 pad needs the same quantization in and out");
      }
      out.s8.resize(n);
      ref::pad_s8(x.s8.data(), x.dims, pre, post, ref::quantize_pad_value(o.value(), out.quant), out.s8.data());
      out.real.resize(n);
      for (size_t i = 0; i < n; ++i) out.real[i] = static_cast<float>(out.quant.real(out.s8[i]));
    } else {
      out.f32.resize(n);
      ref::pad_f32(x.f32.data(), x.dims, pre, post, o.value(), out.f32.data());
      out.real = out.f32;
    }
    values_[op.outputs()->Get(0)] = std::move(out);
  }

  void quantize(const schema::Operator& op) {
    const Value& x = input(op, 0);
    const uint32_t out_t = op.outputs()->Get(0);
    const AffineQuant q = quant_of(out_t);
    const size_t n = x.f32.size();
    BoundPass pass;
    pass.y = x.f32;  // real value; store() divides by the scale for the pre-rounding value
    pass.eprop = x.err;
    pass.mag.resize(n);
    for (size_t i = 0; i < n; ++i) pass.mag[i] = std::fabs(double{x.f32[i]}) + x.err[i];
    pass.local.assign(n, 0.0);
    std::vector<int8_t> s8(n);
    ref::quantize_s8(x.f32.data(), n, q, s8.data());
    store(out_t, pass, std::move(s8), OutputRange{});
  }

  void dequantize(const schema::Operator& op) {
    const Value& x = input(op, 0);
    const size_t n = x.s8.size();
    BoundPass pass;
    pass.y.resize(n);
    ref::dequantize_s8(x.s8.data(), n, x.quant, pass.y.data());
    pass.eprop = x.err;
    pass.mag.resize(n);
    pass.local.resize(n);
    for (size_t i = 0; i < n; ++i) {
      // XNNPACK's q may be another grid point, |y| + E_q away from zero at most.
      pass.mag[i] = std::fabs(double{pass.y[i]}) + x.err[i];
      pass.local[i] = 2 * kUnitRoundoff * pass.mag[i];
    }
    store(op.outputs()->Get(0), pass, {}, OutputRange{});
  }

  const Model& model_;
  std::vector<Value> values_;
};

}  // namespace

ReferenceFeature reference_feature_with_tolerance(const Model& model, const float* input, uint32_t batch) {
  const TensorInfo& in = model.tensors()[model.backbone().input()];
  ReferenceFeature result;
  for (uint32_t image = 0; image < batch; ++image) {
    ReferenceRunner runner(model);
    runner.run(input + image * in.elements, &result.feature, &result.tolerance);
  }
  return result;
}

std::vector<float> reference_feature(const Model& model, const float* input, uint32_t batch) {
  return reference_feature_with_tolerance(model, input, batch).feature;
}

}  // namespace edgeclr::testing
