// Pixels as edgeclr passes them around: a borrowed view of a caller's buffer, the pixel
// formats it may hold, and the one RGB -> gray rule used everywhere.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgeclr {

// Byte order of one pixel, e.g. kBGRA is B, G, R, A in memory.
enum class PixelFormat { kGray, kRGB, kRGBA, kBGRA };

// A caller's pixels, e.g. a camera frame. Not owned; must outlive its use.
// Row y starts at data + y * stride_bytes; stride_bytes >= width * bytes_per_pixel(format).
struct PixelView {
  const uint8_t* data = nullptr;
  uint32_t width = 0;
  uint32_t height = 0;
  size_t stride_bytes = 0;
  PixelFormat format = PixelFormat::kRGB;
};

// Largest image edgeclr decodes or preprocesses (~ a 50 MP photo): bounds the memory a
// decoded image may take (150 MB as RGB) and keeps every pixel index inside 64-bit maths.
inline constexpr uint64_t kMaxImagePixels = 50'000'000;

// 0 for a value outside the enum.
constexpr uint32_t bytes_per_pixel(PixelFormat format) {
  switch (format) {
    case PixelFormat::kGray: return 1;
    case PixelFormat::kRGB: return 3;
    case PixelFormat::kRGBA: return 4;
    case PixelFormat::kBGRA: return 4;
  }
  return 0;
}

// Luma of ITU-R BT.601, Y = 0.299 R + 0.587 G + 0.114 B, rounded half up to uint8.
// The weights sum to 1000, so gray input (R = G = B) comes back unchanged.
inline uint8_t luma_bt601(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((299u * r + 587u * g + 114u * b + 500u) / 1000u);
}

}  // namespace edgeclr
