// The JPEG path (libjpeg-turbo): scale choice, DCT-domain scaling against a full decode,
// progressive, gray, CMYK/YCCK, EXIF orientation with scaling, and the refusals
// (truncated, corrupt, too many pixels, too many scans). Every file is written by
// libjpeg-turbo's own encoder (tests/support/jpeg_writer).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "image/image_decode.h"
#include "image/jpeg_decode.h"
#include "support/jpeg_writer.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

using Bytes = std::vector<uint8_t>;

// A smooth RGB scene (gradients and a slow wave): JPEG keeps it to within a few levels.
Bytes smooth_rgb(int width, int height) {
  Bytes pixels(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &pixels[(size_t(y) * width + x) * 3];
      p[0] = uint8_t(255 * x / (width - 1));
      p[1] = uint8_t(255 * y / (height - 1));
      p[2] = uint8_t(128 + 100 * std::sin(x * 0.05) * std::cos(y * 0.04));
    }
  }
  return pixels;
}

Image decode_ok(const Bytes& file, uint32_t channels, const DecodeTarget& target = {}) {
  auto image = decode_image_memory(file.data(), file.size(), "test.jpg", channels, target);
  INFO(image.status().message());
  REQUIRE(image.ok());
  return std::move(image).value();
}

std::string decode_error(const Bytes& file, const char* name, uint32_t channels = 3) {
  auto image = decode_image_memory(file.data(), file.size(), name, channels);
  REQUIRE_FALSE(image.ok());
  return image.status().message();
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// APP1 Exif segment holding only an orientation (little-endian TIFF, IFD0 with one entry),
// inserted after SOI.
Bytes with_orientation(const Bytes& jpeg, uint8_t orientation) {
  const Bytes app1 = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2A, 0x00, 0x08, 0x00,
                      0x00, 0x00, 0x01, 0x00, 0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, orientation, 0x00,
                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  Bytes out(jpeg.begin(), jpeg.begin() + 2);
  out.insert(out.end(), app1.begin(), app1.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

// The offset of the first SOFn marker's frame header (after FF Cx and the length).
size_t sof_offset(const Bytes& jpeg) {
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) return i + 4;
  }
  FAIL("no SOF0/SOF2 marker");
  return 0;
}

}  // namespace

TEST_CASE("the scale is the smallest M/8 giving at least twice the target") {
  // A 12 MP phone photo for a 224 shorter-side crop: 1/8 gives 504x378 (< 448),
  // 2/8 gives 1008x756.
  CHECK(jpeg_scale_numerator(4032, 3024, {0, 0, 224}) == 2);
  CHECK(jpeg_scale_numerator(4032, 3024, {224, 224, 224}) == 2);
  // 1000x800: 4/8 -> 500x400 (400 < 448), 5/8 -> 625x500.
  CHECK(jpeg_scale_numerator(1000, 800, {224, 224, 224}) == 5);
  // Stretch needs each side on its own: 2000 wide x 600 high for 224x224 -> 6/8 (1500x450).
  CHECK(jpeg_scale_numerator(2000, 600, {224, 224, 0}) == 6);
  // Rounding up as libjpeg does, against 2 x 28 = 56.
  CHECK(jpeg_scale_numerator(448, 448, {28, 28, 0}) == 1);  // exactly 56
  CHECK(jpeg_scale_numerator(441, 441, {28, 28, 0}) == 1);  // 55.1 -> 56
  CHECK(jpeg_scale_numerator(440, 440, {28, 28, 0}) == 2);  // exactly 55 < 56
  CHECK(jpeg_scale_numerator(400, 300, {224, 224, 224}) == 8);  // twice the target is out of reach: full size
  CHECK(jpeg_scale_numerator(100, 100, {224, 224, 224}) == 8);  // smaller than the target: full size
  CHECK(jpeg_scale_numerator(4032, 3024, {}) == 8);             // no target: full size
}

