// Plain reference kernels: the oracle the XNNPACK backbone is tested against.
//
// Naive loops over row-major NHWC tensors, written for obviousness, not speed. fp32
// kernels accumulate in double and round once to float. int8 kernels follow the
// format's conventions (docs/format.md): activations int8 with a per-tensor scale and
// zero point (real = scale * (q - zero_point)), conv / fully-connected weights int8
// symmetric per tensor or per output channel, biases int32 at scale input x weight.
// Conv and fully connected accumulate exactly in int32 and requantize once; the
// elementwise int8 kernels compute in real numbers from the dequantized inputs and
// requantize. Requantization rounds half to even (XNNPACK's lrintf / cvtps) and
// saturates to [-128, 127].
//
// Semantics matched to XNNPACK (see the report in test_backbone_ops.cpp):
//   - average pooling divides by the number of input (non-padding) elements inside the
//     window, as XNNPACK's fp32 average pooling does (test/average-pooling-operator-tester.h);
//   - max pooling never lets padding win;
//   - quantize computes round_half_even(x * (1.0f / scale)) + zero_point in fp32, as
//     XNNPACK's f32->qs8 convert does (scale inverted once, lrintf).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "schema/edgeclr_generated.h"

namespace edgeclr::testing::reference {

using Dims = std::vector<uint32_t>;

size_t element_count(const Dims& dims);

struct Shape4 {
  uint32_t n = 1, h = 1, w = 1, c = 1;
  size_t elements() const { return size_t{n} * h * w * c; }
};

struct Conv2DParams {
  uint32_t kernel_h = 1, kernel_w = 1;
  uint32_t stride_h = 1, stride_w = 1;
  uint32_t dilation_h = 1, dilation_w = 1;
  uint32_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  uint32_t groups = 1;
};

struct Pool2DParams {
  uint32_t kernel_h = 1, kernel_w = 1;
  uint32_t stride_h = 1, stride_w = 1;
  uint32_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
};

// A fused activation as the range the output is clamped to.
struct OutputRange {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
};

// NONE: (-inf, inf), RELU: [0, inf), RELU6: [0, 6].
OutputRange activation_range(schema::Activation activation);

// Per-tensor affine quantization of an int8 tensor: real = scale * (q - zero_point).
struct AffineQuant {
  float scale = 1.0f;
  int32_t zero_point = 0;
  double real(int8_t q) const { return double{scale} * (int32_t{q} - zero_point); }
};

// Round half to even, the rounding of lrintf/nearbyint in the default FP environment.
double round_half_even(double x);

// The int8 range a fused activation maps to: round(min / scale) + zero_point, ...,
// saturated to [-128, 127] (an infinite bound is the int8 limit).
struct QuantRange {
  int32_t min = -128;
  int32_t max = 127;
};
QuantRange quantized_range(OutputRange range, AffineQuant q);

// real -> int8: clamp(round_half_even(real / scale) + zero_point, range).
int8_t requantize(double real, AffineQuant q, QuantRange range = {});

// Output shapes of the window ops (the shapes the loader checks).
Shape4 conv2d_output_shape(Shape4 in, uint32_t out_channels, const Conv2DParams& p);
Shape4 pool2d_output_shape(Shape4 in, const Pool2DParams& p);

// ---- convolution and fully connected ----

// in (N,H,W,C), weight (O,KH,KW,C/groups), bias (O) or null -> out (N,OH,OW,O)
// Output channel o belongs to group o / (O/groups) and reads input channels
// [g*C/groups, (g+1)*C/groups). Depthwise is groups == C (weight (C*mult,KH,KW,1)).
void conv2d_f32(const float* in, Shape4 in_shape, const float* weight, const float* bias, uint32_t out_channels,
                const Conv2DParams& p, OutputRange range, float* out);

// in (N,H,W,C) int8, weight (O,KH,KW,C/groups) int8 with weight_scales[O] (per channel)
// or [1] (per tensor), bias (O) int32 at scale in.scale * weight_scale or null
// -> out (N,OH,OW,O) int8: requantize(acc * in.scale * weight_scale, out_q), clamped to
// the quantized activation range.
void conv2d_s8(const int8_t* in, Shape4 in_shape, AffineQuant in_q, const int8_t* weight,
               const std::vector<float>& weight_scales, const int32_t* bias, uint32_t out_channels,
               const Conv2DParams& p, AffineQuant out_q, OutputRange range, int8_t* out);

// in (N,I), weight (O,I), bias (O) or null -> out (N,O)
void fully_connected_f32(const float* in, uint32_t batch, uint32_t in_features, const float* weight,
                         const float* bias, uint32_t out_features, OutputRange range, float* out);

// in (N,I) int8, weight (O,I) int8 with weight_scales[O] or [1], bias (O) int32 or null
// -> out (N,O) int8
void fully_connected_s8(const int8_t* in, uint32_t batch, uint32_t in_features, AffineQuant in_q,
                        const int8_t* weight, const std::vector<float>& weight_scales, const int32_t* bias,
                        uint32_t out_features, AffineQuant out_q, OutputRange range, int8_t* out);

// ---- elementwise binary with NumPy broadcasting ----

// Shapes aligned on the right; each dimension equal or 1. Returns the output shape.
Dims broadcast_shape(const Dims& a, const Dims& b);

// For every output element (row-major over `out`), the flat indices into a and b.
std::vector<std::pair<size_t, size_t>> broadcast_indices(const Dims& a, const Dims& b);

// a (A...), b (B...) -> out (broadcast_shape(A, B)): a + b, clamped to range
void add_f32(const float* a, const Dims& a_dims, const float* b, const Dims& b_dims, OutputRange range,
             float* out);
// a (A...), b (B...) -> out (broadcast_shape(A, B)): a * b, clamped to range
void multiply_f32(const float* a, const Dims& a_dims, const float* b, const Dims& b_dims, OutputRange range,
                  float* out);
// int8 versions: real(a) + real(b) (resp. *) requantized to out_q, clamped
void add_s8(const int8_t* a, const Dims& a_dims, AffineQuant a_q, const int8_t* b, const Dims& b_dims,
            AffineQuant b_q, AffineQuant out_q, OutputRange range, int8_t* out);
void multiply_s8(const int8_t* a, const Dims& a_dims, AffineQuant a_q, const int8_t* b, const Dims& b_dims,
                 AffineQuant b_q, AffineQuant out_q, OutputRange range, int8_t* out);

// ---- pooling ----

// in (N,H,W,C) -> out (N,OH,OW,C): mean over the input elements inside each window; the
// divisor counts only those (padding is neither summed nor counted).
void average_pool2d_f32(const float* in, Shape4 in_shape, const Pool2DParams& p, OutputRange range, float* out);
void average_pool2d_s8(const int8_t* in, Shape4 in_shape, AffineQuant in_q, const Pool2DParams& p,
                       AffineQuant out_q, OutputRange range, int8_t* out);

// in (N,H,W,C) -> out (N,OH,OW,C): max over the input elements inside each window
// (padding never wins)
void max_pool2d_f32(const float* in, Shape4 in_shape, const Pool2DParams& p, OutputRange range, float* out);
void max_pool2d_s8(const int8_t* in, Shape4 in_shape, AffineQuant in_q, const Pool2DParams& p, AffineQuant out_q,
                   OutputRange range, int8_t* out);

// in (N,H,W,C) -> out (N,1,1,C): mean over H x W
void global_average_pool_f32(const float* in, Shape4 in_shape, float* out);
void global_average_pool_s8(const int8_t* in, Shape4 in_shape, AffineQuant in_q, AffineQuant out_q, int8_t* out);

// ---- elementwise unary: x (count) -> y (count) ----

double hardswish(double x);          // x * relu6(x + 3) / 6
double sigmoid(double x);            // 1 / (1 + exp(-x))
double leaky_relu(double x, double alpha);  // x >= 0 ? x : alpha * x

void clamp_f32(const float* x, size_t count, float min, float max, float* y);
void hardswish_f32(const float* x, size_t count, float* y);
void sigmoid_f32(const float* x, size_t count, float* y);
void leaky_relu_f32(const float* x, size_t count, float alpha, float* y);

void clamp_s8(const int8_t* x, size_t count, AffineQuant in_q, float min, float max, AffineQuant out_q, int8_t* y);
void hardswish_s8(const int8_t* x, size_t count, AffineQuant in_q, AffineQuant out_q, int8_t* y);
void sigmoid_s8(const int8_t* x, size_t count, AffineQuant in_q, AffineQuant out_q, int8_t* y);
void leaky_relu_s8(const int8_t* x, size_t count, AffineQuant in_q, float alpha, AffineQuant out_q, int8_t* y);

// ---- layout ----

// x (any shape) -> y (any shape, same count): row-major data is unchanged by a reshape.
void reshape_f32(const float* x, size_t count, float* y);
void reshape_s8(const int8_t* x, size_t count, int8_t* y);

// in (D0,...,Dr-1) -> out (D0+pre0+post0, ...): in placed at offset `pre`, the rest `value`
void pad_f32(const float* in, const Dims& in_dims, const Dims& pre, const Dims& post, float value, float* out);
void pad_s8(const int8_t* in, const Dims& in_dims, const Dims& pre, const Dims& post, int8_t value, int8_t* out);

// The int8 padding value for a real padding value (XNNPACK's static constant pad:
// lrintf(value / scale + zero_point), saturated).
int8_t quantize_pad_value(float value, AffineQuant q);

// ---- quantization ----

// The pre-rounding value of quantize in fp32, as XNNPACK computes it: x * (1.0f / scale).
float quantize_prescaled(float x, AffineQuant q);

// x (count) fp32 -> q (count) int8: clamp(round_half_even(x * (1.0f / scale)) + zero_point)
void quantize_s8(const float* x, size_t count, AffineQuant q, int8_t* out);
// q (count) int8 -> x (count) fp32: scale * (q - zero_point), computed in fp32
void dequantize_s8(const int8_t* q, size_t count, AffineQuant quant, float* out);

}  // namespace edgeclr::testing::reference
