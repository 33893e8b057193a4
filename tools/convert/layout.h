// Where each axis of an ONNX value lies in the tensor edgeclr stores for it.
//
// The converter lays image maps out NHWC (convolutions, pooling) and keeps other tensors
// in ONNX's own order; every value carries a Layout: stored.shape[k] = onnx.shape[axes[k]].
// NHWC of an NCHW value is {0, 2, 3, 1}; ONNX's own order is the identity. A Transpose
// never moves data by itself: it only changes the layout its output is read with. Data
// moves (an explicit transpose operator) only when an operator needs its input in an
// order the value is not stored in, so transposes that cancel cost nothing.
// docs/converter.md ("Layouts") states the rule per operator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace edgeclr::convert {

using Layout = std::vector<uint32_t>;  // a permutation of 0 .. rank-1

Layout identity_layout(size_t rank);
Layout nhwc_layout();  // of a rank-4 NCHW value
bool is_identity(const Layout& layout);
Layout inverse(const Layout& layout);
std::string layout_string(const Layout& layout);

// The stored dims of a value of ONNX dims `dims` laid out as `layout`.
std::vector<int64_t> stored_dims(const std::vector<int64_t>& dims, const Layout& layout);

// The transpose perm (stored output axis i reads stored input axis perm[i]) that turns a
// value stored as `from` into the same value stored as `to`.
Layout transpose_between(const Layout& from, const Layout& to);

// The layout of Transpose(perm)'s output when it keeps its input's stored data.
Layout layout_after_transpose(const Layout& in, const std::vector<int64_t>& perm);

// `layout` with ONNX axis `axis` moved to the end of the stored order (ops that work on
// the last stored axis: fully connected, softmax, layer norm).
Layout with_axis_last(const Layout& layout, uint32_t axis);

// The layout of a Reshape's output when it can be done on the stored data as it lies
// (the runs of axes it merges or splits are stored contiguously and in order); nullopt
// when the data must first be put into ONNX order. A size-1 axis goes before the first
// stored axis above it (it holds no data of its own).
std::optional<Layout> layout_after_reshape(const std::vector<int64_t>& in_dims, const Layout& in_layout,
                                           const std::vector<int64_t>& out_dims);

// The layout after removing ONNX axes `removed` (sorted, distinct) from a value laid out
// as `layout` (a reduction without kept dims, a squeezed gather): the remaining axes keep
// their stored order and are renumbered.
Layout layout_without_axes(const Layout& layout, const std::vector<uint32_t>& removed);

}  // namespace edgeclr::convert

namespace edgeclr::convert {

// Row-major data of ONNX dims `dims`, reordered to be stored as `layout`.
template <typename T>
std::vector<T> permute_data(const std::vector<T>& data, const std::vector<int64_t>& dims, const Layout& layout) {
  const size_t rank = dims.size();
  std::vector<size_t> in_stride(rank, 1);
  for (size_t d = rank; d-- > 1;) in_stride[d - 1] = in_stride[d] * static_cast<size_t>(dims[d]);
  const std::vector<int64_t> out_dims = stored_dims(dims, layout);
  std::vector<T> out(data.size());
  std::vector<int64_t> idx(rank, 0);  // position in the stored (output) order
  for (size_t o = 0; o < out.size(); ++o) {
    size_t i = 0;
    for (size_t k = 0; k < rank; ++k) i += static_cast<size_t>(idx[k]) * in_stride[layout[k]];
    out[o] = data[i];
    for (size_t k = rank; k-- > 0;) {
      if (++idx[k] < out_dims[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

}  // namespace edgeclr::convert