TEST_CASE("a scaled decode matches the area average of the full decode") {
  const int width = 256, height = 192;
  const Bytes file = write_jpeg(smooth_rgb(width, height), width, height, {JpegColor::kYCbCr, 100, false, false});
  const Image full = decode_ok(file, 3);
  REQUIRE(full.width == 256);
  REQUIRE(full.height == 192);
  for (const uint32_t numerator : {1u, 2u, 4u}) {
    CAPTURE(numerator);
    const uint32_t step = 8 / numerator;
    // Half of numerator/8's output: the decoder keeps twice the target.
    const Image scaled = decode_ok(file, 3, {width * numerator / 16, height * numerator / 16, 0});
    REQUIRE(scaled.width == width / step);
    REQUIRE(scaled.height == height / step);
    // Scaled IDCT of an 8x8 block to (8/step)^2 pixels is its area average up to
    // rounding: at quality 100 (quantisation steps 1) the full decode is within about 1
    // level of the source and the scaled one within 1 of the block means, so 3 levels
    // bound both roundings and the colour conversion's.
    int worst = 0;
    for (uint32_t y = 0; y < scaled.height; ++y) {
      for (uint32_t x = 0; x < scaled.width; ++x) {
        for (int c = 0; c < 3; ++c) {
          double sum = 0;
          for (uint32_t dy = 0; dy < step; ++dy) {
            for (uint32_t dx = 0; dx < step; ++dx) sum += full.pixels[((y * step + dy) * full.width + x * step + dx) * 3 + c];
          }
          const int mean = int(std::lround(sum / (step * step)));
          worst = std::max(worst, std::abs(mean - int(scaled.pixels[(y * scaled.width + x) * 3 + c])));
        }
      }
    }
    CHECK(worst <= 3);
  }
}

TEST_CASE("a progressive file decodes to the same pixels as the baseline one") {
  // Progressive only reorders the same quantised coefficients, so the pixels are equal.
  const int width = 120, height = 72;  // not multiples of 16: partial MCUs at the edges
  const Bytes pixels = smooth_rgb(width, height);
  const Bytes baseline = write_jpeg(pixels, width, height, {JpegColor::kYCbCr, 85, false, true});
  const Bytes progressive = write_jpeg(pixels, width, height, {JpegColor::kYCbCr, 85, true, true});
  REQUIRE(baseline != progressive);
  JpegHeader header;
  REQUIRE(read_jpeg_header(progressive.data(), progressive.size(), &header).ok());
  CHECK(header.progressive);
  CHECK(header.width == 120);
  CHECK(header.components == 3);
  REQUIRE(read_jpeg_header(baseline.data(), baseline.size(), &header).ok());
  CHECK_FALSE(header.progressive);
  CHECK(decode_ok(baseline, 3).pixels == decode_ok(progressive, 3).pixels);
  const DecodeTarget quarter{15, 9, 0};  // decoded at twice: 30x18, 2/8
  CHECK(decode_ok(baseline, 3, quarter).pixels == decode_ok(progressive, 3, quarter).pixels);
  CHECK(decode_ok(progressive, 3, quarter).width == 30);
}

TEST_CASE("gray files decode to gray, and to RGB by replication") {
  const int width = 40, height = 24;
  Bytes gray(size_t(width) * height);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = uint8_t(40 + (i * 7) % 160);
  const Bytes file = write_jpeg(gray, width, height, {JpegColor::kGray, 95, false, false});
  const Image one = decode_ok(file, 1);
  const Image three = decode_ok(file, 3);
  REQUIRE(one.pixels.size() == gray.size());
  REQUIRE(three.pixels.size() == gray.size() * 3);
  for (size_t i = 0; i < gray.size(); ++i) {
    CHECK(three.pixels[3 * i] == one.pixels[i]);
    CHECK(three.pixels[3 * i + 1] == one.pixels[i]);
    CHECK(three.pixels[3 * i + 2] == one.pixels[i]);
  }
}

