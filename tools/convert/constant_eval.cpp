#include "convert/constant_eval.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace edgeclr::convert {
namespace {

using Dims64 = std::vector<int64_t>;

Status node_error(const Node& node, const std::string& why) {
  return error(StatusCode::kUnsupported, format("node '%s' (%s): %s", node.name.c_str(), node.op.c_str(), why.c_str()));
}

int64_t count_of(const Dims64& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return INT64_MAX;
  }
  return n;
}

// Product of dims[from, to): no temporary vector (GCC 14 warns falsely on one, -Werror).
int64_t product(const Dims64& dims, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t i = from; i < to; ++i) {
    if (dims[i] < 0 || __builtin_mul_overflow(n, dims[i], &n)) return INT64_MAX;
  }
  return n;
}

double at(const Constant& c, size_t i) { return c.is_float ? double(c.floats[i]) : double(c.ints[i]); }

std::vector<int64_t> as_ints(const Constant& c) {
  if (!c.is_float) return c.ints;
  return std::vector<int64_t>(c.floats.begin(), c.floats.end());
}

// An empty constant of `dims` and the kind of `like` (float, int, bool).
Constant shaped_like(const Constant& like, Dims64 dims) {
  Constant c;
  c.dims = std::move(dims);
  c.is_float = like.is_float;
  c.is_bool = like.is_bool;
  return c;
}

void push(Constant& c, const Constant& from, size_t i) {
  if (c.is_float) c.floats.push_back(from.floats[i]);
  else c.ints.push_back(from.ints[i]);
}

Constant ints_constant(std::vector<int64_t> values, bool is_bool = false) {
  Constant c;
  c.is_float = false;
  c.is_bool = is_bool;
  c.dims = {static_cast<int64_t>(values.size())};
  c.ints = std::move(values);
  return c;
}

std::vector<size_t> strides_of(const Dims64& dims) {
  std::vector<size_t> s(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) s[d - 1] = s[d] * size_t(dims[d]);
  return s;
}

// NumPy broadcasting of several shapes; nullopt when they do not broadcast.
std::optional<Dims64> broadcast(const std::vector<const Dims64*>& shapes) {
  size_t rank = 0;
  for (const Dims64* s : shapes) rank = std::max(rank, s->size());
  Dims64 out(rank, 1);
  for (const Dims64* s : shapes) {
    for (size_t i = 0; i < s->size(); ++i) {
      const int64_t d = (*s)[i];
      int64_t& o = out[rank - s->size() + i];
      if (d != o && d != 1 && o != 1) return std::nullopt;
      if (d != 1) o = d;
    }
  }
  return out;
}

// Index into `c` (of shape c.dims, right-aligned with `out`) of output element `flat`.
size_t broadcast_index(const Dims64& in, const Dims64& out, size_t flat) {
  const size_t offset = out.size() - in.size();
  size_t index = 0, stride = 1;
  for (size_t d = out.size(); d-- > offset;) {
    const size_t coord = flat % size_t(out[d]);
    flat /= size_t(out[d]);
    const int64_t dim = in[d - offset];
    if (dim != 1) index += coord * stride;
    stride *= size_t(dim);
  }
  return index;
}

