// Layouts (tools/convert/layout.h): where each ONNX axis lies in the stored tensor, as pure
// functions on small shapes, each checked by moving real data.
#include <doctest/doctest.h>

#include <numeric>
#include <vector>

#include "convert/layout.h"

using namespace edgeclr::convert;

namespace {

std::vector<int> iota_data(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<int> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// ONNX Transpose of row-major data, written out directly.
std::vector<int> onnx_transpose(const std::vector<int>& x, const std::vector<int64_t>& dims, const Layout& perm) {
  return permute_data(x, dims, perm);  // stored order `perm` is what Transpose(perm) computes
}

}  // namespace

TEST_CASE("layout: stored dims and data of an NCHW value laid out NHWC") {
  const std::vector<int64_t> nchw = {1, 3, 2, 4};
  CHECK(stored_dims(nchw, nhwc_layout()) == std::vector<int64_t>{1, 2, 4, 3});
  const std::vector<int> x = iota_data(nchw);
  const std::vector<int> nhwc = permute_data(x, nchw, nhwc_layout());
  // element (n, c, h, w) = ((c * 2 + h) * 4 + w) lands at ((h * 4 + w) * 3 + c)
  for (int c = 0; c < 3; ++c)
    for (int h = 0; h < 2; ++h)
      for (int w = 0; w < 4; ++w) CHECK(nhwc[size_t((h * 4 + w) * 3 + c)] == (c * 2 + h) * 4 + w);
}

TEST_CASE("layout: a transpose moves no data, and its output read in ONNX order is ONNX's transpose") {
  const std::vector<int64_t> dims = {2, 3, 5, 7};
  const std::vector<int> x = iota_data(dims);
  for (const Layout& stored : {identity_layout(4), nhwc_layout(), Layout{0, 3, 1, 2}}) {
    for (const std::vector<int64_t>& perm : {std::vector<int64_t>{0, 2, 3, 1}, {3, 1, 0, 2}, {0, 1, 3, 2}}) {
      const std::vector<int> data = permute_data(x, dims, stored);  // the tensor as stored
      const Layout out_layout = layout_after_transpose(stored, perm);
      std::vector<int64_t> out_dims;
      for (int64_t p : perm) out_dims.push_back(dims[size_t(p)]);
      // The same bytes, read as the transposed value and brought to ONNX order:
      const std::vector<int> read = permute_data(data, stored_dims(out_dims, out_layout), inverse(out_layout));
      CHECK(read == onnx_transpose(x, dims, Layout(perm.begin(), perm.end())));
    }
  }
}

TEST_CASE("layout: transpose_between turns one stored order into another") {
  const std::vector<int64_t> dims = {2, 3, 4, 5, 1};
  const std::vector<int> x = iota_data(dims);
  const Layout a = {0, 2, 3, 1, 4}, b = {4, 1, 0, 3, 2};
  const Layout perm = transpose_between(a, b);
  CHECK(permute_data(permute_data(x, dims, a), stored_dims(dims, a), perm) == permute_data(x, dims, b));
}

TEST_CASE("layout: a ViT's patch grid reshape and transpose cost nothing on an NHWC map") {
  // [1,768,7,7] stored NHWC -> reshape [1,768,49]: the merged axes H, W are stored together.
  const auto after = layout_after_reshape({1, 768, 7, 7}, nhwc_layout(), {1, 768, 49});
  REQUIRE(after.has_value());
  CHECK(*after == Layout{0, 2, 1});
  CHECK(is_identity(layout_after_transpose(*after, {0, 2, 1})));  // then [0,2,1]: tokens [1,49,768]
  // The data agrees: the NHWC map read as [1,49,768] is ONNX's reshape + transpose.
  const std::vector<int64_t> small = {1, 4, 3, 2};
  const std::vector<int> x = iota_data(small);
  const std::vector<int> stored = permute_data(x, small, nhwc_layout());
  const std::vector<int> tokens = onnx_transpose(x, {1, 4, 6}, {0, 2, 1});  // reshape is free in row-major
  CHECK(stored == tokens);
}

TEST_CASE("layout: a reshape that mixes stored axes needs ONNX order first; size-1 axes never do") {
  CHECK_FALSE(layout_after_reshape({1, 3, 4, 4}, nhwc_layout(), {1, 48}).has_value());
  CHECK_FALSE(layout_after_reshape({1, 6, 4}, {0, 2, 1}, {1, 24}).has_value());
  // Splitting axes that are stored apart but each whole works on the stored data:
  // [1,6,4] stored [1,4,6] -> [1,2,3,4] is stored [1,4,2,3].
  const auto split = layout_after_reshape({1, 6, 4}, {0, 2, 1}, {1, 2, 3, 4});
  REQUIRE(split.has_value());
  CHECK(*split == Layout{0, 3, 1, 2});
  const auto ones = layout_after_reshape({1, 768, 196}, identity_layout(3), {768, 1, 196});
  REQUIRE(ones.has_value());
  CHECK(is_identity(*ones));
  const auto pooled = layout_after_reshape({1, 512, 1, 1}, nhwc_layout(), {1, 512});
  REQUIRE(pooled.has_value());
  CHECK(is_identity(*pooled));
}

TEST_CASE("layout: removing axes renumbers the rest in their stored order") {
  CHECK(layout_without_axes({0, 2, 3, 1}, {1}) == Layout{0, 1, 2});
  CHECK(layout_without_axes({0, 2, 3, 1}, {2, 3}) == Layout{0, 1});
  CHECK(layout_without_axes({2, 0, 1}, {0}) == Layout{1, 0});
  CHECK(with_axis_last({0, 2, 3, 1}, 3) == Layout{0, 2, 1, 3});
}
