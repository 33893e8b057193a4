// The tensor operators' reference and error rules. u = 2^-24, gamma(n) as in
// reference_backbone.cpp; E the input bound, Emax its largest element.
//
//   op              E_prop                                   own rounding
//   concat, slice,  E_x (data moved, not computed)           0
//   transpose
//   batch matmul    sum_k |a| E_b + E_a |b| + E_a E_b         gamma(K + 1) sum_k (|a| + E_a)(|b| + E_b)
//   mean            mean of E_x                              gamma(K + 2) mean(|x| + E_x)
//   softmax         2 y Emax (|dy_i| <= y_i (|dx_i| +        y (gamma(K + 3) + kTranscendental)
//                   sum_j y_j |dx_j|))
//   layer norm      |g| (E_i + Ebar + |xh| 2 Emax) / sigma    |g| (2 gamma(K + 2) max|x| / sigma
//                                                            + |xh| (2 gamma(K + 4) + kTranscendental)) + 2u |y|
//   gelu            1.13 E_x (largest slope of GELU)          kTranscendental |y| + kAbsolute
//
// kTranscendental: XNNPACK's fp32 exp, tanh, erf (GELU) and reciprocal square root are
// polynomial or rational approximations a few ulp from the exact value; 1e-6 relative is
// 16 ulp, an order of magnitude above that and orders below a wrong result.
// kAbsolute 1e-7 covers GELU near zero, where its relative error is not small.
#include "support/reference_tensor_ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace edgeclr::testing::reference {
namespace {

constexpr double kUnit = 0x1p-24;
constexpr double kTranscendental = 1e-6;
constexpr double kAbsolute = 1e-7;

double gamma_n(size_t n) { return n * kUnit / (1.0 - n * kUnit); }

std::vector<size_t> strides(const Dims& dims) {
  std::vector<size_t> s(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) s[d - 1] = s[d] * dims[d];
  return s;
}

// Calls f(out_index, in_index) for every element of a slice of `in_dims` starting at `begin`
// with shape `out_dims`.
template <typename F>
void for_each_in_box(const Dims& in_dims, const Dims& begin, const Dims& out_dims, F f) {
  const auto si = strides(in_dims);
  const size_t n = element_count(out_dims);
  std::vector<uint32_t> idx(out_dims.size(), 0);
  for (size_t o = 0; o < n; ++o) {
    size_t i = 0;
    for (size_t d = 0; d < idx.size(); ++d) i += (idx[d] + begin[d]) * si[d];
    f(o, i);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < out_dims[d]) break;
      idx[d] = 0;
    }
  }
}

BoundedTensor concat(const std::vector<BoundedTensor>& in, uint32_t axis) {
  BoundedTensor out;
  out.dims = in[0].dims;
  out.dims[axis] = 0;
  for (const auto& t : in) out.dims[axis] += t.dims[axis];
  out.x.resize(element_count(out.dims));
  out.err.resize(out.x.size());
  uint32_t offset = 0;
  for (const auto& t : in) {
    Dims begin(out.dims.size(), 0);
    begin[axis] = offset;
    // Scatter t into out: walk t's elements and the matching box of out.
    size_t k = 0;
    for_each_in_box(out.dims, begin, t.dims, [&](size_t, size_t o) {
      out.x[o] = t.x[k];
      out.err[o] = t.err[k];
      ++k;
    });
    offset += t.dims[axis];
  }
  return out;
}

BoundedTensor slice(const BoundedTensor& in, const Dims& begin, const Dims& out_dims) {
  BoundedTensor out{out_dims, std::vector<float>(element_count(out_dims)), std::vector<double>(element_count(out_dims))};
  for_each_in_box(in.dims, begin, out_dims, [&](size_t o, size_t i) {
    out.x[o] = in.x[i];
    out.err[o] = in.err[i];
  });
  return out;
}