Result<std::optional<Constant>> elementwise(const Node& node, const std::vector<const Constant*>& in) {
  std::vector<const Dims64*> shapes;
  for (const Constant* c : in) shapes.push_back(&c->dims);
  const auto out_dims = broadcast(shapes);
  if (!out_dims) return node_error(node, "inputs do not broadcast");
  const int64_t n = count_of(*out_dims);
  if (n > kMaxFoldedElements) return node_error(node, "result too large to fold");
  const std::string& op = node.op;
  const bool compare = op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" || op == "GreaterOrEqual";
  const bool logic = op == "And" || op == "Or" || op == "Xor" || op == "Not";
  const Constant& value_like = op == "Where" ? *in[1] : *in[0];
  Constant out = shaped_like(value_like, *out_dims);
  if (op != "Where") out.is_float = std::any_of(in.begin(), in.end(), [](const Constant* c) { return c->is_float; });
  if (compare || logic) {
    out.is_float = false;
    out.is_bool = true;
  } else if (op != "Where") {
    out.is_bool = false;
  }
  if (op == "Where") out.is_float = in[1]->is_float || in[2]->is_float;
  for (int64_t i = 0; i < n; ++i) {
    double v[3] = {0, 0, 0};
    int64_t iv[3] = {0, 0, 0};
    for (size_t k = 0; k < in.size(); ++k) {
      const size_t j = broadcast_index(in[k]->dims, *out_dims, size_t(i));
      v[k] = at(*in[k], j);
      iv[k] = in[k]->is_float ? int64_t(v[k]) : in[k]->ints[j];
    }
    const bool as_float = out.is_float || (compare && (in[0]->is_float || in[1]->is_float));
    double r = 0;
    int64_t ri = 0;
    if (op == "Add") { r = v[0] + v[1]; ri = iv[0] + iv[1]; }
    else if (op == "Sub") { r = v[0] - v[1]; ri = iv[0] - iv[1]; }
    else if (op == "Mul") { r = v[0] * v[1]; ri = iv[0] * iv[1]; }
    else if (op == "Div") { r = v[0] / v[1]; ri = iv[1] == 0 ? 0 : iv[0] / iv[1]; }
    else if (op == "Pow") { r = std::pow(v[0], v[1]); ri = int64_t(std::pow(double(iv[0]), double(iv[1]))); }
    else if (op == "Mod") {
      if (node.int_attr("fmod", 0) != 0 || as_float) r = std::fmod(v[0], v[1]);
      ri = iv[1] == 0 ? 0 : ((iv[0] % iv[1]) + iv[1]) % iv[1];  // the sign of the divisor, as Python
    }
    else if (op == "Max") { r = std::max(v[0], v[1]); ri = std::max(iv[0], iv[1]); }
    else if (op == "Min") { r = std::min(v[0], v[1]); ri = std::min(iv[0], iv[1]); }
    else if (op == "Equal") ri = as_float ? v[0] == v[1] : iv[0] == iv[1];
    else if (op == "Less") ri = as_float ? v[0] < v[1] : iv[0] < iv[1];
    else if (op == "Greater") ri = as_float ? v[0] > v[1] : iv[0] > iv[1];
    else if (op == "LessOrEqual") ri = as_float ? v[0] <= v[1] : iv[0] <= iv[1];
    else if (op == "GreaterOrEqual") ri = as_float ? v[0] >= v[1] : iv[0] >= iv[1];
    else if (op == "And") ri = iv[0] && iv[1];
    else if (op == "Or") ri = iv[0] || iv[1];
    else if (op == "Xor") ri = (iv[0] != 0) != (iv[1] != 0);
    else if (op == "Not") ri = iv[0] == 0;
    else if (op == "Where") { r = iv[0] ? v[1] : v[2]; ri = iv[0] ? iv[1] : iv[2]; }
    else if (op == "Neg") { r = -v[0]; ri = -iv[0]; }
    else if (op == "Abs") { r = std::fabs(v[0]); ri = std::llabs(iv[0]); }
    else if (op == "Sqrt") { r = std::sqrt(v[0]); ri = int64_t(std::sqrt(double(iv[0]))); }
    else if (op == "Floor") { r = std::floor(v[0]); ri = iv[0]; }
    else if (op == "Ceil") { r = std::ceil(v[0]); ri = iv[0]; }
    else if (op == "Reciprocal") { r = 1.0 / v[0]; ri = iv[0] == 0 ? 0 : 1 / iv[0]; }
    if (out.is_float) out.floats.push_back(static_cast<float>(r));
    else out.ints.push_back(out.is_bool ? (ri != 0) : ri);
  }
  return std::optional<Constant>(std::move(out));
}

