// EXIF orientation: JPEG marker walk to the Exif APP1 segment, TIFF IFD0 lookup of tag
// 0x0112, and the pixel transform for orientations 1..8.
#include "image/exif_orientation.h"

#include <cstring>

namespace edgeclr {
namespace {

constexpr uint8_t kMarkerSOI = 0xD8;
constexpr uint8_t kMarkerEOI = 0xD9;
constexpr uint8_t kMarkerSOS = 0xDA;
constexpr uint8_t kMarkerAPP1 = 0xE1;
constexpr uint8_t kMarkerTEM = 0x01;
constexpr uint8_t kMarkerRST0 = 0xD0;
constexpr uint8_t kMarkerRST7 = 0xD7;

constexpr uint16_t kTiffMagic = 42;
constexpr uint16_t kTagOrientation = 0x0112;
constexpr uint16_t kTypeShort = 3;
constexpr uint64_t kIfdEntryBytes = 12;  // tag u16, type u16, count u32, value u32

// Reads of a TIFF block in its own byte order; false when any byte lies outside it.
// Offsets are 64-bit so that offset + length cannot wrap.
class TiffReader {
 public:
  TiffReader(const uint8_t* data, size_t size, bool big_endian) : data_(data), size_(size), big_(big_endian) {}

  bool u16(uint64_t offset, uint16_t* out) const {
    if (offset + 2 > size_) return false;
    const uint8_t* p = data_ + offset;
    *out = static_cast<uint16_t>(big_ ? (p[0] << 8) | p[1] : (p[1] << 8) | p[0]);
    return true;
  }
  bool u32(uint64_t offset, uint32_t* out) const {
    uint16_t first = 0, second = 0;
    if (!u16(offset, &first) || !u16(offset + 2, &second)) return false;
    *out = big_ ? (uint32_t{first} << 16) | second : (uint32_t{second} << 16) | first;
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  bool big_;
};

// Orientation from one IFD entry at `entry` that holds tag 0x0112: a single SHORT 1..8.
uint32_t orientation_entry_value(const TiffReader& tiff, uint64_t entry) {
  uint16_t type = 0, value = 0;
  uint32_t count = 0;
  if (!tiff.u16(entry + 2, &type) || !tiff.u32(entry + 4, &count) || !tiff.u16(entry + 8, &value)) {
    return kOrientationUpright;
  }
  if (type != kTypeShort || count != 1 || value < 1 || value > 8) return kOrientationUpright;
  return value;
}

}  // namespace

uint32_t tiff_exif_orientation(const uint8_t* tiff, size_t size) {
  if (tiff == nullptr || size < 8) return kOrientationUpright;
  bool big_endian = false;
  if (tiff[0] == 'M' && tiff[1] == 'M') {
    big_endian = true;
  } else if (!(tiff[0] == 'I' && tiff[1] == 'I')) {
    return kOrientationUpright;
  }
  const TiffReader reader(tiff, size, big_endian);
  uint16_t magic = 0, entry_count = 0;
  uint32_t ifd0 = 0;
  if (!reader.u16(2, &magic) || magic != kTiffMagic || !reader.u32(4, &ifd0) || !reader.u16(ifd0, &entry_count)) {
    return kOrientationUpright;
  }
  for (uint32_t i = 0; i < entry_count; ++i) {
    const uint64_t entry = uint64_t{ifd0} + 2 + i * kIfdEntryBytes;
    if (entry + kIfdEntryBytes > size) return kOrientationUpright;
    uint16_t tag = 0;
    if (!reader.u16(entry, &tag)) return kOrientationUpright;
    if (tag == kTagOrientation) return orientation_entry_value(reader, entry);
  }
  return kOrientationUpright;
}

uint32_t jpeg_exif_orientation(const uint8_t* data, size_t size) {
  if (data == nullptr || size < 4 || data[0] != 0xFF || data[1] != kMarkerSOI) return kOrientationUpright;
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return kOrientationUpright;
    const uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte before a marker
      ++pos;
      continue;
    }
    if (marker == kMarkerSOS || marker == kMarkerEOI) return kOrientationUpright;  // metadata ends here
    if (marker == kMarkerTEM || (marker >= kMarkerRST0 && marker <= kMarkerRST7)) {  // no length field
      pos += 2;
      continue;
    }
    const size_t length = (size_t{data[pos + 2]} << 8) | data[pos + 3];  // counts its own 2 bytes
    if (length < 2 || length > size - pos - 2) return kOrientationUpright;
    const uint8_t* payload = data + pos + 4;
    const size_t payload_size = length - 2;
    if (marker == kMarkerAPP1 && payload_size >= 6 && std::memcmp(payload, "Exif\0\0", 6) == 0) {
      return tiff_exif_orientation(payload + 6, payload_size - 6);
    }
    pos += 2 + length;
  }
  return kOrientationUpright;
}

void apply_orientation(const uint8_t* src, uint32_t width, uint32_t height, uint32_t channels,
                       uint32_t orientation, uint8_t* dst) {
  // Upright pixel (x, y) is stored pixel index base + x * step_x + y * step_y.
  const int64_t w = width, h = height;
  int64_t base = 0, step_x = 1, step_y = w;
  switch (orientation) {
    case 2: base = w - 1, step_x = -1, step_y = w; break;
    case 3: base = (h - 1) * w + w - 1, step_x = -1, step_y = -w; break;
    case 4: base = (h - 1) * w, step_x = 1, step_y = -w; break;
    case 5: base = 0, step_x = w, step_y = 1; break;
    case 6: base = (h - 1) * w, step_x = -w, step_y = 1; break;
    case 7: base = (h - 1) * w + w - 1, step_x = -w, step_y = -1; break;
    case 8: base = w - 1, step_x = w, step_y = -1; break;
    default: break;
  }
  if (orientation < 2 || orientation > 8) {
    std::memcpy(dst, src, size_t{width} * height * channels);
    return;
  }
  const bool swap = orientation_swaps_sides(orientation);
  const uint32_t out_width = swap ? height : width;
  const uint32_t out_height = swap ? width : height;
  for (uint32_t y = 0; y < out_height; ++y) {
    const int64_t row = base + int64_t{y} * step_y;
    uint8_t* out = dst + size_t{y} * out_width * channels;
    for (uint32_t x = 0; x < out_width; ++x, out += channels) {
      std::memcpy(out, src + static_cast<size_t>(row + int64_t{x} * step_x) * channels, channels);
    }
  }
}

}  // namespace edgeclr
