// ONNX Resize of a constant (docs: onnx/docs/Operators.md#Resize): separable over the
// axes, each output coordinate mapped back by the coordinate transformation mode, then
// nearest, linear (2 taps) or cubic (4 taps, coefficient a, edge values repeated unless
// exclude_outside drops and renormalises the taps outside).
#include <cmath>

#include "convert/constant_eval.h"

namespace edgeclr::convert {
namespace {

struct Taps {
  int64_t index[4];
  double weight[4];
  int count;
};

double source_coordinate(const std::string& mode, int64_t x, int64_t in_len, int64_t out_len, double scale) {
  if (mode == "align_corners") return out_len == 1 ? 0.0 : double(x) * double(in_len - 1) / double(out_len - 1);
  if (mode == "asymmetric") return double(x) / scale;
  if (mode == "pytorch_half_pixel") return out_len > 1 ? (double(x) + 0.5) / scale - 0.5 : 0.0;
  if (mode == "tf_half_pixel_for_nn") return (double(x) + 0.5) / scale;
  return (double(x) + 0.5) / scale - 0.5;  // half_pixel
}

double cubic_weight(double d, double a) {  // d = |distance| in [0, 2)
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

Taps taps_for(const std::string& mode, const std::string& nearest_mode, double a, bool exclude_outside, double x,
              int64_t in_len) {
  const auto clamp = [&](int64_t i) { return std::max<int64_t>(0, std::min(in_len - 1, i)); };
  Taps t{};
  if (mode == "nearest") {
    double r;
    if (nearest_mode == "floor") r = std::floor(x);
    else if (nearest_mode == "ceil") r = std::ceil(x);
    else if (nearest_mode == "round_prefer_ceil") r = std::floor(x + 0.5);
    else r = x == std::floor(x) + 0.5 ? std::floor(x) : std::round(x);  // round_prefer_floor
    t.index[0] = clamp(int64_t(r));
    t.weight[0] = 1;
    t.count = 1;
    return t;
  }
  const double base = std::floor(x), frac = x - base;
  if (mode == "linear") {
    t.index[0] = clamp(int64_t(base));
    t.index[1] = clamp(int64_t(base) + 1);
    t.weight[0] = 1 - frac;
    t.weight[1] = frac;
    t.count = 2;
    return t;
  }
  double sum = 0;
  for (int k = 0; k < 4; ++k) {
    const int64_t i = int64_t(base) - 1 + k;
    double w = cubic_weight(std::fabs(x - double(i)), a);
    if (exclude_outside && (i < 0 || i >= in_len)) w = 0;
    t.index[k] = clamp(i);
    t.weight[k] = w;
    sum += w;
  }
  if (exclude_outside && sum != 0) {
    for (double& w : t.weight) w /= sum;
  }
  t.count = 4;
  return t;
}

}  // namespace

Result<Constant> resize_constant(const Node& node, const Constant& x, const std::vector<int64_t>& out_dims) {
  const std::string mode = node.string_attr("mode", "nearest");
  const std::string coordinates = node.string_attr("coordinate_transformation_mode", "half_pixel");
  const std::string nearest_mode = node.string_attr("nearest_mode", "round_prefer_floor");
  if (mode != "nearest" && mode != "linear" && mode != "cubic") {
    return error(StatusCode::kUnsupported, "Resize mode '" + mode + "'");
  }
  if (coordinates == "tf_crop_and_resize" || node.int_attr("antialias", 0) != 0) {
    return error(StatusCode::kUnsupported, "Resize with tf_crop_and_resize or antialias");
  }
  if (!x.is_float || out_dims.size() != x.dims.size()) return error(StatusCode::kUnsupported, "Resize of a non-float or rank-changing tensor");
  const double a = node.float_attr("cubic_coeff_a", -0.75f);
  const bool exclude = node.int_attr("exclude_outside", 0) != 0;
  std::vector<double> data(x.floats.begin(), x.floats.end());
  std::vector<int64_t> dims = x.dims;
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    const int64_t in_len = dims[axis], out_len = out_dims[axis];
    if (in_len == out_len) continue;
    if (in_len <= 0 || out_len <= 0) return error(StatusCode::kUnsupported, "Resize to or from an empty axis");
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < axis; ++d) outer *= dims[d];
    for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
    if (outer * out_len * inner > kMaxFoldedElements) return error(StatusCode::kUnsupported, "Resize result too large to fold");
    const double scale = double(out_len) / double(in_len);
    std::vector<double> out(size_t(outer * out_len * inner), 0.0);
    for (int64_t o = 0; o < out_len; ++o) {
      const Taps t = taps_for(mode, nearest_mode, a, exclude, source_coordinate(coordinates, o, in_len, out_len, scale), in_len);
      for (int64_t p = 0; p < outer; ++p) {
        for (int64_t q = 0; q < inner; ++q) {
          double v = 0;
          for (int k = 0; k < t.count; ++k) v += t.weight[k] * data[size_t((p * in_len + t.index[k]) * inner + q)];
          out[size_t((p * out_len + o) * inner + q)] = v;
        }
      }
    }
    data = std::move(out);
    dims[axis] = out_len;
  }
  Constant c;
  c.dims = out_dims;
  c.floats.assign(data.begin(), data.end());
  return c;
}

}  // namespace edgeclr::convert