// Gather of any rank along `axis` with an index tensor of any rank.
Result<std::optional<Constant>> gather(const Node& node, const Constant& data, const Constant& indices) {
  const auto rank = static_cast<int64_t>(data.dims.size());
  int64_t axis = node.int_attr("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return node_error(node, "axis out of range");
  Dims64 out_dims(data.dims.begin(), data.dims.begin() + axis);
  out_dims.insert(out_dims.end(), indices.dims.begin(), indices.dims.end());
  out_dims.insert(out_dims.end(), data.dims.begin() + axis + 1, data.dims.end());
  if (count_of(out_dims) > kMaxFoldedElements) return node_error(node, "result too large to fold");
  const int64_t outer = product(data.dims, 0, size_t(axis));
  const int64_t inner = product(data.dims, size_t(axis) + 1, data.dims.size());
  const int64_t dim = data.dims[size_t(axis)];
  Constant out = shaped_like(data, out_dims);
  const std::vector<int64_t> idx = as_ints(indices);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k : idx) {
      const int64_t i = k < 0 ? k + dim : k;
      if (i < 0 || i >= dim) return node_error(node, "index out of range");
      for (int64_t q = 0; q < inner; ++q) push(out, data, size_t((o * dim + i) * inner + q));
    }
  }
  return std::optional<Constant>(std::move(out));
}

// Slice of any rank with steps (inputs from opset 10, attributes before).
Result<std::optional<Constant>> slice(const Graph& graph, const Node& node, const Constant& data) {
  const auto params = slice_params(graph, node);
  if (!params) return std::optional<Constant>();
  const std::vector<int64_t>* starts = &params->starts;
  const std::vector<int64_t>* ends = &params->ends;
  const std::vector<int64_t>* axes_in = &params->axes;
  const std::vector<int64_t>* steps = &params->steps;
  const auto rank = static_cast<int64_t>(data.dims.size());
  std::vector<int64_t> axes = *axes_in;
  if (axes.empty()) {
    axes.resize(starts->size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (starts->size() != axes.size() || ends->size() != axes.size() || (!steps->empty() && steps->size() != axes.size())) {
    return node_error(node, "starts, ends, axes and steps differ in length");
  }
  Dims64 begin(size_t(rank), 0), step(size_t(rank), 1), size = data.dims;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t axis = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (axis < 0 || axis >= rank) return node_error(node, "axis out of range");
    const int64_t n = data.dims[size_t(axis)], s = steps->empty() ? 1 : (*steps)[i];
    if (s == 0) return node_error(node, "step 0");
    // ONNX clamps starts and ends into the dimension (INT64_MAX means "to the end").
    const auto clamp_index = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v = v < -n ? -1 : v + n;  // keeps INT64_MIN from wrapping
      return std::max(lo, std::min(hi, v));
    };
    const int64_t b = s > 0 ? clamp_index((*starts)[i], 0, n) : clamp_index((*starts)[i], -1, n - 1);
    const int64_t e = s > 0 ? clamp_index((*ends)[i], 0, n) : clamp_index((*ends)[i], -1, n - 1);
    begin[size_t(axis)] = b;
    step[size_t(axis)] = s;
    size[size_t(axis)] = s > 0 ? std::max<int64_t>(0, (e - b + s - 1) / s) : std::max<int64_t>(0, (b - e - s - 1) / -s);
  }
  Constant out = shaped_like(data, size);
  const int64_t n = count_of(size);
  const auto in_stride = strides_of(data.dims);
  for (int64_t o = 0; o < n; ++o) {
    size_t i = 0;
    int64_t rest = o;
    for (int64_t d = rank; d-- > 0;) {
      const int64_t coord = rest % size[size_t(d)];
      rest /= size[size_t(d)];
      i += size_t(begin[size_t(d)] + coord * step[size_t(d)]) * in_stride[size_t(d)];
    }
    push(out, data, i);
  }
  return std::optional<Constant>(std::move(out));
}

