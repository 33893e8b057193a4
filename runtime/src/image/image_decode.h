// Image files to uint8 pixels: JPEG via libjpeg-turbo (scaled in the DCT domain when the
// caller needs less than full size), PNG, BMP, binary PGM/PPM via stb_image; turned
// upright by the JPEG's EXIF orientation, converted to gray or RGB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "image/pixel_view.h"

namespace edgeclr {

// Largest file decode_image_file reads, and buffer decode_image_memory takes.
inline constexpr size_t kMaxImageFileBytes = size_t{256} << 20;

// A decoded image: height x width x channels uint8, packed rows, channels 1 (gray) or
// 3 (RGB), EXIF orientation already applied.
struct Image {
  std::vector<uint8_t> pixels;
  uint32_t width = 0, height = 0, channels = 0;

  // Valid while `pixels` is neither changed nor destroyed.
  PixelView view() const {
    return PixelView{pixels.data(), width, height, size_t{width} * channels,
                     channels == 1 ? PixelFormat::kGray : PixelFormat::kRGB};
  }
};

// The smallest upright image a caller can use, e.g. what preprocessing needs to shrink
// (never enlarge) to a model's input: decoding may return any size at least this large
// (a JPEG comes out at the smallest M/8 scale that is, see jpeg_decode.h; other formats
// at full size). All zero: full size.
struct DecodeTarget {
  uint32_t min_width = 0, min_height = 0, min_shorter_side = 0;
};

// `channels` is 1 (gray: a JPEG's own luma, other files' RGB converted with luma_bt601)
// or 3 (RGB, gray replicated); alpha is dropped. Refused before any pixel memory is
// allocated: a zero side or more than kMaxImagePixels pixels in the header; a JPEG that
// ends early or has more than 500 progressive scans. Errors name the file, e.g.
//   failed to decode image 'big.png': 20000x20000 pixels, the limit is 50000000
// Codes: kIoError (open/read), kInvalidArgument (empty, unknown format, corrupt, too
// large, bad `channels`), kOutOfMemory. Thread-safe.
Result<Image> decode_image_file(const std::string& path, uint32_t channels, const DecodeTarget& target = {});

// As above, for an encoded file held in memory; `name` stands for the file in errors.
Result<Image> decode_image_memory(const uint8_t* data, size_t size, const std::string& name, uint32_t channels,
                                  const DecodeTarget& target = {});

}  // namespace edgeclr
