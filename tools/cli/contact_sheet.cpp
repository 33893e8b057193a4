#include "cli/contact_sheet.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cli/canvas.h"
#include "image/image_decode.h"
#include "image/preprocess.h"

namespace edgeclr::cli {
namespace {

constexpr uint32_t kPad = 8;  // pixels between tiles and around the sheet
constexpr uint32_t kCaptionLines = 2;
constexpr uint8_t kBackground = 40;

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
  Canvas canvas(uint32_t(columns * tile_w + kPad), uint32_t(rows.size() * tile_h + kPad), kBackground);
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
  return write_png(canvas, path);  // its errors name the file
}

}  // namespace edgeclr::cli