Result<std::optional<Constant>> concat(const Graph& graph, const Node& node) {
  const Constant& first = *graph.constant(node.inputs[0]);
  const auto rank = static_cast<int64_t>(first.dims.size());
  int64_t axis = node.int_attr("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return node_error(node, "axis out of range");
  Dims64 out_dims = first.dims;
  out_dims[size_t(axis)] = 0;
  bool any_float = false;
  for (const std::string& name : node.inputs) {
    const Constant& c = *graph.constant(name);
    any_float = any_float || c.is_float;
    if (c.dims.size() != first.dims.size()) return node_error(node, "inputs of different ranks");
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis && c.dims[size_t(d)] != first.dims[size_t(d)]) return node_error(node, "inputs do not fit");
    }
    out_dims[size_t(axis)] += c.dims[size_t(axis)];
  }
  if (count_of(out_dims) > kMaxFoldedElements) return node_error(node, "result too large to fold");
  Constant out = shaped_like(first, out_dims);
  out.is_float = any_float;
  const int64_t outer = product(first.dims, 0, size_t(axis));
  for (int64_t o = 0; o < outer; ++o) {
    for (const std::string& name : node.inputs) {
      const Constant& c = *graph.constant(name);
      const int64_t block = product(c.dims, size_t(axis), c.dims.size());
      for (int64_t q = 0; q < block; ++q) {
        const size_t i = size_t(o * block + q);
        if (out.is_float) out.floats.push_back(float(at(c, i)));
        else out.ints.push_back(c.ints[i]);
      }
    }
  }
  return std::optional<Constant>(std::move(out));
}

// Reshape's target with 0 (copy, unless allowzero) and -1 (inferred) resolved.
Result<Dims64> reshape_target(const Node& node, const Dims64& in, std::vector<int64_t> shape) {
  const bool allow_zero = node.int_attr("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allow_zero) {
      if (i >= in.size()) return node_error(node, "a 0 past the input's rank");
      shape[i] = in[i];
    }
    if (shape[i] == -1) {
      if (infer >= 0) return node_error(node, "two -1 in the shape");
      infer = int64_t(i);
      continue;
    }
    if (shape[i] < 0 || __builtin_mul_overflow(known, shape[i], &known)) return node_error(node, "a bad shape");
  }
  const int64_t total = count_of(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) return node_error(node, "the shape does not fit the element count");
    shape[size_t(infer)] = total / known;
  } else if (known != total) {
    return node_error(node, "the shape does not fit the element count");
  }
  return shape;
}

Result<std::optional<Constant>> transpose(const Node& node, const Constant& data) {
  const size_t rank = data.dims.size();
  std::vector<int64_t> perm = node.ints_attr("perm");
  if (perm.empty()) {
    for (size_t i = rank; i-- > 0;) perm.push_back(int64_t(i));
  }
  std::vector<bool> seen(rank, false);
  if (perm.size() != rank) return node_error(node, "perm does not fit the rank");
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(rank) || seen[size_t(p)]) return node_error(node, "perm is not a permutation");
    seen[size_t(p)] = true;
  }
  Dims64 out_dims(rank);
  for (size_t i = 0; i < rank; ++i) out_dims[i] = data.dims[size_t(perm[i])];
  Constant out = shaped_like(data, out_dims);
  const auto in_stride = strides_of(data.dims);
  const int64_t n = data.count();
  for (int64_t o = 0; o < n; ++o) {
    size_t i = 0;
    int64_t rest = o;
    for (size_t d = rank; d-- > 0;) {
      i += size_t(rest % out_dims[d]) * in_stride[size_t(perm[d])];
      rest /= out_dims[d];
    }
    push(out, data, i);
  }
  return std::optional<Constant>(std::move(out));
}

// Expand: `data` broadcast against `shape` (the larger of each dim).
Result<std::optional<Constant>> expand(const Node& node, const Constant& data, const std::vector<int64_t>& shape) {
  const Constant ones = [&] {
    Constant c;
    c.dims = shape;
    return c;
  }();
  const auto out_dims = broadcast({&data.dims, &ones.dims});
  if (!out_dims) return node_error(node, "the shape does not broadcast");
  if (count_of(*out_dims) > kMaxFoldedElements) return node_error(node, "result too large to fold");
  Constant out = shaped_like(data, *out_dims);
  const int64_t n = count_of(*out_dims);
  for (int64_t i = 0; i < n; ++i) push(out, data, broadcast_index(data.dims, *out_dims, size_t(i)));
  return std::optional<Constant>(std::move(out));
}

