#include "cli/contact_sheet.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/atomic_file.h"
#include "image/image_decode.h"
#include "image/preprocess.h"

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

constexpr uint32_t kPad = 8;           // pixels between tiles and around the sheet
constexpr uint32_t kTextScale = 2;     // stb_easy_font's 1-pixel strokes, doubled
constexpr uint32_t kLineHeight = 12 * kTextScale;
constexpr uint32_t kCaptionLines = 2;
constexpr uint8_t kBackground = 40;

struct Canvas {
  uint32_t width, height;
  std::vector<uint8_t> rgb;  // height x width x 3

  void fill(uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, const uint8_t colour[3]) {
    for (uint32_t y = y0; y < std::min(height, y0 + h); ++y) {
      for (uint32_t x = x0; x < std::min(width, x0 + w); ++x) std::memcpy(&rgb[(size_t{y} * width + x) * 3], colour, 3);
    }
  }
};

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

std::string fit_text(const std::string& text, uint32_t pixels) {
  const size_t chars = std::max<size_t>(4, pixels / (6 * kTextScale));  // ~6 pixels per character
  if (text.size() <= chars) return text;
  return "..." + text.substr(text.size() - (chars - 3));
}

// Decodes `file` and draws it fitted into the thumb x thumb square at (x, y).
Status draw_thumbnail(Canvas* canvas, uint32_t x, uint32_t y, uint32_t thumb, const std::string& file) {
  auto image = decode_image_file(file, 3, DecodeTarget{0, 0, thumb});
  if (!image.ok()) return image.status();
  const double scale = std::min(1.0, double(thumb) / std::max(image->width, image->height));
  PreprocessSpec spec;
  spec.width = std::max<uint32_t>(1, uint32_t(std::lround(image->width * scale)));
  spec.height = std::max<uint32_t>(1, uint32_t(std::lround(image->height * scale)));
  spec.channels = 3;  // mean 0, std 1: values in [0, 1]
  std::vector<float> pixels(preprocess_output_floats(spec));
  EDGECLR_RETURN_IF_ERROR(preprocess(image->view(), spec, pixels.data()));
  const uint32_t left = x + (thumb - spec.width) / 2, top = y + (thumb - spec.height) / 2;
  for (uint32_t row = 0; row < spec.height; ++row) {
    for (uint32_t col = 0; col < spec.width; ++col) {
      for (uint32_t c = 0; c < 3; ++c) {
        const float v = pixels[(size_t{row} * spec.width + col) * 3 + c];
        canvas->rgb[(size_t{top + row} * canvas->width + left + col) * 3 + c] =
            static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255));
      }
    }
  }
  return Status::Ok();
}

void append_png_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

}  // namespace

Status write_contact_sheet(const std::string& path, const std::vector<std::vector<SheetTile>>& rows, uint32_t thumb) {
  const auto failed = [&](const std::string& why) {
    return error(StatusCode::kInvalidArgument, format("failed to write contact sheet '%s': %s", path.c_str(), why.c_str()));
  };
  if (thumb < 32 || thumb > 1024) return failed(format("thumbnail size %u, expected 32 to 1024", thumb));
  size_t columns = 0;
  for (const auto& row : rows) columns = std::max(columns, row.size());
  if (rows.empty() || columns == 0) return failed("nothing to show");
  const uint32_t tile_w = thumb + kPad, tile_h = thumb + kCaptionLines * kLineHeight + kPad;
  if (rows.size() * tile_h > 16384 || columns * tile_w > 16384) return failed("more than 16384 pixels on a side");
  Canvas canvas{uint32_t(columns * tile_w + kPad), uint32_t(rows.size() * tile_h + kPad), {}};
  canvas.rgb.assign(size_t{canvas.width} * canvas.height * 3, kBackground);
  const uint8_t frame[3] = {90, 160, 255}, white[3] = {235, 235, 235}, grey[3] = {150, 150, 150};
  const uint8_t background[3] = {kBackground, kBackground, kBackground};
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const SheetTile& tile = rows[r][c];
      const uint32_t x = kPad + uint32_t(c) * tile_w, y = kPad + uint32_t(r) * tile_h;
      if (tile.highlight) {
        canvas.fill(x - kPad / 2, y - kPad / 2, thumb + kPad, thumb + kPad, frame);
        canvas.fill(x, y, thumb, thumb, background);
      }
      EDGECLR_RETURN_IF_ERROR(draw_thumbnail(&canvas, x, y, thumb, tile.file));
      draw_text(&canvas, x, y + thumb + 4, fit_text(tile.caption, thumb), white);
      const size_t slash = tile.file.find_last_of('/');
      draw_text(&canvas, x, y + thumb + 4 + kLineHeight,
                fit_text(tile.file.substr(slash == std::string::npos ? 0 : slash + 1), thumb), grey);
    }
  }
  std::vector<uint8_t> png;
  if (!stbi_write_png_to_func(append_png_bytes, &png, int(canvas.width), int(canvas.height), 3, canvas.rgb.data(),
                              int(canvas.width * 3))) {
    return failed("PNG encoding failed");
  }
  return write_file_atomically(path, png.data(), png.size());
}

}  // namespace edgeclr::cli
