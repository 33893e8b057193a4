// Lowering of the tensor operators: dense layers, matrix products, reshapes, transposes,
// concatenation, slices, gathers, softmax, means, layer norm and GELU. Each works in the
// layout its input is stored in where it can, and moves data only when it must
// (layout.h; docs/converter.md, "Layouts").
#include <algorithm>
#include <numeric>

#include "convert/constant_eval.h"
#include "convert/lowering.h"

namespace edgeclr::convert {

Result<std::pair<std::vector<float>, Dims>> dense_weight(const Graph& g, const Node& n);  // lower.cpp

namespace {

// An axis attribute in [-rank, rank) made non-negative; -1 when out of range.
int64_t normalized_axis(int64_t axis, size_t rank) {
  if (axis < 0) axis += static_cast<int64_t>(rank);
  return axis >= 0 && axis < static_cast<int64_t>(rank) ? axis : -1;
}

std::vector<int64_t> ints_of(const Constant& c) {
  return c.is_float ? std::vector<int64_t>(c.floats.begin(), c.floats.end()) : c.ints;
}

Dims to_dims(const std::vector<int64_t>& d) { return Dims(d.begin(), d.end()); }

}  // namespace

Status Lowering::lower_gemm(const Node& n) {
  auto w = dense_weight(g_, n);
  if (!w.ok()) return w.status();
  if (rank_of(n.inputs[0]) != 2) return unsupported(n, "the input must be a matrix [N, I]");
  auto x = value_in(n.inputs[0], identity_layout(2));
  if (!x.ok()) return x.status();
  const uint32_t wt = b_.add_constant_fp32(n.inputs[1], w->second, w->first);
  std::vector<uint32_t> inputs = {x.value(), wt};
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Constant* c = g_.constant(n.inputs[2]);
    if (c == nullptr || c->count() != w->second[0]) return unsupported(n, "the bias must be a constant of the output size");
    inputs.push_back(b_.add_constant_fp32(n.inputs[2], {w->second[0]}, c->floats));
  }
  schema::FullyConnectedOptionsT o;
  std::string out_name;
  o.activation = fuse_activation(n.outputs[0], &out_name);
  auto out = new_value(out_name, identity_layout(2));
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_FullyConnectedOptions, std::move(o)), inputs, out.value());
  return Status::Ok();
}

// MatMul by a constant matrix: a fully connected layer over the last axis, every other
// axis kept (in whatever order it is stored, as long as the last ONNX axis is stored
// last). MatMul of two computed tensors: a batch matrix multiply, in ONNX order; a second
// operand stored with its last two axes swapped (a Transpose before it) is read as it lies.
Status Lowering::lower_matmul(const Node& n) {
  const Constant* w = g_.constant(n.inputs[1]);
  if (w != nullptr) {
    if (w->dims.size() != 2) return unsupported(n, "a constant second operand must be a matrix");
    auto have = lowered(n.inputs[0]);
    if (!have.ok()) return have.status();
    const auto r = static_cast<uint32_t>(have->layout.size());
    const Layout layout = have->layout.back() == r - 1 ? have->layout : with_axis_last(have->layout, r - 1);
    auto x = value_in(n.inputs[0], layout);
    auto weight = dense_weight(g_, n);
    if (!x.ok()) return x.status();
    if (!weight.ok()) return weight.status();
    const uint32_t wt = b_.add_constant_fp32(n.inputs[1], weight->second, weight->first);
    schema::FullyConnectedOptionsT o;
    std::string out_name;
    o.activation = fuse_activation(n.outputs[0], &out_name);
    auto out = new_value(out_name, layout);
    if (!out.ok()) return out.status();
    add_op(n, op_options(schema::OpOptions_FullyConnectedOptions, std::move(o)), {x.value(), wt}, out.value());
    return Status::Ok();
  }
  auto a_dims = onnx_dims(n.inputs[0]);
  auto b_dims = onnx_dims(n.inputs[1]);
  if (!a_dims.ok()) return a_dims.status();
  if (!b_dims.ok()) return b_dims.status();
  const size_t r = a_dims->size();
  if (r < 3 || b_dims->size() != r || !std::equal(a_dims->begin(), a_dims->end() - 2, b_dims->begin())) {
    return unsupported(n, "two computed operands need the same rank (3 or more) and equal batch dimensions");
  }
  auto a = value_in(n.inputs[0], identity_layout(r));
  if (!a.ok()) return a.status();
  auto b_have = lowered(n.inputs[1]);
  if (!b_have.ok()) return b_have.status();
  Layout swapped = identity_layout(r);
  std::swap(swapped[r - 1], swapped[r - 2]);
  const bool transpose_b = b_have->layout == swapped;
  auto b = transpose_b ? Result<uint32_t>(b_have->tensor) : value_in(n.inputs[1], identity_layout(r));
  if (!b.ok()) return b.status();
  auto out = new_value(n.outputs[0], identity_layout(r));
  if (!out.ok()) return out.status();
  schema::BatchMatMulOptionsT o;
  o.transpose_b = transpose_b;
  add_op(n, op_options(schema::OpOptions_BatchMatMulOptions, std::move(o)), {a.value(), b.value()}, out.value());
  return Status::Ok();
}

