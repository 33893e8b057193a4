// Fuzz target: an image file from memory through decode_image_memory, every format it
// takes (JPEG through libjpeg-turbo with DCT scaling and EXIF orientation; PNG, BMP,
// PGM/PPM through stb_image). The input is the file itself; its length and middle byte
// pick gray or RGB output and a decode target (SideParameters), so the scaled JPEG
// paths are reached too.
#include <cstdint>

#include "fuzz_support.h"
#include "image/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const edgeclr::fuzz::SideParameters side(data, size);
  const uint32_t channels = side.bit ? 3 : 1;
  edgeclr::DecodeTarget target;  // choice 0: full size
  if (side.choice == 1) target.min_width = target.min_height = side.byte;
  if (side.choice == 2) target.min_shorter_side = side.byte;
  auto image = edgeclr::decode_image_memory(data, size, "fuzz", channels, target);
  if (image.ok()) {
    // The decoder's contract, checked where a violation would be an out-of-bounds read later.
    const edgeclr::Image& i = *image;
    if (i.width == 0 || i.height == 0 || i.channels != channels ||
        i.pixels.size() != size_t{i.width} * i.height * i.channels) {
      __builtin_trap();
    }
  }
  return 0;
}
