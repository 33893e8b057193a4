// JPEG files through libjpeg-turbo: header checks before any pixel allocation,
// DCT-domain scaling to the smallest size that still covers what the caller needs,
// baseline / progressive / arithmetic, gray, YCbCr, RGB, CMYK and YCCK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeclr {

// The smallest decoded size a caller can use, in the file's stored orientation (before
// EXIF rotation); 0 in a field means "no need". The decoder picks the smallest scale
// M/8 (M = 1..8) whose output has at least twice that: width >= 2 min_width, height >=
// 2 min_height and min(width, height) >= 2 min_shorter_side, so that the caller's resize
// still shrinks by 2 or more (closer to a resize of the whole image; see
// jpeg_decode.cpp); 1/1 when none does. All zero decodes at full size.
struct JpegScaleTarget {
  uint32_t min_width = 0, min_height = 0, min_shorter_side = 0;
};

// What a JPEG's header says, read without decoding any pixels.
struct JpegHeader {
  uint32_t width = 0, height = 0;  // stored (full-size) pixels
  uint32_t components = 0;         // 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK
  bool progressive = false;
};

// Reads the header of the JPEG in data[0, size). Errors: "<why>" only (the caller adds
// the file name), e.g. "corrupt JPEG (libjpeg: Bogus marker length)".
Status read_jpeg_header(const uint8_t* data, size_t size, JpegHeader* header);

// Decodes data[0, size) to packed rows of `channels` (1 gray, 3 RGB) uint8 values,
// scaled for `target`, in the stored orientation. *width and *height receive the
// decoded size; `pixels` is resized to width x height x channels (its only allocation
// of pixel memory). Refused before any pixel memory is allocated: a header over
// kMaxImagePixels, a zero side. Gray from a colour file is the file's own luma (Y of
// YCbCr, BT.601 weights as JPEG defines them); CMYK and YCCK are converted to RGB as
// R = (255 - C)(255 - K) / 255 ..., with Adobe's inverted CMYK recognised by its APP14
// marker. A file that ends early is refused (libjpeg would fill the rest with gray).
// Errors: "<why>" only. Thread-safe (no shared state).
Status decode_jpeg(const uint8_t* data, size_t size, uint32_t channels, const JpegScaleTarget& target,
                   std::vector<uint8_t>* pixels, uint32_t* width, uint32_t* height);

// As decode_jpeg, reading the file from `file`'s current position to its end, 64 KB at
// a time, so the compressed file is never held whole in memory. A read error shows as
// the file ending early. `file` stays open.
Status decode_jpeg_stream(std::FILE* file, uint32_t channels, const JpegScaleTarget& target,
                          std::vector<uint8_t>* pixels, uint32_t* width, uint32_t* height);

// The scale numerator M (of M/8) decode_jpeg picks for a full-size width x height.
uint32_t jpeg_scale_numerator(uint32_t width, uint32_t height, const JpegScaleTarget& target);

}  // namespace edgeclr