// Reshape, Flatten, Squeeze, Unsqueeze: on the stored data as it lies when the axes they
// merge or split are stored contiguously and in order (an NHWC map flattened over H and
// W, the patch grid of a ViT), else after putting the data into ONNX's order.
Status Lowering::lower_reshape(const Node& n) {
  auto in_dims = onnx_dims(n.inputs[0]);
  auto out_dims = onnx_dims(n.outputs[0]);
  if (!in_dims.ok()) return in_dims.status();
  if (!out_dims.ok()) return out_dims.status();
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  std::optional<Layout> layout = layout_after_reshape(in_dims.value(), have->layout, out_dims.value());
  uint32_t source = have->tensor;
  if (!layout) {
    auto ordered = value_in(n.inputs[0], identity_layout(in_dims->size()));
    if (!ordered.ok()) return ordered.status();
    source = ordered.value();
    layout = identity_layout(out_dims->size());
  }
  const Dims stored = to_dims(stored_dims(out_dims.value(), *layout));
  if (stored == stored_shape(source)) {
    alias(n.outputs[0], source, *layout);
    return Status::Ok();
  }
  auto out = new_value(n.outputs[0], *layout);
  if (!out.ok()) return out.status();
  schema::ReshapeOptionsT o;
  o.new_shape = stored;
  add_op(n, op_options(schema::OpOptions_ReshapeOptions, std::move(o)), {source}, out.value());
  return Status::Ok();
}

// A Transpose moves no data: its output is its input read with another layout.
Status Lowering::lower_transpose(const Node& n) {
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  const size_t rank = have->layout.size();
  std::vector<int64_t> perm = n.ints_attr("perm");
  if (perm.empty()) {
    for (size_t i = rank; i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  }
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (perm.size() != rank || p < 0 || p >= int64_t(rank) || seen[size_t(p)]) return unsupported(n, "perm is not a permutation");
    seen[size_t(p)] = true;
  }
  alias(n.outputs[0], have->tensor, layout_after_transpose(have->layout, perm));
  return Status::Ok();
}

Status Lowering::lower_concat(const Node& n) {
  const size_t rank = rank_of(n.outputs[0]);
  const int64_t axis = normalized_axis(n.int_attr("axis", 0), rank);
  if (axis < 0) return unsupported(n, "axis out of range");
  // The layout of the first computed input; the others are brought to it.
  Layout layout = identity_layout(rank);
  for (const std::string& in : n.inputs) {
    if (g_.constant(in) == nullptr) {
      auto have = lowered(in);
      if (!have.ok()) return have.status();
      layout = have->layout;
      break;
    }
  }
  std::vector<uint32_t> inputs;
  for (const std::string& in : n.inputs) {
    auto dims = onnx_dims(in);
    if (!dims.ok()) return dims.status();
    if ((*dims)[size_t(axis)] == 0) continue;
    auto t = value_in(in, layout);
    if (!t.ok()) return t.status();
    inputs.push_back(t.value());
  }
  if (inputs.size() == 1) {
    alias(n.outputs[0], inputs[0], layout);
    return Status::Ok();
  }
  auto out = new_value(n.outputs[0], layout);
  if (!out.ok()) return out.status();
  schema::ConcatOptionsT o;
  o.axis = inverse(layout)[size_t(axis)];
  add_op(n, op_options(schema::OpOptions_ConcatOptions, std::move(o)), inputs, out.value());
  return Status::Ok();
}