TEST_CASE("gray from a colour file is its luma") {
  const int width = 64, height = 48;
  const Bytes file = write_jpeg(smooth_rgb(width, height), width, height, {JpegColor::kYCbCr, 95, false, false});
  const Image rgb = decode_ok(file, 3);
  const Image gray = decode_ok(file, 1);
  REQUIRE(gray.channels == 1);
  int worst = 0;
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    const int luma = luma_bt601(rgb.pixels[3 * i], rgb.pixels[3 * i + 1], rgb.pixels[3 * i + 2]);
    worst = std::max(worst, std::abs(luma - int(gray.pixels[i])));
  }
  // Y decoded directly against Y recomputed from R, G, B that were each rounded (and
  // clamped) after the inverse colour transform: at most 1 level apart, 2 with clamping.
  CHECK(worst <= 2);
}

TEST_CASE("CMYK and YCCK files convert to RGB, Adobe's inverted ink recognised") {
  // Two flat halves, Adobe-inverted values (255 = no ink): left no ink at all (white),
  // right cyan ink 100% with no black (R = 0, G = B = 255).
  const int width = 32, height = 16;
  Bytes cmyk(size_t(width) * height * 4);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &cmyk[(size_t(y) * width + x) * 4];
      const bool right = x >= width / 2;
      p[0] = right ? 0 : 255;
      p[1] = p[2] = p[3] = 255;
    }
  }
  for (const JpegColor color : {JpegColor::kCmyk, JpegColor::kYcck}) {
    CAPTURE(int(color));
    const Bytes file = write_jpeg(cmyk, width, height, {color, 100, false, false});
    JpegHeader header;
    REQUIRE(read_jpeg_header(file.data(), file.size(), &header).ok());
    CHECK(header.components == 4);
    const Image rgb = decode_ok(file, 3);
    REQUIRE(rgb.pixels.size() == size_t(width) * height * 3);
    const uint8_t* left = &rgb.pixels[(8 * width + 2) * 3];
    const uint8_t* right = &rgb.pixels[(8 * width + width - 3) * 3];
    CHECK(left[0] >= 250);
    CHECK(left[1] >= 250);
    CHECK(left[2] >= 250);
    CHECK(right[0] <= 5);
    CHECK(right[1] >= 250);
    CHECK(right[2] >= 250);
    const Image gray = decode_ok(file, 1);
    CHECK(std::abs(int(gray.pixels[8 * width + width - 3]) - luma_bt601(right[0], right[1], right[2])) <= 1);
  }
}

TEST_CASE("EXIF orientation turns a scaled decode upright, the target taken upright") {
  // Stored 64 wide x 32 high, orientation 6 (rotate 90 clockwise): upright 32 x 64.
  const int width = 64, height = 32;
  const Bytes file = with_orientation(write_jpeg(smooth_rgb(width, height), width, height,
                                                 {JpegColor::kYCbCr, 90, false, false}), 6);
  const Image full = decode_ok(file, 3);
  CHECK(full.width == 32);
  CHECK(full.height == 64);
  // Upright 4 wide x 8 high needed, decoded at twice that: stored 16 x 8, which 2/8
  // gives (16 x 8 -> 8 x 16). Taking the target as stored would pick 4/8 (upright 16 x 32).
  const Image scaled = decode_ok(file, 3, {4, 8, 0});
  CHECK(scaled.width == 8);
  CHECK(scaled.height == 16);
  // Stored top-left (red 0, green 0) goes to the upright top-right.
  const uint8_t* top_right = &scaled.pixels[(0 * scaled.width + 7) * 3];
  CHECK(top_right[0] < 40);
  CHECK(top_right[1] < 40);
}

