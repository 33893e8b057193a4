#include "support/reference_kernels.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace edgeclr::testing::reference {
namespace {

size_t nhwc(Shape4 s, uint32_t n, uint32_t h, uint32_t w, uint32_t c) {
  return ((size_t{n} * s.h + h) * s.w + w) * s.c + c;
}

float clamp_to(double v, OutputRange r) {
  const float f = static_cast<float>(v);
  return std::min(std::max(f, r.min), r.max);
}

int8_t saturate(double q, QuantRange r) {
  return static_cast<int8_t>(std::min<double>(std::max<double>(q, r.min), r.max));
}

// Output size of a window along one axis; the loader guarantees the window fits.
uint32_t window_output(uint32_t in, uint32_t pad_a, uint32_t pad_b, uint32_t kernel, uint32_t stride,
                       uint32_t dilation) {
  const uint64_t padded = uint64_t{in} + pad_a + pad_b;
  const uint64_t effective = uint64_t{dilation} * (kernel - 1) + 1;
  if (padded < effective) throw std::invalid_argument("reference: window larger than the padded input");
  return static_cast<uint32_t>((padded - effective) / stride + 1);
}

// Weight scale of output channel o: per channel or per tensor.
double weight_scale(const std::vector<float>& scales, uint32_t o) {
  return scales.size() == 1 ? scales[0] : scales.at(o);
}

// The input elements inside the pooling window of output (oy, ox): calls f(iy, ix).
template <typename F>
void for_each_in_window(Shape4 in, const Pool2DParams& p, uint32_t oy, uint32_t ox, F f) {
  for (uint32_t ky = 0; ky < p.kernel_h; ++ky) {
    const int64_t iy = int64_t{oy} * p.stride_h + ky - p.pad_top;
    if (iy < 0 || iy >= in.h) continue;
    for (uint32_t kx = 0; kx < p.kernel_w; ++kx) {
      const int64_t ix = int64_t{ox} * p.stride_w + kx - p.pad_left;
      if (ix < 0 || ix >= in.w) continue;
      f(static_cast<uint32_t>(iy), static_cast<uint32_t>(ix));
    }
  }
}

// Mean of the in-window elements per output, in real numbers; real_of(i) reads element i.
template <typename RealOf, typename Store>
void average_pool(Shape4 in, const Pool2DParams& p, RealOf real_of, Store store) {
  const Shape4 out = pool2d_output_shape(in, p);
  for (uint32_t n = 0; n < out.n; ++n)
    for (uint32_t oy = 0; oy < out.h; ++oy)
      for (uint32_t ox = 0; ox < out.w; ++ox)
        for (uint32_t c = 0; c < out.c; ++c) {
          double sum = 0.0;
          uint32_t count = 0;
          for_each_in_window(in, p, oy, ox, [&](uint32_t iy, uint32_t ix) {
            sum += real_of(nhwc(in, n, iy, ix, c));
            ++count;
          });
          if (count == 0) throw std::invalid_argument("reference: pooling window covers only padding");
          store(nhwc(out, n, oy, ox, c), sum / count);
        }
}

template <typename RealOf, typename Store>
void max_pool(Shape4 in, const Pool2DParams& p, RealOf real_of, Store store) {
  const Shape4 out = pool2d_output_shape(in, p);
  for (uint32_t n = 0; n < out.n; ++n)
    for (uint32_t oy = 0; oy < out.h; ++oy)
      for (uint32_t ox = 0; ox < out.w; ++ox)
        for (uint32_t c = 0; c < out.c; ++c) {
          double best = -std::numeric_limits<double>::infinity();
          bool any = false;
          for_each_in_window(in, p, oy, ox, [&](uint32_t iy, uint32_t ix) {
            best = std::max(best, real_of(nhwc(in, n, iy, ix, c)));
            any = true;
          });
          if (!any) throw std::invalid_argument("reference: pooling window covers only padding");
          store(nhwc(out, n, oy, ox, c), best);
        }
}

// Walks every element of `in` and calls f(input index, output index) for the padded output.
template <typename F>
void pad_walk(const Dims& in_dims, const Dims& pre, const Dims& post, F f) {
  const size_t rank = in_dims.size();
  if (pre.size() != rank || post.size() != rank) throw std::invalid_argument("reference: pad rank mismatch");
  Dims out_dims(rank);
  for (size_t d = 0; d < rank; ++d) out_dims[d] = in_dims[d] + pre[d] + post[d];
  const size_t count = element_count(in_dims);
  Dims index(rank, 0);
  for (size_t i = 0; i < count; ++i) {
    size_t o = 0;
    for (size_t d = 0; d < rank; ++d) o = o * out_dims[d] + index[d] + pre[d];
    f(i, o);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < in_dims[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

size_t element_count(const Dims& dims) {
  size_t n = 1;
  for (uint32_t d : dims) n *= d;
  return n;
}

OutputRange activation_range(schema::Activation activation) {
  switch (activation) {
    case schema::Activation_RELU: return {0.0f, std::numeric_limits<float>::infinity()};
    case schema::Activation_RELU6: return {0.0f, 6.0f};
    default: return {};
  }
}

double round_half_even(double x) {
  if (std::fegetround() != FE_TONEAREST) throw std::logic_error("reference: rounding mode is not to-nearest");
  return std::nearbyint(x);
}

QuantRange quantized_range(OutputRange range, AffineQuant q) {
  auto quantize_bound = [&](float bound) {
    return static_cast<int32_t>(std::clamp(round_half_even(bound / double{q.scale}) + q.zero_point, -128.0, 127.0));
  };
  QuantRange r;
  if (std::isfinite(range.min)) r.min = quantize_bound(range.min);
  if (std::isfinite(range.max)) r.max = quantize_bound(range.max);
  return r;
}

int8_t requantize(double real, AffineQuant q, QuantRange range) {
  return saturate(round_half_even(real / double{q.scale}) + q.zero_point, range);
}

Shape4 conv2d_output_shape(Shape4 in, uint32_t out_channels, const Conv2DParams& p) {
  return {in.n, window_output(in.h, p.pad_top, p.pad_bottom, p.kernel_h, p.stride_h, p.dilation_h),
          window_output(in.w, p.pad_left, p.pad_right, p.kernel_w, p.stride_w, p.dilation_w), out_channels};
}

Shape4 pool2d_output_shape(Shape4 in, const Pool2DParams& p) {
  return {in.n, window_output(in.h, p.pad_top, p.pad_bottom, p.kernel_h, p.stride_h, 1),
          window_output(in.w, p.pad_left, p.pad_right, p.kernel_w, p.stride_w, 1), in.c};
}

// ---- convolution and fully connected ----

namespace {

// The shared loop of both convolutions: acc(o, y, x) over the receptive field, with
// term(input index, weight index) added for every tap that is not padding.
template <typename Acc, typename Term, typename Store>
void conv2d_loop(Shape4 in, uint32_t out_channels, const Conv2DParams& p, Term term, Store store) {
  if (p.groups == 0 || in.c % p.groups != 0 || out_channels % p.groups != 0) {
    throw std::invalid_argument("reference: groups do not divide the channels");
  }
  const Shape4 out = conv2d_output_shape(in, out_channels, p);
  const uint32_t group_in = in.c / p.groups;
  const uint32_t group_out = out_channels / p.groups;
  for (uint32_t n = 0; n < out.n; ++n)
    for (uint32_t oy = 0; oy < out.h; ++oy)
      for (uint32_t ox = 0; ox < out.w; ++ox)
        for (uint32_t o = 0; o < out_channels; ++o) {
          const uint32_t g = o / group_out;
          Acc acc = 0;
          for (uint32_t ky = 0; ky < p.kernel_h; ++ky) {
            const int64_t iy = int64_t{oy} * p.stride_h + int64_t{ky} * p.dilation_h - p.pad_top;
            if (iy < 0 || iy >= in.h) continue;
            for (uint32_t kx = 0; kx < p.kernel_w; ++kx) {
              const int64_t ix = int64_t{ox} * p.stride_w + int64_t{kx} * p.dilation_w - p.pad_left;
              if (ix < 0 || ix >= in.w) continue;
              for (uint32_t ci = 0; ci < group_in; ++ci) {
                const size_t x = nhwc(in, n, static_cast<uint32_t>(iy), static_cast<uint32_t>(ix), g * group_in + ci);
                const size_t w = ((size_t{o} * p.kernel_h + ky) * p.kernel_w + kx) * group_in + ci;
                acc += term(x, w);
              }
            }
          }
          store(nhwc(out, n, oy, ox, o), o, acc);
        }
}

}  // namespace

void conv2d_f32(const float* in, Shape4 in_shape, const float* weight, const float* bias, uint32_t out_channels,
                const Conv2DParams& p, OutputRange range, float* out) {
  conv2d_loop<double>(
      in_shape, out_channels, p, [&](size_t x, size_t w) { return double{in[x]} * weight[w]; },
      [&](size_t i, uint32_t o, double acc) { out[i] = clamp_to(acc + (bias ? bias[o] : 0.0), range); });
}

void conv2d_s8(const int8_t* in, Shape4 in_shape, AffineQuant in_q, const int8_t* weight,
               const std::vector<float>& weight_scales, const int32_t* bias, uint32_t out_channels,
               const Conv2DParams& p, AffineQuant out_q, OutputRange range, int8_t* out) {
  const QuantRange qr = quantized_range(range, out_q);
  conv2d_loop<int64_t>(
      in_shape, out_channels, p,
      [&](size_t x, size_t w) { return (int64_t{in[x]} - in_q.zero_point) * weight[w]; },
      [&](size_t i, uint32_t o, int64_t acc) {
        const int64_t total = acc + (bias ? bias[o] : 0);
        out[i] = requantize(double(total) * in_q.scale * weight_scale(weight_scales, o), out_q, qr);
      });
}

void fully_connected_f32(const float* in, uint32_t batch, uint32_t in_features, const float* weight,
                         const float* bias, uint32_t out_features, OutputRange range, float* out) {
  for (uint32_t n = 0; n < batch; ++n)
    for (uint32_t o = 0; o < out_features; ++o) {
      double acc = bias ? bias[o] : 0.0;
      for (uint32_t i = 0; i < in_features; ++i) {
        acc += double{in[size_t{n} * in_features + i]} * weight[size_t{o} * in_features + i];
      }
      out[size_t{n} * out_features + o] = clamp_to(acc, range);
    }
}

void fully_connected_s8(const int8_t* in, uint32_t batch, uint32_t in_features, AffineQuant in_q,
                        const int8_t* weight, const std::vector<float>& weight_scales, const int32_t* bias,
                        uint32_t out_features, AffineQuant out_q, OutputRange range, int8_t* out) {
  const QuantRange qr = quantized_range(range, out_q);
  for (uint32_t n = 0; n < batch; ++n)
    for (uint32_t o = 0; o < out_features; ++o) {
      int64_t acc = bias ? bias[o] : 0;
      for (uint32_t i = 0; i < in_features; ++i) {
        acc += (int64_t{in[size_t{n} * in_features + i]} - in_q.zero_point) * weight[size_t{o} * in_features + i];
      }
      out[size_t{n} * out_features + o] =
          requantize(double(acc) * in_q.scale * weight_scale(weight_scales, o), out_q, qr);
    }
}

// ---- elementwise binary ----

Dims broadcast_shape(const Dims& a, const Dims& b) {
  const size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const uint32_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const uint32_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) throw std::invalid_argument("reference: shapes do not broadcast");
    out[i] = std::max(da, db);
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> broadcast_indices(const Dims& a, const Dims& b) {
  const Dims out = broadcast_shape(a, b);
  const size_t rank = out.size();
  // Strides of a and b over the output's axes; 0 where the operand is broadcast.
  std::vector<size_t> sa(rank, 0), sb(rank, 0);
  size_t stride_a = 1, stride_b = 1;
  for (size_t i = rank; i-- > 0;) {
    const size_t ia = i + a.size() - rank;  // wraps (and is skipped) when a has no axis i
    const size_t ib = i + b.size() - rank;
    if (i >= rank - a.size()) {
      sa[i] = a[ia] == 1 ? 0 : stride_a;
      stride_a *= a[ia];
    }
    if (i >= rank - b.size()) {
      sb[i] = b[ib] == 1 ? 0 : stride_b;
      stride_b *= b[ib];
    }
  }
  std::vector<std::pair<size_t, size_t>> result(element_count(out));
  Dims index(rank, 0);
  for (auto& r : result) {
    size_t xa = 0, xb = 0;
    for (size_t i = 0; i < rank; ++i) {
      xa += index[i] * sa[i];
      xb += index[i] * sb[i];
    }
    r = {xa, xb};
    for (size_t i = rank; i-- > 0;) {
      if (++index[i] < out[i]) break;
      index[i] = 0;
    }
  }
  return result;
}

void add_f32(const float* a, const Dims& a_dims, const float* b, const Dims& b_dims, OutputRange range,
             float* out) {
  size_t i = 0;
  for (const auto& [xa, xb] : broadcast_indices(a_dims, b_dims)) {
    out[i++] = clamp_to(double{a[xa]} + b[xb], range);
  }
}

void multiply_f32(const float* a, const Dims& a_dims, const float* b, const Dims& b_dims, OutputRange range,
                  float* out) {
  size_t i = 0;
  for (const auto& [xa, xb] : broadcast_indices(a_dims, b_dims)) {
    out[i++] = clamp_to(double{a[xa]} * b[xb], range);
  }
}

void add_s8(const int8_t* a, const Dims& a_dims, AffineQuant a_q, const int8_t* b, const Dims& b_dims,
            AffineQuant b_q, AffineQuant out_q, OutputRange range, int8_t* out) {
  const QuantRange qr = quantized_range(range, out_q);
  size_t i = 0;
  for (const auto& [xa, xb] : broadcast_indices(a_dims, b_dims)) {
    out[i++] = requantize(a_q.real(a[xa]) + b_q.real(b[xb]), out_q, qr);
  }
}

void multiply_s8(const int8_t* a, const Dims& a_dims, AffineQuant a_q, const int8_t* b, const Dims& b_dims,
                 AffineQuant b_q, AffineQuant out_q, OutputRange range, int8_t* out) {
  const QuantRange qr = quantized_range(range, out_q);
  size_t i = 0;
  for (const auto& [xa, xb] : broadcast_indices(a_dims, b_dims)) {
    out[i++] = requantize(a_q.real(a[xa]) * b_q.real(b[xb]), out_q, qr);
  }
}

// ---- pooling ----

void average_pool2d_f32(const float* in, Shape4 in_shape, const Pool2DParams& p, OutputRange range, float* out) {
  average_pool(
      in_shape, p, [&](size_t i) { return double{in[i]}; }, [&](size_t i, double v) { out[i] = clamp_to(v, range); });
}

void average_pool2d_s8(const int8_t* in, Shape4 in_shape, AffineQuant in_q, const Pool2DParams& p,
                       AffineQuant out_q, OutputRange range, int8_t* out) {
  const QuantRange qr = quantized_range(range, out_q);
  average_pool(
      in_shape, p, [&](size_t i) { return in_q.real(in[i]); },
      [&](size_t i, double v) { out[i] = requantize(v, out_q, qr); });
}

void max_pool2d_f32(const float* in, Shape4 in_shape, const Pool2DParams& p, OutputRange range, float* out) {
  max_pool(
      in_shape, p, [&](size_t i) { return double{in[i]}; }, [&](size_t i, double v) { out[i] = clamp_to(v, range); });
}

void max_pool2d_s8(const int8_t* in, Shape4 in_shape, AffineQuant in_q, const Pool2DParams& p, AffineQuant out_q,
                   OutputRange range, int8_t* out) {
  const QuantRange qr = quantized_range(range, out_q);
  max_pool(
      in_shape, p, [&](size_t i) { return in_q.real(in[i]); },
      [&](size_t i, double v) { out[i] = requantize(v, out_q, qr); });
}

void global_average_pool_f32(const float* in, Shape4 in_shape, float* out) {
  const Pool2DParams whole{in_shape.h, in_shape.w, 1, 1, 0, 0, 0, 0};
  average_pool2d_f32(in, in_shape, whole, OutputRange{}, out);
}

void global_average_pool_s8(const int8_t* in, Shape4 in_shape, AffineQuant in_q, AffineQuant out_q, int8_t* out) {
  const Pool2DParams whole{in_shape.h, in_shape.w, 1, 1, 0, 0, 0, 0};
  average_pool2d_s8(in, in_shape, in_q, whole, out_q, OutputRange{}, out);
}

// ---- elementwise unary ----

double hardswish(double x) { return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double leaky_relu(double x, double alpha) { return x >= 0.0 ? x : alpha * x; }

void clamp_f32(const float* x, size_t count, float min, float max, float* y) {
  for (size_t i = 0; i < count; ++i) y[i] = std::min(std::max(x[i], min), max);
}

void hardswish_f32(const float* x, size_t count, float* y) {
  for (size_t i = 0; i < count; ++i) y[i] = static_cast<float>(hardswish(x[i]));
}

void sigmoid_f32(const float* x, size_t count, float* y) {
  for (size_t i = 0; i < count; ++i) y[i] = static_cast<float>(sigmoid(x[i]));
}

void leaky_relu_f32(const float* x, size_t count, float alpha, float* y) {
  for (size_t i = 0; i < count; ++i) y[i] = static_cast<float>(leaky_relu(x[i], alpha));
}

void clamp_s8(const int8_t* x, size_t count, AffineQuant in_q, float min, float max, AffineQuant out_q, int8_t* y) {
  for (size_t i = 0; i < count; ++i) {
    y[i] = requantize(std::min<double>(std::max<double>(in_q.real(x[i]), min), max), out_q);
  }
}

void hardswish_s8(const int8_t* x, size_t count, AffineQuant in_q, AffineQuant out_q, int8_t* y) {
  for (size_t i = 0; i < count; ++i) y[i] = requantize(hardswish(in_q.real(x[i])), out_q);
}

void sigmoid_s8(const int8_t* x, size_t count, AffineQuant in_q, AffineQuant out_q, int8_t* y) {
  for (size_t i = 0; i < count; ++i) y[i] = requantize(sigmoid(in_q.real(x[i])), out_q);
}

void leaky_relu_s8(const int8_t* x, size_t count, AffineQuant in_q, float alpha, AffineQuant out_q, int8_t* y) {
  for (size_t i = 0; i < count; ++i) y[i] = requantize(leaky_relu(in_q.real(x[i]), alpha), out_q);
}

// ---- layout ----

void reshape_f32(const float* x, size_t count, float* y) { std::memmove(y, x, count * sizeof(float)); }
void reshape_s8(const int8_t* x, size_t count, int8_t* y) { std::memmove(y, x, count); }

void pad_f32(const float* in, const Dims& in_dims, const Dims& pre, const Dims& post, float value, float* out) {
  Dims out_dims(in_dims.size());
  for (size_t d = 0; d < in_dims.size(); ++d) out_dims[d] = in_dims[d] + pre.at(d) + post.at(d);
  std::fill(out, out + element_count(out_dims), value);
  pad_walk(in_dims, pre, post, [&](size_t i, size_t o) { out[o] = in[i]; });
}

void pad_s8(const int8_t* in, const Dims& in_dims, const Dims& pre, const Dims& post, int8_t value, int8_t* out) {
  Dims out_dims(in_dims.size());
  for (size_t d = 0; d < in_dims.size(); ++d) out_dims[d] = in_dims[d] + pre.at(d) + post.at(d);
  std::fill(out, out + element_count(out_dims), value);
  pad_walk(in_dims, pre, post, [&](size_t i, size_t o) { out[o] = in[i]; });
}

int8_t quantize_pad_value(float value, AffineQuant q) {
  const float v = value / q.scale + static_cast<float>(q.zero_point);
  return static_cast<int8_t>(round_half_even(std::min(std::max(v, -128.0f), 127.0f)));
}

// ---- quantization ----

float quantize_prescaled(float x, AffineQuant q) {
  const float inverse_scale = 1.0f / q.scale;
  return x * inverse_scale;
}

void quantize_s8(const float* x, size_t count, AffineQuant q, int8_t* out) {
  for (size_t i = 0; i < count; ++i) {
    out[i] = saturate(round_half_even(quantize_prescaled(x[i], q)) + q.zero_point, QuantRange{});
  }
}

void dequantize_s8(const int8_t* q, size_t count, AffineQuant quant, float* out) {
  for (size_t i = 0; i < count; ++i) {
    out[i] = static_cast<float>(int32_t{q[i]} - quant.zero_point) * quant.scale;
  }
}

}  // namespace edgeclr::testing::reference
