// A contact sheet: rows of image thumbnails with a caption under each, written as one
// PNG (stb_image_write), e.g. a query photo followed by its nearest gallery photos and
// their similarities, so a person can see at a glance whether search works.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeclr::cli {

struct SheetTile {
  std::string file;     // an image file edgeclr decodes (JPEG, PNG, BMP, PGM, PPM)
  std::string caption;  // printed under the thumbnail, e.g. "0.873"; ASCII
  bool highlight = false;  // framed: the query of a row
};

// Each tile fitted into thumb x thumb pixels (aspect kept, area-averaged), captions of
// two lines (the caption, then the file name, shortened). `thumb` 32..1024. Written
// atomically; errors name the image or the sheet file.
Status write_contact_sheet(const std::string& path, const std::vector<std::vector<SheetTile>>& rows, uint32_t thumb);

}  // namespace edgeclr::cli