// out [..., M, N] = a [..., M, K] x b [..., K, N] (or b [..., N, K]).
BoundedTensor batch_matmul(const BoundedTensor& a, const BoundedTensor& b, bool transpose_b) {
  const size_t r = a.dims.size();
  const size_t m = a.dims[r - 2], k = a.dims[r - 1], n = transpose_b ? b.dims[r - 2] : b.dims[r - 1];
  const size_t batches = element_count(a.dims) / (m * k);
  BoundedTensor out;
  out.dims = a.dims;
  out.dims[r - 1] = static_cast<uint32_t>(n);
  out.x.resize(batches * m * n);
  out.err.resize(out.x.size());
  for (size_t bt = 0; bt < batches; ++bt) {
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        double sum = 0, eprop = 0, mag = 0;
        for (size_t p = 0; p < k; ++p) {
          const size_t ia = (bt * m + i) * k + p;
          const size_t ib = transpose_b ? (bt * n + j) * k + p : (bt * k + p) * n + j;
          const double va = a.x[ia], vb = b.x[ib], ea = a.err[ia], eb = b.err[ib];
          sum += va * vb;
          eprop += std::fabs(va) * eb + ea * std::fabs(vb) + ea * eb;
          mag += (std::fabs(va) + ea) * (std::fabs(vb) + eb);
        }
        out.x[(bt * m + i) * n + j] = static_cast<float>(sum);
        out.err[(bt * m + i) * n + j] = eprop + gamma_n(k + 1) * mag;
      }
    }
  }
  return out;
}

BoundedTensor mean(const BoundedTensor& in, const Dims& axes, const Dims& out_dims) {
  Dims kept_dims = in.dims;  // the output with kept dims, whatever keep_dims says
  size_t count = 1;
  for (uint32_t a : axes) {
    count *= in.dims[a];
    kept_dims[a] = 1;
  }
  const auto so = strides(kept_dims);
  const auto si = strides(in.dims);
  std::vector<double> sum(element_count(kept_dims), 0), esum(sum.size(), 0), msum(sum.size(), 0);
  for (size_t i = 0; i < in.x.size(); ++i) {
    size_t o = 0;
    for (size_t d = 0; d < in.dims.size(); ++d) o += (kept_dims[d] == 1 ? 0 : (i / si[d]) % in.dims[d]) * so[d];
    sum[o] += in.x[i];
    esum[o] += in.err[i];
    msum[o] += std::fabs(double{in.x[i]}) + in.err[i];
  }
  BoundedTensor out{out_dims, std::vector<float>(sum.size()), std::vector<double>(sum.size())};
  for (size_t o = 0; o < sum.size(); ++o) {
    out.x[o] = static_cast<float>(sum[o] / count);
    out.err[o] = esum[o] / count + gamma_n(count + 2) * msum[o] / count;
  }
  return out;
}

BoundedTensor softmax(const BoundedTensor& in) {
  const size_t k = in.dims.back(), rows = in.x.size() / k;
  BoundedTensor out{in.dims, std::vector<float>(in.x.size()), std::vector<double>(in.x.size())};
  for (size_t r = 0; r < rows; ++r) {
    const float* x = &in.x[r * k];
    const double top = *std::max_element(x, x + k);
    double total = 0, emax = 0;
    for (size_t j = 0; j < k; ++j) {
      total += std::exp(x[j] - top);
      emax = std::max(emax, in.err[r * k + j]);
    }
    for (size_t j = 0; j < k; ++j) {
      const double y = std::exp(x[j] - top) / total;
      out.x[r * k + j] = static_cast<float>(y);
      out.err[r * k + j] = 2 * y * emax + y * (gamma_n(k + 3) + kTranscendental);
    }
  }
  return out;
}