// ScatterND without reduction: updates written at the index tuples into a copy of data.
Result<std::optional<Constant>> scatter_nd(const Node& node, const Constant& data, const Constant& indices,
                                           const Constant& updates) {
  if (node.string_attr("reduction", "none") != "none") return std::optional<Constant>();
  if (indices.dims.empty()) return node_error(node, "indices of rank 0");
  const int64_t k = indices.dims.back();
  if (k < 1 || k > int64_t(data.dims.size())) return node_error(node, "index tuples longer than the rank");
  const auto stride = strides_of(data.dims);
  const int64_t tuples = indices.count() / k;
  const int64_t slice = product(data.dims, size_t(k), data.dims.size());
  if (updates.count() != tuples * slice || updates.is_float != data.is_float) return node_error(node, "updates do not fit");
  Constant out = data;
  const std::vector<int64_t> idx = as_ints(indices);
  for (int64_t t = 0; t < tuples; ++t) {
    size_t base = 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t i = idx[size_t(t * k + j)];
      const int64_t dim = data.dims[size_t(j)];
      if (i < 0) i += dim;
      if (i < 0 || i >= dim) return node_error(node, "index out of range");
      base += size_t(i) * stride[size_t(j)];
    }
    for (int64_t q = 0; q < slice; ++q) {
      if (out.is_float) out.floats[base + size_t(q)] = updates.floats[size_t(t * slice + q)];
      else out.ints[base + size_t(q)] = updates.ints[size_t(t * slice + q)];
    }
  }
  return std::optional<Constant>(std::move(out));
}

// Resize's output dims: from `sizes` (input 3), else from `scales` (input 2, or input 1
// before opset 11), floor(in * scale).
Result<Dims64> resize_target(const Graph& graph, const Node& node, const Dims64& in) {
  const auto input = [&](size_t i) -> const Constant* {
    return node.inputs.size() > i && !node.inputs[i].empty() ? graph.constant(node.inputs[i]) : nullptr;
  };
  if (const Constant* sizes = input(3); sizes && sizes->count() > 0) {
    const auto s = as_ints(*sizes);
    if (s.size() != in.size()) return node_error(node, "sizes do not fit the rank");
    return Dims64(s.begin(), s.end());
  }
  const Constant* scales = graph.opset >= 11 ? input(2) : input(1);
  if (!scales || scales->count() != int64_t(in.size())) return node_error(node, "neither sizes nor scales of the rank");
  Dims64 out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const double s = at(*scales, i);
    if (!(s > 0) || !std::isfinite(s)) return node_error(node, "a scale that is not positive");
    out[i] = int64_t(std::floor(double(in[i]) * s));
  }
  return out;
}

bool is_elementwise(const std::string& op) {
  static const char* kOps[] = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Equal", "Less", "Greater",
                               "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Where", "Neg", "Abs",
                               "Sqrt", "Floor", "Ceil", "Reciprocal"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

Result<std::optional<Constant>> evaluate_constant_node(const Node& node) {
  if (node.has("value") && node.attributes.at("value").tensor) return std::optional<Constant>(*node.attributes.at("value").tensor);
  if (node.has("value_ints")) return std::optional<Constant>(ints_constant(node.ints_attr("value_ints")));
  if (node.has("value_int")) {
    Constant c = ints_constant({node.int_attr("value_int", 0)});
    c.dims.clear();
    return std::optional<Constant>(c);
  }
  if (node.has("value_float")) {
    Constant c;
    c.floats = {node.float_attr("value_float", 0)};
    return std::optional<Constant>(c);
  }
  if (node.has("value_floats")) {
    Constant c;
    c.floats = node.attributes.at("value_floats").floats;
    c.dims = {int64_t(c.floats.size())};
    return std::optional<Constant>(c);
  }
  return node_error(node, "only tensor, int(s) and float(s) values are supported");
}

}  // namespace

std::optional<SliceParams> slice_params(const Graph& graph, const Node& node) {
  const auto list = [&](size_t input, const char* attribute) -> std::optional<std::vector<int64_t>> {
    if (node.has(attribute)) return node.ints_attr(attribute);
    if (node.inputs.size() <= input || node.inputs[input].empty()) return std::vector<int64_t>{};
    const Constant* c = graph.constant(node.inputs[input]);
    if (!c) return std::nullopt;
    return as_ints(*c);
  };
  auto starts = list(1, "starts"), ends = list(2, "ends"), axes = list(3, "axes"), steps = list(4, "steps");
  if (!starts || !ends || !axes || !steps) return std::nullopt;
  return SliceParams{std::move(*starts), std::move(*ends), std::move(*axes), std::move(*steps)};
}

