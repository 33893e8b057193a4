// Preprocessing to the input tensor: resize weights worked out by hand on tiny images,
// the crop window, colour conversions, stride, normalisation, refusals.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "image/preprocess.h"
#include "schema/edgeclr_generated.h"

using namespace edgeclr;

namespace {

using Bytes = std::vector<uint8_t>;

PixelView view_of(const Bytes& pixels, uint32_t width, uint32_t height, PixelFormat format, size_t stride = 0) {
  return PixelView{pixels.data(), width, height, stride != 0 ? stride : size_t{width} * bytes_per_pixel(format),
                   format};
}

PreprocessSpec spec_of(uint32_t height, uint32_t width, uint32_t channels) {
  PreprocessSpec spec;
  spec.height = height;
  spec.width = width;
  spec.channels = channels;
  return spec;
}

std::vector<float> run(const PixelView& src, const PreprocessSpec& spec) {
  std::vector<float> out(preprocess_output_floats(spec), -1000.0f);
  const Status status = preprocess(src, spec, out.data());
  REQUIRE_MESSAGE(status.ok(), status.message());
  return out;
}

// Bound on preprocess's float rounding for one output value. The resampled level is a sum
// over `taps` source pixels of weight x pixel: the weight, the product and the running sum
// each round once, about 2 FLT_EPSILON of the level (<= 255) per tap. Normalising,
// level * (1 / (255 std)) + (-mean / std), rounds 3 more times on values of at most
// (1 + |mean|) / std. In output units that is (2 taps + 3) FLT_EPSILON (1 + |mean|) / std.
double tolerance(int taps, float mean, float std) {
  return (2.0 * taps + 3.0) * FLT_EPSILON * (1.0 + std::fabs(mean)) / std;
}

// `levels`: the expected resampled pixel values (0..255), worked out by hand, NHWC.
void check_levels(const std::vector<float>& out, const std::vector<double>& levels, const PreprocessSpec& spec,
                  int taps) {
  REQUIRE(out.size() == levels.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t c = uint32_t(i % spec.channels);
    const double want = (levels[i] / 255.0 - spec.mean[c]) / spec.std[c];
    CAPTURE(i);
    CHECK(std::fabs(out[i] - want) <= tolerance(taps, spec.mean[c], spec.std[c]));
  }
}

std::string refusal(const PixelView& src, const PreprocessSpec& spec) {
  std::vector<float> out(16, 7.0f);
  const Status status = preprocess(src, spec, out.data());
  REQUIRE_FALSE(status.ok());
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(out == std::vector<float>(16, 7.0f));  // nothing written
  return status.message();
}

}  // namespace

TEST_CASE("the same size copies the pixels, only normalised") {
  const Bytes gray = {0, 1, 128, 200, 254, 255};  // 3 wide, 2 high
  check_levels(run(view_of(gray, 3, 2, PixelFormat::kGray), spec_of(2, 3, 1)), {0, 1, 128, 200, 254, 255},
               spec_of(2, 3, 1), 1);
}

TEST_CASE("shrinking 4x4 to 2x2 averages each 2x2 block") {
  const Bytes gray = {0,   10,  20,  30,   //
                      40,  50,  60,  70,   //
                      80,  90,  100, 110,  //
                      120, 130, 140, 150};
  // (0+10+40+50)/4, (20+30+60+70)/4, (80+90+120+130)/4, (100+110+140+150)/4
  check_levels(run(view_of(gray, 4, 4, PixelFormat::kGray), spec_of(2, 2, 1)), {25, 45, 105, 125}, spec_of(2, 2, 1),
               4);
}

TEST_CASE("shrinking 3x3 to 2x2 weights the middle pixel's halves") {
  // Each output pixel covers 1.5 source pixels per axis: output 0 takes source 0 whole
  // and half of source 1, weights (2/3, 1/3); output 1 takes (1/3, 2/3) of sources 1, 2.
  const Bytes gray = {0,   30,  60,   //
                      90,  120, 150,  //
                      180, 210, 240};
  // out(0,0) = 4/9*0 + 2/9*30 + 2/9*90 + 1/9*120           = 360/9 = 40
  // out(0,1) = 2/9*30 + 4/9*60 + 1/9*120 + 2/9*150         = 720/9 = 80
  // out(1,0) = 2/9*90 + 1/9*120 + 4/9*180 + 2/9*210        = 1440/9 = 160
  // out(1,1) = 1/9*120 + 2/9*150 + 2/9*210 + 4/9*240       = 1800/9 = 200
  check_levels(run(view_of(gray, 3, 3, PixelFormat::kGray), spec_of(2, 2, 1)), {40, 80, 160, 200},
               spec_of(2, 2, 1), 4);
}