BoundedTensor layer_norm(const Model& model, const schema::Operator& op, const BoundedTensor& in) {
  const size_t c = in.dims.back(), rows = in.x.size() / c;
  const float epsilon = op.options_as_LayerNormOptions()->epsilon();
  const auto param = [&](uint32_t i) -> const float* {
    return op.inputs()->size() > i ? reinterpret_cast<const float*>(model.tensors()[op.inputs()->Get(i)].data) : nullptr;
  };
  const float* g = param(1);
  const float* b = param(2);
  BoundedTensor out{in.dims, std::vector<float>(in.x.size()), std::vector<double>(in.x.size())};
  for (size_t r = 0; r < rows; ++r) {
    const float* x = &in.x[r * c];
    const double* e = &in.err[r * c];
    double mu = 0, ebar = 0, emax = 0, xmax = 0;
    for (size_t j = 0; j < c; ++j) {
      mu += x[j];
      ebar += e[j];
      emax = std::max(emax, e[j]);
      xmax = std::max(xmax, std::fabs(double{x[j]}));
    }
    mu /= c;
    ebar /= c;
    double var = 0;
    for (size_t j = 0; j < c; ++j) var += (x[j] - mu) * (x[j] - mu);
    const double sigma = std::sqrt(var / c + epsilon);
    for (size_t j = 0; j < c; ++j) {
      const double xh = (x[j] - mu) / sigma;
      const double gj = g ? g[j] : 1.0, bj = b ? b[j] : 0.0;
      const double y = xh * gj + bj;
      out.x[r * c + j] = static_cast<float>(y);
      const double eprop = std::fabs(gj) * (e[j] + ebar + std::fabs(xh) * 2 * emax) / sigma;
      const double local = std::fabs(gj) * (2 * gamma_n(c + 2) * xmax / sigma +
                                            std::fabs(xh) * (2 * gamma_n(c + 4) + kTranscendental)) +
                           2 * kUnit * std::fabs(y);
      out.err[r * c + j] = eprop + local;
    }
  }
  return out;
}

}  // namespace

std::vector<double> transpose(const std::vector<double>& x, const Dims& dims, const Dims& perm) {
  Dims out_dims(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out_dims[i] = dims[perm[i]];
  const auto si = strides(dims), so = strides(out_dims);
  std::vector<double> out(x.size());
  for (size_t o = 0; o < out.size(); ++o) {
    size_t i = 0;
    for (size_t d = 0; d < perm.size(); ++d) i += ((o / so[d]) % out_dims[d]) * si[perm[d]];
    out[o] = x[i];
  }
  return out;
}

std::vector<double> gelu(const std::vector<double>& x, bool approximate) {
  std::vector<double> y(x.size());
  const double k = std::sqrt(2.0 / M_PI);
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    y[i] = approximate ? 0.5 * v * (1 + std::tanh(k * (v + 0.044715 * v * v * v))) : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
  }
  return y;
}

BoundedTensor run_tensor_op(const Model& model, const schema::Operator& op, const std::vector<BoundedTensor>& in) {
  const TensorInfo& out_info = model.tensors()[op.outputs()->Get(0)];
  const Dims out_dims(out_info.dims.begin(), out_info.dims.begin() + out_info.rank);
  switch (op.options_type()) {
    case schema::OpOptions_ConcatOptions: return concat(in, op.options_as_ConcatOptions()->axis());
    case schema::OpOptions_SliceOptions: {
      const auto* begin = op.options_as_SliceOptions()->begin();
      return slice(in[0], Dims(begin->begin(), begin->end()), out_dims);
    }
    case schema::OpOptions_TransposeOptions: {
      const auto* p = op.options_as_TransposeOptions()->perm();
      const Dims perm(p->begin(), p->end());
      BoundedTensor out{out_dims, {}, transpose(in[0].err, in[0].dims, perm)};
      for (double v : transpose(std::vector<double>(in[0].x.begin(), in[0].x.end()), in[0].dims, perm)) {
        out.x.push_back(static_cast<float>(v));
      }
      return out;
    }
    case schema::OpOptions_BatchMatMulOptions:
      return batch_matmul(in[0], in[1], op.options_as_BatchMatMulOptions()->transpose_b());
    case schema::OpOptions_SoftmaxOptions: return softmax(in[0]);
    case schema::OpOptions_MeanOptions: {
      const auto* axes = op.options_as_MeanOptions()->axes();
      return mean(in[0], Dims(axes->begin(), axes->end()), out_dims);
    }
    case schema::OpOptions_LayerNormOptions: return layer_norm(model, op, in[0]);
    case schema::OpOptions_GeluOptions: {
      const std::vector<double> y =
          gelu(std::vector<double>(in[0].x.begin(), in[0].x.end()), op.options_as_GeluOptions()->approximate());
      BoundedTensor out{out_dims, std::vector<float>(y.begin(), y.end()), std::vector<double>(y.size())};
      for (size_t i = 0; i < y.size(); ++i) out.err[i] = 1.13 * in[0].err[i] + kTranscendental * std::fabs(y[i]) + kAbsolute;
      return out;
    }
    default: throw std::invalid_argument("not a tensor operator");
  }
}

}  // namespace edgeclr::testing::reference