Result<std::optional<Constant>> evaluate_constant(const Graph& graph, const Node& node) {
  const std::string& op = node.op;
  if (op == "Constant") return evaluate_constant_node(node);
  if (op == "Shape" || op == "Size") {
    const Value& in = graph.values.at(node.inputs[0]);
    if (!in.shape_known || std::any_of(in.shape.begin(), in.shape.end(), [](int64_t d) { return d < 0; })) {
      return std::optional<Constant>();
    }
    if (op == "Size") {
      Constant c = ints_constant({count_of(in.shape)});
      c.dims.clear();
      return std::optional<Constant>(c);
    }
    const auto rank = static_cast<int64_t>(in.shape.size());
    int64_t start = node.int_attr("start", 0), end = node.int_attr("end", rank);  // opset 15
    start = std::max<int64_t>(0, std::min(rank, start < 0 ? start + rank : start));
    end = std::max<int64_t>(start, std::min(rank, end < 0 ? end + rank : end));
    return std::optional<Constant>(ints_constant(std::vector<int64_t>(in.shape.begin() + start, in.shape.begin() + end)));
  }
  for (const std::string& in : node.inputs) {
    if (!in.empty() && graph.constant(in) == nullptr) {
      // Resize's roi and scales may be given while sizes decide; any other input must be constant.
      if (op != "Resize") return std::optional<Constant>();
      if (in == node.inputs[0]) return std::optional<Constant>();
    }
  }
  if (node.inputs.empty() || node.inputs[0].empty()) return std::optional<Constant>();
  const Constant& a = *graph.constant(node.inputs[0]);
  const auto input = [&](size_t i) -> const Constant* {
    return node.inputs.size() > i && !node.inputs[i].empty() ? graph.constant(node.inputs[i]) : nullptr;
  };
  if (op == "Identity") return std::optional<Constant>(a);
  if (op == "Cast") {
    const int64_t to = node.int_attr("to", 1);
    Constant c = shaped_like(a, a.dims);
    c.is_float = to == 1 || to == 10 || to == 11 || to == 16;
    c.is_bool = to == 9;
    for (size_t i = 0; i < size_t(a.count()); ++i) {
      if (c.is_float) c.floats.push_back(float(at(a, i)));
      else c.ints.push_back(c.is_bool ? at(a, i) != 0 : (a.is_float ? int64_t(a.floats[i]) : a.ints[i]));
    }
    return std::optional<Constant>(c);
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    Constant c = a;
    std::vector<int64_t> axes = node.ints_attr("axes");
    if (!node.has("axes") && input(1)) axes = as_ints(*input(1));
    if (op == "Unsqueeze") {
      const auto rank = static_cast<int64_t>(a.dims.size() + axes.size());
      for (int64_t& axis : axes) axis = axis < 0 ? axis + rank : axis;
      std::sort(axes.begin(), axes.end());
      for (int64_t axis : axes) {
        if (axis < 0 || axis > int64_t(c.dims.size())) return node_error(node, "axis out of range");
        c.dims.insert(c.dims.begin() + axis, 1);
      }
    } else {
      const auto rank = static_cast<int64_t>(a.dims.size());
      Dims64 dims;
      for (int64_t i = 0; i < rank; ++i) {
        const bool listed = std::any_of(axes.begin(), axes.end(), [&](int64_t axis) { return (axis < 0 ? axis + rank : axis) == i; });
        if (axes.empty() ? a.dims[size_t(i)] != 1 : !listed) dims.push_back(a.dims[size_t(i)]);
      }
      c.dims = dims;
    }
    return std::optional<Constant>(c);
  }
  if (op == "Reshape" || op == "Flatten") {
    Dims64 target;
    if (op == "Flatten") {
      int64_t axis = node.int_attr("axis", 1);
      if (axis < 0) axis += int64_t(a.dims.size());
      if (axis < 0 || axis > int64_t(a.dims.size())) return node_error(node, "axis out of range");
      target = {product(a.dims, 0, size_t(axis)), product(a.dims, size_t(axis), a.dims.size())};
    } else {
      if (!input(1)) return std::optional<Constant>();
      auto t = reshape_target(node, a.dims, as_ints(*input(1)));
      if (!t.ok()) return t.status();
      target = t.value();
    }
    Constant c = a;
    c.dims = target;
    return std::optional<Constant>(c);
  }
  if (op == "Transpose") return transpose(node, a);
  if (op == "Gather") return gather(node, a, *input(1));
  if (op == "Slice") return slice(graph, node, a);
  if (op == "Concat") return concat(graph, node);
  if (op == "Expand") return expand(node, a, as_ints(*input(1)));
  if (op == "Tile") {
    const auto reps = as_ints(*input(1));
    if (reps.size() != a.dims.size()) return node_error(node, "repeats do not fit the rank");
    Constant t = a;
    for (size_t axis = 0; axis < reps.size(); ++axis) {
      if (reps[axis] < 1) return node_error(node, "a repeat below 1");
      Node cat;
      cat.op = "Concat";
      cat.name = node.name;
      Graph tmp;
      tmp.values["t"].constant = t;
      cat.inputs.assign(size_t(reps[axis]), "t");
      cat.attributes["axis"].kind = Attribute::Kind::kInt;
      cat.attributes["axis"].i = int64_t(axis);
      auto r = concat(tmp, cat);
      if (!r.ok()) return r.status();
      t = **r;
    }
    return std::optional<Constant>(t);
  }
  if (op == "ConstantOfShape") {
    const auto shape = as_ints(a);
    if (count_of(shape) > kMaxFoldedElements) return node_error(node, "result too large to fold");
    Constant c;
    if (node.has("value") && node.attributes.at("value").tensor) {
      const Constant& v = *node.attributes.at("value").tensor;
      if (v.count() != 1) return node_error(node, "value must hold one element");
      c = shaped_like(v, shape);
      for (int64_t i = 0; i < count_of(shape); ++i) push(c, v, 0);
    } else {
      c.dims = shape;
      c.floats.assign(size_t(count_of(shape)), 0.0f);
    }
    return std::optional<Constant>(c);
  }
  if (op == "Range" && node.inputs.size() == 3) {
    const Constant &limit = *input(1), &delta = *input(2);
    if (a.count() != 1 || limit.count() != 1 || delta.count() != 1) return node_error(node, "inputs must be scalars");
    const double s = at(a, 0), l = at(limit, 0), d = at(delta, 0);
    if (d == 0) return node_error(node, "delta 0");
    const double n = std::max(0.0, std::ceil((l - s) / d));
    if (n > double(kMaxFoldedElements)) return node_error(node, "result too large to fold");
    Constant c;
    c.is_float = a.is_float;
    for (int64_t i = 0; i < int64_t(n); ++i) {
      if (c.is_float) c.floats.push_back(float(s + double(i) * d));
      else c.ints.push_back(a.ints[0] + i * delta.ints[0]);
    }
    c.dims = {int64_t(n)};
    return std::optional<Constant>(c);
  }
  if (op == "ScatterND") return scatter_nd(node, a, *input(1), *input(2));
  if (op == "Resize" || op == "Upsample") {
    auto target = resize_target(graph, node, a.dims);
    if (!target.ok()) return target.status();
    if (count_of(target.value()) > kMaxFoldedElements) return node_error(node, "result too large to fold");
    auto r = resize_constant(node, a, target.value());
    if (!r.ok()) return node_error(node, r.status().message());
    return std::optional<Constant>(std::move(r).value());
  }
  if (is_elementwise(op)) {
    std::vector<const Constant*> in;
    for (const std::string& name : node.inputs) in.push_back(graph.constant(name));
    const size_t arity = op == "Where" ? 3 : (op == "Not" || op == "Neg" || op == "Abs" || op == "Sqrt" ||
                                              op == "Floor" || op == "Ceil" || op == "Reciprocal") ? 1 : 2;
    if (in.size() != arity) return std::optional<Constant>();
    return elementwise(node, in);
  }
  return std::optional<Constant>();
}

}  // namespace edgeclr::convert