TEST_CASE("enlarging 2x2 to 4x4 is bilinear with half-pixel centres, clamped at the edges") {
  // Output i's centre (i + 0.5) / 2 - 0.5 in source pixels: -0.25 (clamped to 0), 0.25,
  // 0.75, 1.25 (clamped to 1): weights per axis (1, 0), (3/4, 1/4), (1/4, 3/4), (0, 1).
  const Bytes gray = {0, 40,  //
                      80, 200};
  // Rows first: (0, 40) -> 0, 10, 30, 40 and (80, 200) -> 80, 110, 170, 200; then mixed
  // with the same weights down the columns.
  check_levels(run(view_of(gray, 2, 2, PixelFormat::kGray), spec_of(4, 4, 1)),
               {0,  10, 30,  40,    //
                20, 35, 65,  80,    // 3/4 row 0 + 1/4 row 1
                60, 85, 135, 160,   // 1/4 row 0 + 3/4 row 1
                80, 110, 170, 200},
               spec_of(4, 4, 1), 4);
}

TEST_CASE("one axis can shrink while the other enlarges") {
  const Bytes gray = {0, 20, 60, 100};  // 4 wide, 1 high
  // Across: pairs averaged, 10 and 80. Down: the single row clamped, so both rows equal.
  check_levels(run(view_of(gray, 4, 1, PixelFormat::kGray), spec_of(2, 2, 1)), {10, 80, 10, 80}, spec_of(2, 2, 1),
               2);
}

TEST_CASE("shorter-side crop keeps the centre of the resized image") {
  // 6 wide, 4 high, pixel (x, y) = 10 y + x.
  Bytes landscape(24);
  for (uint32_t y = 0; y < 4; ++y) {
    for (uint32_t x = 0; x < 6; ++x) landscape[y * 6 + x] = uint8_t(10 * y + x);
  }
  PreprocessSpec spec = spec_of(2, 2, 1);
  spec.crop = true;

  SUBCASE("shorter side 4: no scaling, the centre 2x2 is rows 1-2, columns 2-3") {
    spec.shorter_side = 4;
    check_levels(run(view_of(landscape, 6, 4, PixelFormat::kGray), spec), {12, 13, 22, 23}, spec, 1);
  }
  SUBCASE("shorter side 0 means 2: resized to 3x2 by 2x2 block means, the crop drops the odd right column") {
    // Resized pixel (i, j) averages source rows 2j..2j+1, columns 2i..2i+1; the margin of
    // 1 column goes to the right, so the crop is resized columns 0-1.
    check_levels(run(view_of(landscape, 6, 4, PixelFormat::kGray), spec),
                 {(0 + 1 + 10 + 11) / 4.0, (2 + 3 + 12 + 13) / 4.0,  //
                  (20 + 21 + 30 + 31) / 4.0, (22 + 23 + 32 + 33) / 4.0},
                 spec, 4);
  }
  SUBCASE("portrait: 4 wide, 6 high, shorter side 4 keeps rows 2-3, columns 1-2") {
    Bytes portrait(24);
    for (uint32_t y = 0; y < 6; ++y) {
      for (uint32_t x = 0; x < 4; ++x) portrait[y * 4 + x] = uint8_t(10 * y + x);
    }
    spec.shorter_side = 4;
    check_levels(run(view_of(portrait, 4, 6, PixelFormat::kGray), spec), {21, 22, 31, 32}, spec, 1);
  }
}

TEST_CASE("crop without a shorter side covers a non-square output: an image of its size passes unchanged") {
  // A model 2 high and 8 wide given an 8x2 image (its own size): before, the shorter side
  // (2) was scaled to max(H, W) = 8, the image to 32x8, and its middle 8x2 cut out.
  Bytes wide(16);
  for (uint32_t i = 0; i < 16; ++i) wide[i] = uint8_t(10 * i + 3);
  PreprocessSpec spec = spec_of(2, 8, 1);
  spec.crop = true;
  std::vector<double> same(wide.begin(), wide.end());
  check_levels(run(view_of(wide, 8, 2, PixelFormat::kGray), spec), same, spec, 1);
  SUBCASE("twice its size: halved on both axes, nothing cut") {
    Bytes big(64);
    for (uint32_t y = 0; y < 4; ++y) {
      for (uint32_t x = 0; x < 16; ++x) big[y * 16 + x] = uint8_t(wide[(y / 2) * 8 + x / 2]);
    }
    check_levels(run(view_of(big, 16, 4, PixelFormat::kGray), spec), same, spec, 4);
  }
  SUBCASE("a taller image: the width decides the scale, the centre rows are kept") {
    Bytes tall(8 * 4);  // 8 wide, 4 high: scale 1, rows 1-2 kept
    for (uint32_t y = 0; y < 4; ++y) {
      for (uint32_t x = 0; x < 8; ++x) tall[y * 8 + x] = uint8_t(10 * y + x);
    }
    std::vector<double> rows;
    for (uint32_t y = 1; y < 3; ++y) {
      for (uint32_t x = 0; x < 8; ++x) rows.push_back(10 * y + x);
    }
    check_levels(run(view_of(tall, 8, 4, PixelFormat::kGray), spec), rows, spec, 1);
  }
}