Result<uint32_t> Lowering::slice_axis(const std::string& out, uint32_t in, const std::vector<int64_t>& in_dims,
                                      const Layout& layout, uint32_t axis, int64_t begin, int64_t size) {
  std::vector<int64_t> begins(in_dims.size(), 0), sizes = in_dims;
  begins[axis] = begin;
  sizes[axis] = size;
  schema::SliceOptionsT o;
  for (uint32_t a : layout) o.begin.push_back(static_cast<uint32_t>(begins[a]));
  const uint32_t t = new_step(out, to_dims(stored_dims(sizes, layout)));
  add_op(out + "/slice", op_options(schema::OpOptions_SliceOptions, std::move(o)), {in}, t);
  return t;
}

// Slice with constant starts, ends, axes and positive steps (inputs from opset 10,
// attributes before). Steps of 1 are one slice. An axis with step s > 1 (Swin's patch
// merging, x[:, 0::2]) is read as a reshape: a window of n * s elements split into
// [n, s], of which one column is kept; zeros pad the window where the axis ends first.
Status Lowering::lower_slice(const Node& n) {
  auto in_dims = onnx_dims(n.inputs[0]);
  if (!in_dims.ok()) return in_dims.status();
  const auto params = slice_params(g_, n);
  if (!params) return unsupported(n, "starts, ends, axes and steps must be constants");
  const std::vector<int64_t>* starts = &params->starts;
  const std::vector<int64_t>* ends = &params->ends;
  const std::vector<int64_t>* axes_in = &params->axes;
  const std::vector<int64_t>* steps = &params->steps;
  const size_t rank = in_dims->size();
  std::vector<int64_t> axes = axes_in->empty() ? std::vector<int64_t>(starts->size()) : *axes_in;
  if (axes_in->empty()) std::iota(axes.begin(), axes.end(), 0);
  if (starts->size() != axes.size() || ends->size() != axes.size() || (!steps->empty() && steps->size() != axes.size())) {
    return unsupported(n, "starts, ends, axes and steps differ in length");
  }
  // Per ONNX axis: the window read (begin, length), and for strided axes the step and count.
  std::vector<int64_t> begin(rank, 0), length = in_dims.value(), step(rank, 1), count = in_dims.value();
  std::vector<int64_t> end_pad(rank, 0), keep(rank, 0);  // strided axes: zeros after the window, the column kept
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t axis = normalized_axis(axes[i], rank);
    if (axis < 0) return unsupported(n, "axis out of range");
    const int64_t s = steps->empty() ? 1 : (*steps)[i];
    if (s < 1) return unsupported(n, "negative or zero steps");
    const int64_t dim = (*in_dims)[size_t(axis)];
    const auto clamp = [&](int64_t v) { return std::max<int64_t>(0, std::min(dim, v < 0 ? std::max(v + dim, int64_t{-1}) : v)); };
    const int64_t b = clamp((*starts)[i]), e = clamp((*ends)[i]);
    if (e <= b) return unsupported(n, "an empty slice");
    const int64_t k = (e - b + s - 1) / s;
    step[size_t(axis)] = s;
    count[size_t(axis)] = k;
    begin[size_t(axis)] = b;
    length[size_t(axis)] = s == 1 ? k : k * s;
    if (s > 1) {
      const int64_t window_begin = std::min(b, std::max<int64_t>(0, dim - k * s));  // keeps b inside [w, w + s)
      begin[size_t(axis)] = window_begin;
      end_pad[size_t(axis)] = std::max<int64_t>(0, window_begin + k * s - dim);
      length[size_t(axis)] = k * s - end_pad[size_t(axis)];
      keep[size_t(axis)] = b - window_begin;
    }
  }
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  const Layout& layout = have->layout;
  uint32_t t = have->tensor;
  std::vector<int64_t> dims = in_dims.value();
  if (length != dims) {  // the windows, one slice
    schema::SliceOptionsT o;
    for (uint32_t a : layout) o.begin.push_back(static_cast<uint32_t>(begin[a]));
    const bool last = std::all_of(step.begin(), step.end(), [](int64_t s) { return s == 1; });
    if (last) {
      auto out = new_value(n.outputs[0], layout);
      if (!out.ok()) return out.status();
      add_op(n, op_options(schema::OpOptions_SliceOptions, std::move(o)), {t}, out.value());
      return Status::Ok();
    }
    const uint32_t windows = new_step(n.outputs[0] + "/windows", to_dims(stored_dims(length, layout)));
    add_op(n.name + "/windows", op_options(schema::OpOptions_SliceOptions, std::move(o)), {t}, windows);
    t = windows;
    dims = length;
  }
  for (uint32_t axis = 0; axis < rank; ++axis) {
    if (step[axis] == 1) continue;
    const int64_t s = step[axis], k = count[axis];
    const uint32_t k_stored = inverse(layout)[axis];
    if (end_pad[axis] > 0) {  // zeros to complete the last group (never kept)
      schema::PadOptionsT p;
      p.pre_pad.assign(rank, 0);
      p.post_pad.assign(rank, 0);
      p.post_pad[k_stored] = uint32_t(end_pad[axis]);
      dims[axis] += end_pad[axis];
      const uint32_t padded = new_step(n.outputs[0] + "/padded", to_dims(stored_dims(dims, layout)));
      add_op(n.name + "/pad", op_options(schema::OpOptions_PadOptions, std::move(p)), {t}, padded);
      t = padded;
    }
    if (rank + 1 > 6) return unsupported(n, "a strided slice of a rank-6 tensor");
    Dims split = to_dims(stored_dims(dims, layout));
    split[k_stored] = uint32_t(k);
    split.insert(split.begin() + k_stored + 1, uint32_t(s));
    const uint32_t grouped = new_step(n.outputs[0] + "/groups", split);
    schema::ReshapeOptionsT r;
    r.new_shape = split;
    add_op(n.name + "/groups", op_options(schema::OpOptions_ReshapeOptions, std::move(r)), {t}, grouped);
    schema::SliceOptionsT o;
    o.begin.assign(split.size(), 0);
    o.begin[k_stored + 1] = uint32_t(keep[axis]);
    Dims picked_dims = split;
    picked_dims[k_stored + 1] = 1;
    const uint32_t picked = new_step(n.outputs[0] + "/picked", picked_dims);
    add_op(n.name + "/pick", op_options(schema::OpOptions_SliceOptions, std::move(o)), {grouped}, picked);
    dims[axis] = k;
    const Dims back = to_dims(stored_dims(dims, layout));
    const bool final_axis = std::none_of(step.begin() + axis + 1, step.end(), [](int64_t v) { return v != 1; });
    schema::ReshapeOptionsT rb;
    rb.new_shape = back;
    if (final_axis) {
      auto out = new_value(n.outputs[0], layout);
      if (!out.ok()) return out.status();
      add_op(n.name + "/ungroup", op_options(schema::OpOptions_ReshapeOptions, std::move(rb)), {picked}, out.value());
      return Status::Ok();
    }
    t = new_step(n.outputs[0] + "/strided", back);
    add_op(n.name + "/ungroup", op_options(schema::OpOptions_ReshapeOptions, std::move(rb)), {picked}, t);
  }
  alias(n.outputs[0], t, layout);  // every axis whole: a no-op
  return Status::Ok();
}