TEST_CASE("a truncated or corrupt JPEG is refused, never filled in") {
  const int width = 96, height = 64;
  for (const bool progressive : {false, true}) {
    CAPTURE(progressive);
    const Bytes file = write_jpeg(smooth_rgb(width, height), width, height, {JpegColor::kYCbCr, 90, progressive, true});
    const Bytes cut(file.begin(), file.begin() + file.size() * 2 / 3);  // inside the entropy-coded data
    CHECK(decode_error(cut, "cut.jpg") ==
          "failed to decode image 'cut.jpg': corrupt or unsupported JPEG (libjpeg: Premature end of JPEG file)");
  }
  const Bytes file = write_jpeg(smooth_rgb(width, height), width, height, {});
  Bytes bad_marker = file;
  const size_t sof = sof_offset(bad_marker);
  bad_marker[sof - 3] = 0xCF;  // SOF15: lossless arithmetic, which libjpeg-turbo does not decode
  CHECK(starts_with(decode_error(bad_marker, "sof15.jpg"),
                    "failed to decode image 'sof15.jpg': corrupt or unsupported JPEG (libjpeg: "));
  Bytes no_sof(file.begin(), file.begin() + long(sof) - 4);
  no_sof.insert(no_sof.end(), {0xFF, 0xD9});
  CHECK(starts_with(decode_error(no_sof, "nosof.jpg"),
                    "failed to decode image 'nosof.jpg': corrupt or unsupported JPEG (libjpeg: "));
}

TEST_CASE("too many pixels or a zero side in the header is refused before decoding") {
  const Bytes file = write_jpeg(smooth_rgb(16, 16), 16, 16, {});
  Bytes huge = file;
  const size_t sof = sof_offset(huge);  // precision, height (2 bytes), width (2 bytes)
  huge[sof + 1] = 0x27, huge[sof + 2] = 0x10;  // 10000 x 10000: 100 M pixels
  huge[sof + 3] = 0x27, huge[sof + 4] = 0x10;
  CHECK(decode_error(huge, "huge.jpg") == "failed to decode image 'huge.jpg': 10000x10000 pixels, the limit is 50000000");
  Bytes zero = file;
  zero[sof + 3] = 0, zero[sof + 4] = 0;  // width 0: libjpeg itself refuses it
  CHECK(starts_with(decode_error(zero, "zero.jpg"), "failed to decode image 'zero.jpg': "));
}

TEST_CASE("a progressive file with more than 500 scans is refused") {
  const int width = 16, height = 16;
  // 1 + 3 x 63 x 3 = 568 scans; with one refinement, 1 + 3 x 63 x 2 = 379 are accepted.
  const Bytes many = write_jpeg(smooth_rgb(width, height), width, height, {JpegColor::kYCbCr, 90, false, false, 2});
  CHECK(decode_error(many, "scans.jpg") ==
        "failed to decode image 'scans.jpg': corrupt or unsupported JPEG (libjpeg: more than 500 progressive scans)");
  const Bytes fewer = write_jpeg(smooth_rgb(width, height), width, height, {JpegColor::kYCbCr, 90, false, false, 1});
  CHECK(decode_ok(fewer, 3).width == 16);
}

TEST_CASE("a JPEG file is decoded from a stream as from memory, EXIF and truncation included") {
  const TempDir dir;
  const int width = 1024, height = 768;  // over 64 KB compressed at quality 100: several buffer fills
  const Bytes file = with_orientation(
      write_jpeg(smooth_rgb(width, height), width, height, {JpegColor::kYCbCr, 100, true, false}), 8);
  REQUIRE(file.size() > (size_t{64} << 10));
  for (const DecodeTarget target : {DecodeTarget{}, DecodeTarget{25, 37, 0}}) {
    auto from_file = decode_image_file(dir.write("photo.jpg", file), 3, target);
    REQUIRE(from_file.ok());
    const Image from_memory = decode_ok(file, 3, target);
    CHECK(from_file->width == from_memory.width);
    CHECK(from_file->height == from_memory.height);
    CHECK(from_file->pixels == from_memory.pixels);
  }
  CHECK(decode_ok(file, 3).width == 768);  // orientation 8 swaps the sides
  const Bytes cut(file.begin(), file.begin() + long(file.size()) - 1000);
  auto truncated = decode_image_file(dir.write("cut.jpg", cut), 3);
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.status().message() ==
        "failed to decode image '" + dir.path() + "/cut.jpg': corrupt or unsupported JPEG (libjpeg: Premature end of JPEG file)");
}
