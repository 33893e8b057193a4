// Fuzz target: the EXIF orientation parsers (a JPEG's APP1 segment, and a bare TIFF
// structure), then apply_orientation with whatever they return on a small image, whose
// output must be a permutation of its input.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "image/exif_orientation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint32_t from_jpeg = edgeclr::jpeg_exif_orientation(data, size);
  const uint32_t from_tiff = edgeclr::tiff_exif_orientation(data, size);
  for (const uint32_t orientation : {from_jpeg, from_tiff}) {
    if (orientation < 1 || orientation > 8) __builtin_trap();  // the contract: 1..8, 1 when broken
    constexpr uint32_t kWidth = 5, kHeight = 3, kChannels = 3;
    std::vector<uint8_t> src(kWidth * kHeight * kChannels), dst(src.size());
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i);
    edgeclr::apply_orientation(src.data(), kWidth, kHeight, kChannels, orientation, dst.data());
    std::sort(dst.begin(), dst.end());
    if (dst != src) __builtin_trap();
  }
  return 0;
}