// Split into slices along one axis: sizes from the `split` attribute (before opset 13) or
// input, else equal parts.
Status Lowering::lower_split(const Node& n) {
  auto in_dims = onnx_dims(n.inputs[0]);
  if (!in_dims.ok()) return in_dims.status();
  const int64_t axis = normalized_axis(n.int_attr("axis", 0), in_dims->size());
  if (axis < 0) return unsupported(n, "axis out of range");
  std::vector<int64_t> sizes = n.ints_attr("split");
  if (sizes.empty() && n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Constant* c = g_.constant(n.inputs[1]);
    if (!c) return unsupported(n, "split sizes must be constant");
    sizes = ints_of(*c);
  }
  const int64_t dim = (*in_dims)[size_t(axis)];
  const auto parts = static_cast<int64_t>(n.outputs.size());
  if (sizes.empty()) {
    if (dim % parts != 0) return unsupported(n, "unequal parts without split sizes");
    sizes.assign(size_t(parts), dim / parts);
  }
  if (int64_t(sizes.size()) != parts || std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) != dim) {
    return unsupported(n, "split sizes do not add up to the axis");
  }
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  int64_t begin = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (!n.outputs[i].empty()) {
      auto t = slice_axis(n.outputs[i], have->tensor, in_dims.value(), have->layout, uint32_t(axis), begin, sizes[i]);
      if (!t.ok()) return t.status();
      alias(n.outputs[i], t.value(), have->layout);
    }
    begin += sizes[i];
  }
  return Status::Ok();
}

