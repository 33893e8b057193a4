#include "cli/canvas.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/atomic_file.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace edgeclr::cli {
namespace {

void append_png_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

}  // namespace

void Canvas::fill(uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, const uint8_t colour[3]) {
  for (uint32_t y = y0; y < std::min(height, y0 + h); ++y) {
    for (uint32_t x = x0; x < std::min(width, x0 + w); ++x) std::memcpy(&rgb[(size_t{y} * width + x) * 3], colour, 3);
  }
}

// stb_easy_font's quads, scaled, as filled rectangles.
void draw_text(Canvas* canvas, uint32_t x, uint32_t y, const std::string& text, const uint8_t colour[3]) {
  static thread_local std::vector<char> vertices(1 << 16);
  std::string copy = text;  // stb_easy_font takes a char*
  const int quads = stb_easy_font_print(0, 0, &copy[0], nullptr, vertices.data(), static_cast<int>(vertices.size()));
  for (int q = 0; q < quads; ++q) {
    float corner[2][2];  // vertex 0 and vertex 2 of the quad: opposite corners
    std::memcpy(corner[0], &vertices[size_t(q) * 64], 8);
    std::memcpy(corner[1], &vertices[size_t(q) * 64 + 32], 8);
    const auto x0 = static_cast<uint32_t>(std::lround(corner[0][0] * kTextScale));
    const auto y0 = static_cast<uint32_t>(std::lround(corner[0][1] * kTextScale));
    const auto x1 = static_cast<uint32_t>(std::lround(corner[1][0] * kTextScale));
    const auto y1 = static_cast<uint32_t>(std::lround(corner[1][1] * kTextScale));
    canvas->fill(x + x0, y + y0, x1 - x0, y1 - y0, colour);
  }
}

uint32_t text_width(const std::string& text) {
  std::string copy = text;
  return static_cast<uint32_t>(stb_easy_font_width(&copy[0])) * kTextScale;
}

Status write_png(const Canvas& canvas, const std::string& path) {
  std::vector<uint8_t> png;
  if (!stbi_write_png_to_func(append_png_bytes, &png, int(canvas.width), int(canvas.height), 3, canvas.rgb.data(),
                              int(canvas.width * 3))) {
    return error(StatusCode::kInvalidArgument, format("failed to write '%s': PNG encoding failed", path.c_str()));
  }
  return write_file_atomically(path, png.data(), png.size());
}

}  // namespace edgeclr::cli