TEST_CASE("a flat image stays flat at any size and policy (weights sum to 1)") {
  const Bytes flat(13 * 7 * 3, 173);
  for (const auto& [height, width, crop] : {std::tuple<uint32_t, uint32_t, bool>{3, 5, false},
                                            {20, 11, false},
                                            {5, 5, true},
                                            {7, 7, true}}) {
    PreprocessSpec spec = spec_of(height, width, 3);
    spec.crop = crop;
    const std::vector<float> out = run(view_of(flat, 13, 7, PixelFormat::kRGB), spec);
    // At most ceil(13 / 3) + 1 = 6 taps per axis.
    check_levels(out, std::vector<double>(out.size(), 173), spec, 36);
  }
}

TEST_CASE("colour converts to gray per source pixel with the BT.601 luma, rounded") {
  const Bytes rgb = {255, 0, 0, /**/ 0, 255, 0, /**/ 0, 0, 255, /**/ 10, 20, 30};  // 4 wide, 1 high
  // (299 R + 587 G + 114 B + 500) / 1000, truncated: 76, 150, 29, 18.
  check_levels(run(view_of(rgb, 4, 1, PixelFormat::kRGB), spec_of(1, 4, 1)), {76, 150, 29, 18}, spec_of(1, 4, 1),
               1);
  // Shrinking averages the rounded gray values: (76 + 150) / 2, (29 + 18) / 2.
  check_levels(run(view_of(rgb, 4, 1, PixelFormat::kRGB), spec_of(1, 2, 1)), {113, 23.5}, spec_of(1, 2, 1), 2);
}

TEST_CASE("gray replicates into the three RGB channels") {
  const Bytes gray = {9, 250};
  check_levels(run(view_of(gray, 2, 1, PixelFormat::kGray), spec_of(1, 2, 3)), {9, 9, 9, 250, 250, 250},
               spec_of(1, 2, 3), 1);
}

TEST_CASE("RGBA drops alpha and BGRA is swizzled to RGB") {
  const Bytes bytes = {10, 20, 30, 0, /**/ 40, 50, 60, 255};  // 2 wide, 1 high, 4 bytes per pixel
  check_levels(run(view_of(bytes, 2, 1, PixelFormat::kRGBA), spec_of(1, 2, 3)), {10, 20, 30, 40, 50, 60},
               spec_of(1, 2, 3), 1);
  check_levels(run(view_of(bytes, 2, 1, PixelFormat::kBGRA), spec_of(1, 2, 3)), {30, 20, 10, 60, 50, 40},
               spec_of(1, 2, 3), 1);
  // To gray: RGBA (10, 20, 30), (40, 50, 60) and BGRA's (R, G, B) = (30, 20, 10), (60, 50, 40)
  // by (299 R + 587 G + 114 B + 500) / 1000: 18650 -> 18, 48650 -> 48, 22350 -> 22, 52350 -> 52.
  check_levels(run(view_of(bytes, 2, 1, PixelFormat::kRGBA), spec_of(1, 2, 1)), {18, 48}, spec_of(1, 2, 1), 1);
  check_levels(run(view_of(bytes, 2, 1, PixelFormat::kBGRA), spec_of(1, 2, 1)), {22, 52}, spec_of(1, 2, 1), 1);
}

TEST_CASE("the padding at the end of each row is never read") {
  // 2 wide, 2 high, RGB, 8-byte rows: 6 bytes of pixels, 2 of garbage.
  const Bytes padded = {1, 2, 3, 4, 5, 6, 0xEE, 0xEE,  //
                        7, 8, 9, 10, 11, 12, 0xEE, 0xEE};
  const PixelView view = view_of(padded, 2, 2, PixelFormat::kRGB, 8);
  check_levels(run(view, spec_of(2, 2, 3)), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, spec_of(2, 2, 3), 1);
  // 2x2 -> 1x1: the mean of the four pixels.
  check_levels(run(view, spec_of(1, 1, 3)), {5.5, 6.5, 7.5}, spec_of(1, 1, 3), 4);
}