// Gather with a constant index: one index is a slice of size 1 whose axis then goes (the
// class token of a ViT); a run of consecutive indices is a slice.
Status Lowering::lower_gather(const Node& n) {
  const Constant* idx = g_.constant(n.inputs[1]);
  if (idx == nullptr) return unsupported(n, "the indices must be constant");
  auto in_dims = onnx_dims(n.inputs[0]);
  if (!in_dims.ok()) return in_dims.status();
  const int64_t axis = normalized_axis(n.int_attr("axis", 0), in_dims->size());
  if (axis < 0) return unsupported(n, "axis out of range");
  std::vector<int64_t> indices = ints_of(*idx);
  const int64_t dim = (*in_dims)[size_t(axis)];
  for (int64_t& i : indices) {
    i = i < 0 ? i + dim : i;
    if (i < 0 || i >= dim) return unsupported(n, "an index out of range");
  }
  if (indices.empty() || idx->dims.size() > 1) return unsupported(n, "only a scalar index or a 1-D list");
  for (size_t i = 1; i < indices.size(); ++i) {
    if (indices[i] != indices[0] + int64_t(i)) return unsupported(n, "only consecutive indices (a slice)");
  }
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  const bool scalar = idx->dims.empty();
  const std::string sliced = scalar ? n.outputs[0] + "/slice" : n.outputs[0];
  auto t = slice_axis(sliced, have->tensor, in_dims.value(), have->layout, uint32_t(axis), indices[0],
                      int64_t(indices.size()));
  if (!t.ok()) return t.status();
  if (!scalar) {
    alias(n.outputs[0], t.value(), have->layout);
    return Status::Ok();
  }
  const Layout layout = layout_without_axes(have->layout, {uint32_t(axis)});
  auto out = new_value(n.outputs[0], layout);
  if (!out.ok()) return out.status();
  schema::ReshapeOptionsT o;
  o.new_shape = stored_shape(out.value());
  add_op(n, op_options(schema::OpOptions_ReshapeOptions, std::move(o)), {t.value()}, out.value());
  return Status::Ok();
}

// Softmax over one axis (opset 13 on; before, over the flattened axes from `axis` on,
// which is the same when `axis` is the last), stored last.
Status Lowering::lower_softmax(const Node& n) {
  const size_t rank = rank_of(n.inputs[0]);
  const int64_t axis = normalized_axis(n.int_attr("axis", g_.opset >= 13 ? -1 : 1), rank);
  if (axis < 0) return unsupported(n, "axis out of range");
  if (g_.opset < 13 && axis != int64_t(rank) - 1) return unsupported(n, "before opset 13, only the last axis");
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  const Layout layout = have->layout.back() == uint32_t(axis) ? have->layout : with_axis_last(have->layout, uint32_t(axis));
  auto x = value_in(n.inputs[0], layout);
  if (!x.ok()) return x.status();
  auto out = new_value(n.outputs[0], layout);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_SoftmaxOptions, schema::SoftmaxOptionsT{}), {x.value()}, out.value());
  return Status::Ok();
}

