// Decoding image files: every format edgeclr accepts, gray/RGB conversion, EXIF
// orientation end to end, and the refusals (missing, empty, corrupt, too large).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "image/image_decode.h"
#include "support/temp_dir.h"

// stb_image_write's PNG and BMP writers make the lossless test files. (Its JPEG writer
// shifts a signed int into overflow, which the UBSan build stops on, so the JPEGs here
// come from FlatJpegWriter below.)
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

using Bytes = std::vector<uint8_t>;

struct Rgb {
  uint8_t r, g, b;
};

void append_to(void* context, void* data, int size) {
  auto* out = static_cast<Bytes*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

Bytes png_of(const Bytes& pixels, int width, int height, int channels) {
  Bytes out;
  REQUIRE(stbi_write_png_to_func(append_to, &out, width, height, channels, pixels.data(), 0));
  return out;
}

Bytes bmp_of(const Bytes& pixels, int width, int height, int channels) {
  Bytes out;
  REQUIRE(stbi_write_bmp_to_func(append_to, &out, width, height, channels, pixels.data()));
  return out;
}

Bytes pnm_of(const char* magic, const Bytes& pixels, int width, int height) {
  const std::string header = std::string(magic) + "\n# comment\n" + std::to_string(width) + " " +
                             std::to_string(height) + "\n255\n";
  Bytes out(header.begin(), header.end());
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

// A baseline JPEG of an RGB image whose 8x8 blocks are each one flat colour (width and
// height multiples of 8). A flat block's DCT is its DC term alone, 8 x (level - 128), so
// no transform is needed; quantisation is 1 and no chroma subsampling, so the only loss
// is rounding Y, Cb, Cr to integers. Huffman: DC categories 0..11 as 4-bit codes equal
// to the category, AC only end-of-block as the 1-bit code 0.
class FlatJpegWriter {
 public:
  Bytes write(const std::vector<Rgb>& pixels, uint32_t width, uint32_t height) {
    out_ = {0xFF, 0xD8};
    Bytes quantisation(65, 1);  // DQT: 8-bit table 0, all 64 steps 1
    quantisation[0] = 0x00;
    segment(0xDB, quantisation);
    segment(0xC0, {8, uint8_t(height >> 8), uint8_t(height), uint8_t(width >> 8), uint8_t(width), 3,  // SOF0
                   1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0});
    Bytes dc = {0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // 12 codes of length 4
    for (uint8_t s = 0; s < 12; ++s) dc.push_back(s);
    segment(0xC4, dc);
    segment(0xC4, {0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00});  // AC: EOB, length 1
    segment(0xDA, {3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0});                       // SOS
    int predictor[3] = {0, 0, 0};
    for (uint32_t by = 0; by < height; by += 8) {
      for (uint32_t bx = 0; bx < width; bx += 8) {
        const Rgb p = pixels[by * width + bx];
        const double y = 0.299 * p.r + 0.587 * p.g + 0.114 * p.b;
        const double levels[3] = {y, (p.b - y) / 1.772 + 128, (p.r - y) / 1.402 + 128};
        for (int c = 0; c < 3; ++c) {
          const int dc_value = 8 * (int(std::lround(std::min(255.0, std::max(0.0, levels[c])))) - 128);
          put_dc_difference(dc_value - predictor[c]);
          predictor[c] = dc_value;
          put_bits(0, 1);  // end of block
        }
      }
    }
    while (bit_count_ != 0) put_bits(1, 1);  // pad the last byte with ones
    out_.insert(out_.end(), {0xFF, 0xD9});
    return out_;
  }

 private:
  void segment(uint8_t marker, const Bytes& payload) {
    const size_t length = payload.size() + 2;
    out_.insert(out_.end(), {0xFF, marker, uint8_t(length >> 8), uint8_t(length)});
    out_.insert(out_.end(), payload.begin(), payload.end());
  }
  void put_bits(uint32_t value, int count) {
    for (int i = count - 1; i >= 0; --i) {
      byte_ = uint8_t((byte_ << 1) | ((value >> i) & 1));
      if (++bit_count_ == 8) {
        out_.push_back(byte_);
        if (byte_ == 0xFF) out_.push_back(0x00);  // byte stuffing
        byte_ = 0, bit_count_ = 0;
      }
    }
  }
  void put_dc_difference(int diff) {
    int category = 0;
    while ((std::abs(diff) >> category) != 0) ++category;
    put_bits(uint32_t(category), 4);
    if (category > 0) put_bits(uint32_t(diff >= 0 ? diff : diff + (1 << category) - 1), category);
  }

  Bytes out_;
  uint8_t byte_ = 0;
  int bit_count_ = 0;
};

// APP1 segment: "Exif\0\0", a little-endian TIFF block whose IFD0 holds Orientation.
Bytes exif_segment(uint16_t orientation) {
  return {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,  // length 2 + 6 + 26
          'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00,
          0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, uint8_t(orientation), 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00};
}

Bytes with_exif_after_soi(const Bytes& jpeg, uint16_t orientation) {
  Bytes out(jpeg.begin(), jpeg.begin() + 2);
  const Bytes app1 = exif_segment(orientation);
  out.insert(out.end(), app1.begin(), app1.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

Image decode_ok(const Bytes& bytes, const char* name, uint32_t channels) {
  auto image = decode_image_memory(bytes.data(), bytes.size(), name, channels);
  REQUIRE_MESSAGE(image.ok(), image.status().message());
  return std::move(image).value();
}

std::string decode_error(const Bytes& bytes, const char* name, uint32_t channels = 3) {
  auto image = decode_image_memory(bytes.data(), bytes.size(), name, channels);
  REQUIRE_FALSE(image.ok());
  CHECK(image.status().code() == StatusCode::kInvalidArgument);
  return image.status().message();
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// 2 wide, 2 high, RGB. Gray values by luma_bt601, worked by hand:
// (299 R + 587 G + 114 B + 500) / 1000, truncated.
const Bytes kRgb2x2 = {255, 0, 0, /**/ 0, 255, 0, /**/ 0, 0, 255, /**/ 10, 20, 30};
const Bytes kLuma2x2 = {76,   // 76245 + 500
                        150,  // 149685 + 500
                        29,   // 29070 + 500
                        18};  // 2990 + 11740 + 3420 + 500

}  // namespace

TEST_CASE("PPM, PNG and BMP decode to the exact RGB pixels") {
  for (const auto& [name, bytes] : {std::pair<const char*, Bytes>{"x.ppm", pnm_of("P6", kRgb2x2, 2, 2)},
                                    {"x.png", png_of(kRgb2x2, 2, 2, 3)},
                                    {"x.bmp", bmp_of(kRgb2x2, 2, 2, 3)}}) {
    CAPTURE(name);
    const Image image = decode_ok(bytes, name, 3);
    CHECK(image.width == 2);
    CHECK(image.height == 2);
    CHECK(image.channels == 3);
    CHECK(image.pixels == kRgb2x2);
  }
}

TEST_CASE("colour converts to gray with the BT.601 luma weights, rounded") {
  CHECK(decode_ok(pnm_of("P6", kRgb2x2, 2, 2), "x.ppm", 1).pixels == kLuma2x2);
  CHECK(decode_ok(png_of(kRgb2x2, 2, 2, 3), "x.png", 1).pixels == kLuma2x2);
  CHECK(luma_bt601(255, 255, 255) == 255);
  CHECK(luma_bt601(77, 77, 77) == 77);  // gray stays gray
}

TEST_CASE("gray files decode to gray, and to RGB by replication") {
  const Bytes gray = {0, 100, 200, 255, 7, 8};  // 3 wide, 2 high
  const Image one = decode_ok(pnm_of("P5", gray, 3, 2), "x.pgm", 1);
  CHECK(one.width == 3);
  CHECK(one.height == 2);
  CHECK(one.pixels == gray);
  const Image three = decode_ok(png_of(gray, 3, 2, 1), "x.png", 3);
  REQUIRE(three.pixels.size() == 18);
  for (size_t i = 0; i < gray.size(); ++i) {
    CHECK(three.pixels[3 * i] == gray[i]);
    CHECK(three.pixels[3 * i + 1] == gray[i]);
    CHECK(three.pixels[3 * i + 2] == gray[i]);
  }
}

TEST_CASE("alpha is dropped") {
  const Bytes rgba = {10, 20, 30, 0, /**/ 40, 50, 60, 255};  // 2 wide, 1 high
  CHECK(decode_ok(png_of(rgba, 2, 1, 4), "a.png", 3).pixels == Bytes{10, 20, 30, 40, 50, 60});
  CHECK(decode_ok(png_of(rgba, 2, 1, 4), "a.png", 1).pixels ==
        Bytes{luma_bt601(10, 20, 30), luma_bt601(40, 50, 60)});
}

TEST_CASE("a JPEG with EXIF orientation 6 comes out rotated 90 degrees clockwise") {
  // Stored 32 wide, 16 high, four 16x8 quadrants (block-aligned, so flat per block):
  //   red   green
  //   blue  white
  const Rgb red{255, 0, 0}, green{0, 255, 0}, blue{0, 0, 255}, white{255, 255, 255};
  std::vector<Rgb> stored(32 * 16);
  for (uint32_t y = 0; y < 16; ++y) {
    for (uint32_t x = 0; x < 32; ++x) stored[y * 32 + x] = y < 8 ? (x < 16 ? red : green) : (x < 16 ? blue : white);
  }
  const Bytes jpeg = FlatJpegWriter().write(stored, 32, 16);
  // Loss: the writer rounds Y, Cb, Cr (+-0.5 each); R = Y + 1.402 (Cr - 128) and
  // B = Y + 1.772 (Cb - 128) turn that into at most +-1.4 levels, stb_image's fixed-point
  // IDCT and colour conversion add about 1 more. 4 levels covers it; the quadrant colours
  // differ by 255 in some channel.
  constexpr int kJpegTolerance = 4;
  const auto check_quadrants = [&](const Image& image, Rgb top_left, Rgb top_right, Rgb bottom_left,
                                   Rgb bottom_right) {
    for (uint32_t y = 0; y < image.height; ++y) {
      for (uint32_t x = 0; x < image.width; ++x) {
        const bool top = y < image.height / 2, left = x < image.width / 2;
        const Rgb want = top ? (left ? top_left : top_right) : (left ? bottom_left : bottom_right);
        const uint8_t* got = &image.pixels[(size_t(y) * image.width + x) * 3];
        CAPTURE(x);
        CAPTURE(y);
        REQUIRE(std::abs(got[0] - want.r) <= kJpegTolerance);
        REQUIRE(std::abs(got[1] - want.g) <= kJpegTolerance);
        REQUIRE(std::abs(got[2] - want.b) <= kJpegTolerance);
      }
    }
  };

  const Image upright = decode_ok(jpeg, "plain.jpg", 3);  // no EXIF: as stored
  REQUIRE(upright.width == 32);
  REQUIRE(upright.height == 16);
  check_quadrants(upright, red, green, blue, white);

  // Rotating clockwise brings the stored left column to the top row, bottom first.
  const Image rotated = decode_ok(with_exif_after_soi(jpeg, 6), "rotated.jpg", 3);
  REQUIRE(rotated.width == 16);
  REQUIRE(rotated.height == 32);
  check_quadrants(rotated, blue, red, white, green);

  const Image flipped = decode_ok(with_exif_after_soi(jpeg, 3), "flipped.jpg", 3);  // 180 degrees
  REQUIRE(flipped.width == 32);
  check_quadrants(flipped, white, blue, green, red);
}

TEST_CASE("decode_image_file reads the file and names it in errors") {
  TempDir dir;
  const std::string path = dir.write("small.ppm", pnm_of("P6", kRgb2x2, 2, 2));
  auto image = decode_image_file(path, 3);
  REQUIRE_MESSAGE(image.ok(), image.status().message());
  CHECK(image->pixels == kRgb2x2);

  auto missing = decode_image_file(dir.path() + "/missing.jpg", 3);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kIoError);
  CHECK(missing.status().message() ==
        "failed to read image '" + dir.path() + "/missing.jpg': cannot open: No such file or directory");

  auto empty = decode_image_file(dir.write("empty.png", {}), 3);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message() == "failed to read image '" + dir.path() + "/empty.png': file is empty");

  auto directory = decode_image_file(dir.path(), 3);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.status().message() == "failed to read image '" + dir.path() + "': not a regular file");
}

TEST_CASE("a file over the size limit is refused before it is read") {
  TempDir dir;
  const std::string path = dir.write("huge.jpg", {0xFF, 0xD8, 0xFF});
  REQUIRE(::truncate(path.c_str(), off_t(kMaxImageFileBytes) + 1) == 0);  // sparse: takes no disk space
  auto image = decode_image_file(path, 3);
  REQUIRE_FALSE(image.ok());
  CHECK(image.status().code() == StatusCode::kInvalidArgument);
  CHECK(image.status().message() ==
        "failed to read image '" + path + "': file has 268435457 bytes, the limit is 268435456");
}

TEST_CASE("an uncompressed BMP whose pixels are not all there is refused before decoding") {
  // 2752512x17 RGB claimed in 58 bytes (found by fuzzing: stb_image fills the rest with
  // zeros, a 140 MB decode). Header: BITMAPINFOHEADER, 24 bits, BI_RGB, data at 54.
  Bytes bmp(58, 0);
  const auto put = [&](size_t at, uint32_t v, int n) {
    for (int i = 0; i < n; ++i) bmp[at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  bmp[0] = 'B', bmp[1] = 'M';
  put(2, 58, 4), put(10, 54, 4), put(14, 40, 4), put(18, 2752512, 4), put(22, 17, 4), put(26, 1, 2), put(28, 24, 2);
  CHECK(decode_error(bmp, "short.bmp") == "failed to decode image 'short.bmp': truncated BMP (4 bytes of pixels, expected 140378112)");
  // stb_image reads any compression but RLE as rows: a made-up one is no way around it.
  put(30, 0x87000000u, 4);
  CHECK(decode_error(bmp, "odd.bmp").find("truncated BMP") != std::string::npos);
  put(30, 0, 4);
  // The same header for 1x1: one row of 3 bytes padded to 4, present.
  put(18, 1, 4), put(22, 1, 4);
  const Image one = decode_ok(bmp, "ok.bmp", 3);
  CHECK(one.width == 1);
  CHECK(one.height == 1);
}

TEST_CASE("too many pixels or a zero side in the header is refused before decoding") {
  // Header only, no pixel data: the refusal must come from the header check.
  const std::string big_pgm = "P5\n20000 20000\n255\n";
  CHECK(decode_error(Bytes(big_pgm.begin(), big_pgm.end()), "big.pgm") ==
        "failed to decode image 'big.pgm': 20000x20000 pixels, the limit is 50000000");

  // PNG signature, an IHDR chunk of 10000x10000 RGB (below stb_image's own limit of
  // 2^30 bytes) and an empty IDAT chunk; stb_image does not check chunk CRCs, so 0 is
  // fine. (stb_image 2.30's header scan reads on to the first IDAT; 2.27 stops at IHDR.)
  const Bytes big_png = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                         0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10, 8, 2, 0, 0, 0, 0, 0, 0, 0,
                         0, 0, 0, 0, 'I', 'D', 'A', 'T', 0, 0, 0, 0};
  CHECK(decode_error(big_png, "big.png") ==
        "failed to decode image 'big.png': 10000x10000 pixels, the limit is 50000000");

  const std::string zero = "P5\n0 4\n255\n";
  CHECK(decode_error(Bytes(zero.begin(), zero.end()), "zero.pgm") ==
        "failed to decode image 'zero.pgm': 0x4 pixels, expected at least 1x1");
}

TEST_CASE("unknown, corrupt and truncated files are refused with the format named") {
  const std::string text = "hello";
  CHECK(decode_error(Bytes(text.begin(), text.end()), "notes.txt") ==
        "failed to decode image 'notes.txt': not a JPEG, PNG, BMP or binary PGM/PPM file (starts with 68 65 6c 6c)");
  CHECK(decode_error({}, "nothing.jpg") == "failed to decode image 'nothing.jpg': no data (0 bytes)");

  const Bytes jpeg = FlatJpegWriter().write(std::vector<Rgb>(64, Rgb{1, 2, 3}), 8, 8);
  const Bytes jpeg_header_only(jpeg.begin(), jpeg.begin() + 40);  // cut inside the tables, before SOF
  CHECK(starts_with(decode_error(jpeg_header_only, "cut.jpg"),
                    "failed to decode image 'cut.jpg': corrupt or unsupported JPEG (libjpeg: "));

  Bytes png = png_of(kRgb2x2, 2, 2, 3);
  for (size_t i = 41; i + 12 < png.size(); ++i) png[i] = 0xFF;  // IDAT payload: no valid zlib stream
  CHECK(decode_error(png, "bad.png") ==
        "failed to decode image 'bad.png': corrupt or unsupported PNG (stb_image: bad zlib header)");

  const Bytes ppm = pnm_of("P6", kRgb2x2, 2, 2);
  const Bytes ppm_cut(ppm.begin(), ppm.end() - 1);  // stb_image would fill the gap with heap garbage
  CHECK(decode_error(ppm_cut, "cut.ppm") ==
        "failed to decode image 'cut.ppm': truncated PPM (11 bytes of pixels, expected 12)");

  const std::string overflow = "P5\n99999999999 1\n255\n";
  CHECK(decode_error(Bytes(overflow.begin(), overflow.end()), "huge.pgm") ==
        "failed to decode image 'huge.pgm': corrupt PGM header (a number over 9 digits)");
}

TEST_CASE("channels other than 1 or 3 are refused") {
  CHECK(decode_error(pnm_of("P6", kRgb2x2, 2, 2), "x.ppm", 4) ==
        "failed to decode image 'x.ppm': channels 4, expected 1 (gray) or 3 (RGB)");
  // A file is not even opened.
  auto from_file = decode_image_file("/no/such/file.jpg", 2);
  REQUIRE_FALSE(from_file.ok());
  CHECK(from_file.status().message() == "failed to decode image '/no/such/file.jpg': channels 2, expected 1 (gray) or 3 (RGB)");
}

TEST_CASE("Image::view describes the packed pixels") {
  const Image image = decode_ok(pnm_of("P6", kRgb2x2, 2, 2), "x.ppm", 3);
  const PixelView view = image.view();
  CHECK(view.data == image.pixels.data());
  CHECK(view.width == 2);
  CHECK(view.height == 2);
  CHECK(view.stride_bytes == 6);
  CHECK(view.format == PixelFormat::kRGB);
  CHECK(decode_ok(pnm_of("P6", kRgb2x2, 2, 2), "x.ppm", 1).view().format == PixelFormat::kGray);
}
