// An RGB picture the CLI draws into (contact sheets, `edgeclr viz`): filled rectangles,
// text in stb_easy_font's stroke font (doubled), and the PNG it becomes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeclr::cli {

inline constexpr uint32_t kTextScale = 2;                 // stb_easy_font's 1-pixel strokes, doubled
inline constexpr uint32_t kLineHeight = 12 * kTextScale;  // pixels per line of text
inline constexpr uint32_t kCharWidth = 6 * kTextScale;    // about, per character

struct Canvas {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height x width x 3

  Canvas(uint32_t w, uint32_t h, uint8_t grey) : width(w), height(h), rgb(size_t{w} * h * 3, grey) {}
  // Clipped to the canvas.
  void fill(uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, const uint8_t colour[3]);
  void set(uint32_t x, uint32_t y, const uint8_t colour[3]) { fill(x, y, 1, 1, colour); }
};

// `text` (ASCII) with its top-left corner at (x, y).
void draw_text(Canvas* canvas, uint32_t x, uint32_t y, const std::string& text, const uint8_t colour[3]);

// Pixels that draw_text covers horizontally.
uint32_t text_width(const std::string& text);

// Encodes the canvas as PNG and writes it to `path` atomically.
Status write_png(const Canvas& canvas, const std::string& path);

}  // namespace edgeclr::cli
