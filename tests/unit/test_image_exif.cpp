// EXIF orientation: the TIFF and JPEG parsers on hand-made bytes (both byte orders,
// truncations, offsets pointing outside), and the pixel transform for all 8 values.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "image/exif_orientation.h"

using namespace edgeclr;

namespace {

// Little-endian TIFF block: header, IFD0 at offset 8 with one entry, next-IFD 0.
std::vector<uint8_t> tiff_le(uint16_t tag, uint16_t type, uint32_t count, uint16_t value) {
  return {'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00,  // header, IFD0 at 8
          0x01, 0x00,                                     // 1 entry
          uint8_t(tag), uint8_t(tag >> 8), uint8_t(type), uint8_t(type >> 8),
          uint8_t(count), uint8_t(count >> 8), uint8_t(count >> 16), uint8_t(count >> 24),
          uint8_t(value), uint8_t(value >> 8), 0x00, 0x00,  // SHORT value left-justified
          0x00, 0x00, 0x00, 0x00};
}

// Big-endian TIFF block with two entries, Make (0x010F) before Orientation.
std::vector<uint8_t> tiff_be_two_entries(uint16_t orientation) {
  return {'M', 'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,
          0x00, 0x02,
          0x01, 0x0F, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x26,  // Make, ASCII
          0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, uint8_t(orientation >> 8), uint8_t(orientation), 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00};
}

uint32_t tiff_orientation(const std::vector<uint8_t>& bytes) {
  // Exactly sized heap copy, so that ASan sees any read past the end.
  const std::vector<uint8_t> copy(bytes);
  return tiff_exif_orientation(copy.data(), copy.size());
}

// SOI, APP0 (JFIF-like filler), APP1 Exif holding `tiff`, then SOS and EOI.
std::vector<uint8_t> jpeg_with_exif(const std::vector<uint8_t>& tiff) {
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x07, 'J', 'F', 'I', 'F', 0x00};
  const size_t length = 2 + 6 + tiff.size();
  jpeg.insert(jpeg.end(), {0xFF, 0xE1, uint8_t(length >> 8), uint8_t(length), 'E', 'x', 'i', 'f', 0, 0});
  jpeg.insert(jpeg.end(), tiff.begin(), tiff.end());
  jpeg.insert(jpeg.end(), {0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9});
  return jpeg;
}

uint32_t jpeg_orientation(const std::vector<uint8_t>& bytes) {
  const std::vector<uint8_t> copy(bytes);
  return jpeg_exif_orientation(copy.data(), copy.size());
}

}  // namespace

TEST_CASE("the orientation tag is read in both byte orders") {
  for (uint16_t v = 1; v <= 8; ++v) {
    CHECK(tiff_orientation(tiff_le(0x0112, 3, 1, v)) == v);
    CHECK(tiff_orientation(tiff_be_two_entries(v)) == v);
  }
}

TEST_CASE("a malformed TIFF block means orientation 1") {
  CHECK(tiff_exif_orientation(nullptr, 0) == 1);
  CHECK(tiff_orientation(tiff_le(0x010F, 3, 1, 6)) == 1);  // no orientation entry
  CHECK(tiff_orientation(tiff_le(0x0112, 4, 1, 6)) == 1);  // LONG, not SHORT
  CHECK(tiff_orientation(tiff_le(0x0112, 3, 2, 6)) == 1);  // two values
  CHECK(tiff_orientation(tiff_le(0x0112, 3, 1, 0)) == 1);  // value outside 1..8
  CHECK(tiff_orientation(tiff_le(0x0112, 3, 1, 9)) == 1);

  auto bad_order = tiff_le(0x0112, 3, 1, 6);
  bad_order[1] = 'M';  // "IM"
  CHECK(tiff_orientation(bad_order) == 1);
  auto bad_magic = tiff_le(0x0112, 3, 1, 6);
  bad_magic[2] = 43;
  CHECK(tiff_orientation(bad_magic) == 1);
}

TEST_CASE("offsets and counts pointing outside the TIFF block are not followed") {
  const auto good = tiff_le(0x0112, 3, 1, 6);
  for (const uint32_t ifd0 : {26u, 25u, 0xFFFFFFF0u, 0xFFFFFFFFu}) {  // 26 = block size
    auto bytes = good;
    for (int i = 0; i < 4; ++i) bytes[4 + i] = uint8_t(ifd0 >> (8 * i));  // little-endian
    CHECK_MESSAGE(tiff_orientation(bytes) == 1, "IFD0 at ", ifd0);
  }
  auto many_entries = tiff_le(0x010F, 3, 1, 6);  // says 65535 entries, holds 1, no orientation
  many_entries[8] = 0xFF, many_entries[9] = 0xFF;
  CHECK(tiff_orientation(many_entries) == 1);
}