// ReduceMean: over H and W of an image map as global average pooling (both XNNPACK
// generations); over any other axes as a mean on the stored axes.
Status Lowering::lower_reduce_mean(const Node& n) {
  const size_t rank = rank_of(n.inputs[0]);
  std::vector<int64_t> axes = n.ints_attr("axes");
  if (axes.empty() && n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Constant* c = g_.constant(n.inputs[1]);
    if (!c) return unsupported(n, "axes must be constant");
    axes = ints_of(*c);
  }
  if (axes.empty()) {
    axes.resize(rank);
    std::iota(axes.begin(), axes.end(), 0);
  }
  std::vector<uint32_t> onnx_axes;
  for (int64_t a : axes) {
    const int64_t axis = normalized_axis(a, rank);
    if (axis < 0) return unsupported(n, "axis out of range");
    onnx_axes.push_back(uint32_t(axis));
  }
  std::sort(onnx_axes.begin(), onnx_axes.end());
  onnx_axes.erase(std::unique(onnx_axes.begin(), onnx_axes.end()), onnx_axes.end());
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  if (rank == 4 && onnx_axes == std::vector<uint32_t>{2, 3} && have->layout == nhwc_layout()) return lower_global_pool(n);
  const bool keep = n.int_attr("keepdims", 1) != 0;
  const Layout inv = inverse(have->layout);
  schema::MeanOptionsT o;
  for (uint32_t a : onnx_axes) o.axes.push_back(inv[a]);
  std::sort(o.axes.begin(), o.axes.end());
  o.keep_dims = keep;
  Layout layout = keep ? have->layout : layout_without_axes(have->layout, onnx_axes);
  if (layout.empty()) layout = {0};
  auto out = new_value(n.outputs[0], layout);
  if (!out.ok()) return out.status();
  add_op(n, op_options(schema::OpOptions_MeanOptions, std::move(o)), {have->tensor}, out.value());
  return Status::Ok();
}

// LayerNormalization over the last axis (the ONNX op of opset 17, or the pattern exporters
// spell out, which fuse_layer_norm rewrites into it), with constant scale and bias.
Status Lowering::lower_layer_norm(const Node& n) {
  const size_t rank = rank_of(n.inputs[0]);
  if (normalized_axis(n.int_attr("axis", -1), rank) != int64_t(rank) - 1) return unsupported(n, "only over the last axis");
  for (size_t i = 1; i < n.outputs.size(); ++i) {
    if (!n.outputs[i].empty() && !g_.consumers(n.outputs[i]).empty()) return unsupported(n, "the mean and inverse std outputs are used");
  }
  auto dims = onnx_dims(n.inputs[0]);
  if (!dims.ok()) return dims.status();
  const int64_t c = dims->back();
  std::vector<uint32_t> inputs;
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  const auto r = uint32_t(rank);
  const Layout layout = have->layout.back() == r - 1 ? have->layout : with_axis_last(have->layout, r - 1);
  auto x = value_in(n.inputs[0], layout);
  if (!x.ok()) return x.status();
  inputs.push_back(x.value());
  for (size_t i = 1; i < 3 && i < n.inputs.size() && !n.inputs[i].empty(); ++i) {
    const Constant* p = g_.constant(n.inputs[i]);
    if (p == nullptr || !p->is_float || p->count() != c) {
      return unsupported(n, format("the %s must be a constant of %lld values", i == 1 ? "scale" : "bias", (long long)c));
    }
    if (i == 2 && inputs.size() == 1) {  // a bias without a scale: a scale of ones
      inputs.push_back(b_.add_constant_fp32(n.name + "/ones", {uint32_t(c)}, std::vector<float>(size_t(c), 1.0f)));
    }
    inputs.push_back(b_.add_constant_fp32(n.inputs[i], {uint32_t(c)}, p->floats));
  }
  auto out = new_value(n.outputs[0], layout);
  if (!out.ok()) return out.status();
  schema::LayerNormOptionsT o;
  o.epsilon = n.float_attr("epsilon", 1e-5f);
  add_op(n, op_options(schema::OpOptions_LayerNormOptions, std::move(o)), inputs, out.value());
  return Status::Ok();
}

Status Lowering::lower_gelu(const Node& n) {
  const std::string approximate = n.string_attr("approximate", "none");
  if (approximate != "none" && approximate != "tanh") return unsupported(n, "approximate must be 'none' or 'tanh'");
  auto have = lowered(n.inputs[0]);
  if (!have.ok()) return have.status();
  auto out = new_value(n.outputs[0], have->layout);
  if (!out.ok()) return out.status();
  schema::GeluOptionsT o;
  o.approximate = approximate == "tanh";
  add_op(n, op_options(schema::OpOptions_GeluOptions, std::move(o)), {have->tensor}, out.value());
  return Status::Ok();
}

}  // namespace edgeclr::convert
