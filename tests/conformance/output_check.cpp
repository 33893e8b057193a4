#include "conformance/output_check.h"

#include <cmath>

namespace edgeclr::conformance {
namespace {

constexpr double kUnitRoundoff = 0x1p-24;  // fp32

// Higham's gamma_n: bounds the error of any fp32 evaluation order of n products summed.
double gamma(size_t n) {
  const double nu = double(n) * kUnitRoundoff;
  return nu / (1.0 - nu);
}

}  // namespace

std::vector<double> head_output_bound(const ProjectionHead& head, const std::vector<float>& features,
                                      const std::vector<double>& bound) {
  std::vector<float> x = features;
  std::vector<double> e = bound;
  for (const DenseLayer& layer : head.layers()) {
    // in (in_dim), weight (out_dim, in_dim), bias (out_dim) -> y (out_dim), bound (out_dim)
    std::vector<float> y(layer.out_dim);
    std::vector<double> ey(layer.out_dim);
    dense_forward(layer, x.data(), 1, y.data());
    for (uint32_t o = 0; o < layer.out_dim; ++o) {
      double propagated = 0, magnitude = layer.bias.empty() ? 0.0 : std::fabs(double{layer.bias[o]});
      for (uint32_t i = 0; i < layer.in_dim; ++i) {
        const double w = std::fabs(double{layer.weight[size_t{o} * layer.in_dim + i]});
        propagated += w * e[i];
        magnitude += w * (std::fabs(double{x[i]}) + e[i]);
      }
      ey[o] = propagated + gamma(layer.in_dim + 1) * magnitude;  // ReLU (1-Lipschitz) keeps it
    }
    x = std::move(y);
    e = std::move(ey);
  }
  return e;
}

std::vector<float> expected_in_edgeclr_order(const std::vector<int64_t>& dims, const std::vector<float>& values) {
  if (dims.size() != 4 || dims[0] != 1) return values;
  const int64_t c = dims[1], h = dims[2], w = dims[3];
  std::vector<float> out(values.size());
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) out[size_t((y * w + x) * c + k)] = values[size_t((k * h + y) * w + x)];
  return out;
}

Comparison compare(const std::vector<float>& got, const std::vector<float>& expected,
                   const std::vector<double>& tolerance) {
  Comparison c;
  double worst_ratio = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(double{got[i]} - double{expected[i]});
    bool ok;
    double ratio;
    if (!std::isfinite(expected[i])) {
      ok = std::isnan(expected[i]) ? std::isnan(got[i]) : got[i] == expected[i];
      ratio = ok ? 0 : INFINITY;
    } else {
      ok = diff <= tolerance[i];  // false for a NaN got
      ratio = ok ? (tolerance[i] > 0 ? diff / tolerance[i] : 0) : (tolerance[i] > 0 && !std::isnan(diff) ? diff / tolerance[i] : INFINITY);
    }
    if (!ok) ++c.out_of_tolerance;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      c.worst = i;
      c.worst_diff = diff;
      c.worst_tolerance = tolerance[i];
    }
  }
  return c;
}

std::string onnx_position(const std::vector<int64_t>& dims, size_t i) {
  if (dims.size() == 4 && dims[0] == 1) {
    const auto c = size_t(dims[1]), w = size_t(dims[3]);
    return "[c=" + std::to_string(i % c) + ",h=" + std::to_string(i / c / w) + ",w=" + std::to_string(i / c % w) + "]";
  }
  return "[" + std::to_string(i) + "]";
}

}  // namespace edgeclr::conformance
