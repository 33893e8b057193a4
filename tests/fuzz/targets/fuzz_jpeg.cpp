// Fuzz target: the JPEG path alone, both of its entry points: decode_jpeg from memory and
// decode_jpeg_stream from a FILE (64 KB reads), at a scale the input's length and middle
// byte pick (SideParameters), plus the header reader and the scale choice. Both entry
// points must agree on every file.
#include <cstdio>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "image/jpeg_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const edgeclr::fuzz::SideParameters side(data, size);
  const uint32_t channels = side.bit ? 3 : 1;
  edgeclr::JpegScaleTarget target;  // choice 0: full size
  if (side.choice == 1) target.min_width = target.min_height = side.byte;
  if (side.choice == 2) target.min_shorter_side = side.byte / 4u;
  edgeclr::JpegHeader header;
  if (edgeclr::read_jpeg_header(data, size, &header).ok()) {
    (void)edgeclr::jpeg_scale_numerator(header.width, header.height, target);
  }
  std::vector<uint8_t> pixels, streamed;
  uint32_t width = 0, height = 0, stream_width = 0, stream_height = 0;
  const bool decoded = edgeclr::decode_jpeg(data, size, channels, target, &pixels, &width, &height).ok();
  if (decoded && pixels.size() != size_t{width} * height * channels) __builtin_trap();

  const edgeclr::fuzz::MemoryFile file(data, size);
  std::FILE* stream = std::fopen(file.path().c_str(), "rb");
  if (stream == nullptr) return 0;
  const bool stream_decoded =
      edgeclr::decode_jpeg_stream(stream, channels, target, &streamed, &stream_width, &stream_height).ok();
  std::fclose(stream);
  if (decoded != stream_decoded || (decoded && (streamed != pixels || stream_width != width || stream_height != height))) {
    __builtin_trap();  // one file, two answers
  }
  return 0;
}