TEST_CASE("every truncation of a TIFF block or a JPEG header reads as 1 and stays in bounds") {
  const auto tiff = tiff_le(0x0112, 3, 1, 6);
  // The entry ends at byte 22; the next-IFD offset after it is not needed.
  for (size_t n = 0; n < tiff.size(); ++n) {
    const std::vector<uint8_t> cut(tiff.begin(), tiff.begin() + n);
    CHECK_MESSAGE(tiff_orientation(cut) == (n >= 22 ? 6u : 1u), n, " bytes");
  }
  const auto jpeg = jpeg_with_exif(tiff);
  const size_t app1_end = 11 + 4 + 6 + tiff.size();  // SOI + APP0, APP1 marker/length, "Exif\0\0"
  for (size_t n = 0; n < jpeg.size(); ++n) {
    const std::vector<uint8_t> cut(jpeg.begin(), jpeg.begin() + n);
    CHECK_MESSAGE(jpeg_orientation(cut) == (n >= app1_end ? 6u : 1u), n, " bytes");
  }
}

TEST_CASE("the JPEG walk finds Exif among other segments and stops at the scan") {
  const auto tiff = tiff_le(0x0112, 3, 1, 8);
  CHECK(jpeg_orientation(jpeg_with_exif(tiff)) == 8);

  // An XMP APP1 and fill bytes before the Exif APP1.
  std::vector<uint8_t> xmp_first = {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 'h', 't', 't', 'p', 0xFF, 0xFF};
  const auto rest = jpeg_with_exif(tiff);
  xmp_first.insert(xmp_first.end(), rest.begin() + 2, rest.end());
  CHECK(jpeg_orientation(xmp_first) == 8);

  // Exif after the start of scan belongs to the entropy-coded data, not the header.
  std::vector<uint8_t> after_scan = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02};
  after_scan.insert(after_scan.end(), rest.begin() + 2, rest.end());
  CHECK(jpeg_orientation(after_scan) == 1);

  CHECK(jpeg_orientation({0xFF, 0xD8, 0xFF, 0xD9}) == 1);  // no Exif at all
  CHECK(jpeg_orientation({0x89, 'P', 'N', 'G', 0, 0, 0, 0}) == 1);  // not a JPEG
}

TEST_CASE("segment lengths that lie are not followed") {
  auto jpeg = jpeg_with_exif(tiff_le(0x0112, 3, 1, 6));
  auto too_long = jpeg;
  too_long[4] = 0xFF, too_long[5] = 0xFF;  // APP0 length past the end
  CHECK(jpeg_orientation(too_long) == 1);
  auto too_short = jpeg;
  too_short[4] = 0x00, too_short[5] = 0x01;  // below the 2 bytes of the length itself
  CHECK(jpeg_orientation(too_short) == 1);
  auto exif_too_long = jpeg;
  exif_too_long[13] = 0x7F;  // APP1 length high byte: 32 KiB, the file has ~40 bytes
  CHECK(jpeg_orientation(exif_too_long) == 1);
  auto no_marker = jpeg;
  no_marker[11] = 0x00;  // where the APP1 marker's 0xFF should be
  CHECK(jpeg_orientation(no_marker) == 1);
}

TEST_CASE("orientations 1..8 move the pixels of a 3x2 image where EXIF says") {
  // Stored, 3 wide and 2 high:
  //   1 2 3
  //   4 5 6
  const std::vector<uint8_t> stored = {1, 2, 3, 4, 5, 6};
  struct Case {
    uint32_t orientation;
    uint32_t width, height;
    std::vector<uint8_t> upright;
  };
  const Case cases[] = {
      {1, 3, 2, {1, 2, 3, /**/ 4, 5, 6}},
      {2, 3, 2, {3, 2, 1, /**/ 6, 5, 4}},           // mirrored left-right
      {3, 3, 2, {6, 5, 4, /**/ 3, 2, 1}},           // rotated 180
      {4, 3, 2, {4, 5, 6, /**/ 1, 2, 3}},           // mirrored top-bottom
      {5, 2, 3, {1, 4, /**/ 2, 5, /**/ 3, 6}},      // transposed
      {6, 2, 3, {4, 1, /**/ 5, 2, /**/ 6, 3}},      // rotated 90 clockwise
      {7, 2, 3, {6, 3, /**/ 5, 2, /**/ 4, 1}},      // transversed
      {8, 2, 3, {3, 6, /**/ 2, 5, /**/ 1, 4}},      // rotated 90 counter-clockwise
  };
  for (const Case& c : cases) {
    CAPTURE(c.orientation);
    CHECK(orientation_swaps_sides(c.orientation) == (c.width == 2));
    std::vector<uint8_t> out(6, 0);
    apply_orientation(stored.data(), 3, 2, 1, c.orientation, out.data());
    CHECK(out == c.upright);
  }
}

TEST_CASE("orientation moves whole pixels of several channels") {
  // 2 wide, 1 high, RGB: (1,2,3) (4,5,6). Rotated 90 clockwise: 1 wide, 2 high.
  const std::vector<uint8_t> stored = {1, 2, 3, 4, 5, 6};
  std::vector<uint8_t> out(6, 0);
  apply_orientation(stored.data(), 2, 1, 3, 6, out.data());
  CHECK(out == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  apply_orientation(stored.data(), 2, 1, 3, 8, out.data());  // counter-clockwise: right pixel on top
  CHECK(out == std::vector<uint8_t>{4, 5, 6, 1, 2, 3});
}
