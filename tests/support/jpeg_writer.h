// Real JPEG files for tests, written by libjpeg-turbo's own encoder: baseline or
// progressive, gray, YCbCr (4:4:4 or 4:2:0), CMYK or YCCK, any scan script.
#pragma once

#include <cstdint>
#include <vector>

namespace edgeclr::testing {

enum class JpegColor {
  kGray,   // input 1 channel, stored gray
  kYCbCr,  // input RGB, stored YCbCr
  kCmyk,   // input 4 channels (Adobe-inverted ink: 255 = no ink), stored CMYK
  kYcck,   // input as kCmyk, stored YCCK
};

struct JpegWriteOptions {
  JpegColor color = JpegColor::kYCbCr;
  int quality = 90;
  bool progressive = false;  // libjpeg's default progression (jpeg_simple_progression)
  bool subsample = true;     // 4:2:0 chroma (YCbCr only); false: 4:4:4
  // Successive-approximation refinements of every AC coefficient of every component, in
  // separate scans: 1 + components x 63 x (1 + refinements) scans in all (refinements
  // <= 13). 0: as `progressive` says.
  int ac_refinements = 0;
};

// pixels: height x width x channels (1 for kGray, 3 for kYCbCr, 4 for kCmyk/kYcck).
// Aborts the test program with libjpeg's message if libjpeg refuses (a bug in the test).
std::vector<uint8_t> write_jpeg(const std::vector<uint8_t>& pixels, int width, int height,
                                const JpegWriteOptions& options);

}  // namespace edgeclr::testing