TEST_CASE("normalisation is (p / 255 - mean) / std per channel") {
  const Bytes rgb = {0, 128, 255};
  PreprocessSpec spec = spec_of(1, 1, 3);
  spec.mean = {0.485f, 0.456f, 0.406f};
  spec.std = {0.229f, 0.224f, 0.225f};
  // About (0 - 0.485) / 0.229 = -2.1179, (128 / 255 - 0.456) / 0.224 = 0.2052, (1 - 0.406) / 0.225 = 2.64;
  // check_levels uses the float values of mean and std, as preprocess does.
  check_levels(run(view_of(rgb, 1, 1, PixelFormat::kRGB), spec), {0, 128, 255}, spec, 1);
  // The same, written out to 6 decimals (so each is within 0.5e-6 of the exact value).
  const std::vector<float> out = run(view_of(rgb, 1, 1, PixelFormat::kRGB), spec);
  const double written[3] = {-2.117904, 0.205182, 2.640000};
  constexpr double kWrittenRounding = 0.5e-6;
  for (int c = 0; c < 3; ++c) {
    CHECK(std::fabs(out[c] - written[c]) <= tolerance(1, spec.mean[c], spec.std[c]) + kWrittenRounding);
  }
}

TEST_CASE("invalid views and specs are refused, nothing is written") {
  const Bytes pixels(64, 1);
  const PixelView good = view_of(pixels, 4, 4, PixelFormat::kRGB);
  const PreprocessSpec spec = spec_of(2, 2, 1);
  const std::string prefix = "failed to preprocess image: ";

  PixelView v = good;
  v.data = nullptr;
  CHECK(refusal(v, spec) == prefix + "pixel data is null");
  v = good;
  v.width = 0;
  CHECK(refusal(v, spec) == prefix + "image is 0x4 pixels, expected at least 1x1");
  v = good;
  v.height = 0;
  CHECK(refusal(v, spec) == prefix + "image is 4x0 pixels, expected at least 1x1");
  v = good;
  v.stride_bytes = 11;
  CHECK(refusal(v, spec) == prefix + "stride 11 bytes is below width x bytes per pixel (4 x 3)");
  v = good;
  v.width = 10000, v.height = 5001;  // refused before any pixel is read
  CHECK(refusal(v, spec) == prefix + "image is 10000x5001 pixels, the limit is 50000000");
  v = good;
  v.format = static_cast<PixelFormat>(9);
  CHECK(refusal(v, spec) == prefix + "unknown pixel format 9");

  PreprocessSpec s = spec;
  s.channels = 2;
  CHECK(refusal(good, s) == prefix + "2 output channels, expected 1 (gray) or 3 (RGB)");
  s = spec;
  s.width = 0;
  CHECK(refusal(good, s) == prefix + "output size 2x0, expected 1 to 4096 per side");
  s = spec;
  s.height = 4097;
  CHECK(refusal(good, s) == prefix + "output size 4097x2, expected 1 to 4096 per side");
  s = spec;
  s.std[0] = 0;
  CHECK(refusal(good, s) == prefix + "mean[0] 0, std[0] 0: expected finite, std > 0");
  s = spec;
  s.mean[0] = std::numeric_limits<float>::quiet_NaN();
  CHECK(refusal(good, s) == prefix + "mean[0] nan, std[0] 1: expected finite, std > 0");
  s = spec;
  s.crop = true;
  s.shorter_side = 1;
  CHECK(refusal(good, s) == prefix + "shorter side 1, expected 2 to 4096 for a 2x2 crop");

  CHECK(preprocess(good, spec, nullptr).message() == prefix + "output is null");
}

TEST_CASE("preprocess_spec_from copies the model's input spec") {
  flatbuffers::FlatBufferBuilder fbb;
  const std::vector<float> mean = {0.5f, 0.25f, 0.125f}, std = {0.2f, 0.3f, 0.4f};
  fbb.Finish(schema::CreateInputSpecDirect(fbb, 224, 160, 3, schema::ColorSpace_RGB, schema::Layout_NHWC, &mean, &std,
                                           schema::ResizePolicy_SHORTER_SIDE_CROP, 256));
  const auto* input = flatbuffers::GetRoot<schema::InputSpec>(fbb.GetBufferPointer());
  const PreprocessSpec spec = preprocess_spec_from(*input);
  CHECK(spec.height == 224);
  CHECK(spec.width == 160);
  CHECK(spec.channels == 3);
  CHECK(spec.mean == std::array<float, 3>{0.5f, 0.25f, 0.125f});
  CHECK(spec.std == std::array<float, 3>{0.2f, 0.3f, 0.4f});
  CHECK(spec.crop);
  CHECK(spec.shorter_side == 256);
  CHECK(preprocess_output_floats(spec) == 224 * 160 * 3);
}
