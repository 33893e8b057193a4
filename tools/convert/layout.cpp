#include "convert/layout.h"

#include <algorithm>
#include <numeric>

namespace edgeclr::convert {

Layout identity_layout(size_t rank) {
  Layout l(rank);
  std::iota(l.begin(), l.end(), 0u);
  return l;
}

Layout nhwc_layout() { return {0, 2, 3, 1}; }

bool is_identity(const Layout& layout) { return layout == identity_layout(layout.size()); }

Layout inverse(const Layout& layout) {
  Layout inv(layout.size());
  for (uint32_t k = 0; k < layout.size(); ++k) inv[layout[k]] = k;
  return inv;
}

std::string layout_string(const Layout& layout) {
  std::string s = "[";
  for (size_t i = 0; i < layout.size(); ++i) s += (i ? "," : "") + std::to_string(layout[i]);
  return s + "]";
}

std::vector<int64_t> stored_dims(const std::vector<int64_t>& dims, const Layout& layout) {
  std::vector<int64_t> out(layout.size());
  for (size_t k = 0; k < layout.size(); ++k) out[k] = dims[layout[k]];
  return out;
}

Layout transpose_between(const Layout& from, const Layout& to) {
  const Layout where = inverse(from);  // stored position of each ONNX axis in `from`
  Layout perm(to.size());
  for (size_t i = 0; i < to.size(); ++i) perm[i] = where[to[i]];
  return perm;
}

// out[i] = in[perm[i]]: stored position k holds in-axis layout[k], which is out-axis
// perm^-1[layout[k]].
Layout layout_after_transpose(const Layout& in, const std::vector<int64_t>& perm) {
  Layout p(perm.begin(), perm.end());
  const Layout perm_inv = inverse(p);
  Layout out(in.size());
  for (size_t k = 0; k < in.size(); ++k) out[k] = perm_inv[in[k]];
  return out;
}

Layout with_axis_last(const Layout& layout, uint32_t axis) {
  Layout out;
  for (uint32_t a : layout) {
    if (a != axis) out.push_back(a);
  }
  out.push_back(axis);
  return out;
}

namespace {

// Runs of consecutive non-1 axes of `in` and `out` with equal products: each run of input
// axes becomes the matching run of output axes.
struct Group {
  std::vector<uint32_t> in_axes, out_axes;
};

std::optional<std::vector<Group>> reshape_groups(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  std::vector<uint32_t> a, b;
  for (uint32_t i = 0; i < in.size(); ++i) if (in[i] != 1) a.push_back(i);
  for (uint32_t i = 0; i < out.size(); ++i) if (out[i] != 1) b.push_back(i);
  std::vector<Group> groups;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    Group g;
    int64_t pa = in[a[i]], pb = out[b[j]];
    g.in_axes.push_back(a[i++]);
    g.out_axes.push_back(b[j++]);
    while (pa != pb) {
      if (pa < pb) {
        if (i == a.size()) return std::nullopt;
        pa *= in[a[i]];
        g.in_axes.push_back(a[i++]);
      } else {
        if (j == b.size()) return std::nullopt;
        pb *= out[b[j]];
        g.out_axes.push_back(b[j++]);
      }
    }
    groups.push_back(std::move(g));
  }
  if (i != a.size() || j != b.size()) return std::nullopt;
  return groups;
}

}  // namespace

std::optional<Layout> layout_after_reshape(const std::vector<int64_t>& in_dims, const Layout& in_layout,
                                           const std::vector<int64_t>& out_dims) {
  const auto groups = reshape_groups(in_dims, out_dims);
  if (!groups) return std::nullopt;
  // The stored order of the input's non-1 axes must be whole groups, each in order.
  std::vector<uint32_t> stored;
  for (uint32_t a : in_layout) {
    if (in_dims[a] != 1) stored.push_back(a);
  }
  Layout out;  // the non-1 output axes in stored order
  size_t k = 0;
  while (k < stored.size()) {
    const auto g = std::find_if(groups->begin(), groups->end(), [&](const Group& x) { return x.in_axes[0] == stored[k]; });
    if (g == groups->end() || k + g->in_axes.size() > stored.size()) return std::nullopt;
    if (!std::equal(g->in_axes.begin(), g->in_axes.end(), stored.begin() + static_cast<std::ptrdiff_t>(k))) return std::nullopt;
    out.insert(out.end(), g->out_axes.begin(), g->out_axes.end());
    k += g->in_axes.size();
  }
  // A size-1 axis holds no data of its own and may go anywhere: before the first stored
  // axis above it, so that an order already ONNX's stays the identity.
  for (uint32_t d = 0; d < out_dims.size(); ++d) {
    if (out_dims[d] != 1) continue;
    out.insert(std::find_if(out.begin(), out.end(), [&](uint32_t e) { return e > d; }), d);
  }
  return out;
}

Layout layout_without_axes(const Layout& layout, const std::vector<uint32_t>& removed) {
  Layout out;
  for (uint32_t a : layout) {
    if (std::binary_search(removed.begin(), removed.end(), a)) continue;
    const auto below = std::lower_bound(removed.begin(), removed.end(), a) - removed.begin();
    out.push_back(a - static_cast<uint32_t>(below));
  }
  return out;
}

}  // namespace edgeclr::convert
