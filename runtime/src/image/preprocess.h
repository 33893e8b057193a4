// Pixels to the backbone's input tensor: colour conversion, resize (stretch, or shorter
// side then centre crop), normalisation, straight from source to output.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "image/image_decode.h"
#include "image/pixel_view.h"

namespace edgeclr {

namespace schema {
struct InputSpec;
}

// What preprocessing needs from a model's input spec.
struct PreprocessSpec {
  uint32_t height = 0, width = 0;     // output size in pixels, each 1..kMaxImageSide
  uint32_t channels = 0;              // 1 gray or 3 RGB
  std::array<float, 3> mean{0, 0, 0};  // per channel, [0, 1] units; the first `channels` used
  std::array<float, 3> std{1, 1, 1};   // per channel, finite, > 0
  bool crop = false;                  // SHORTER_SIDE_CROP when true, else STRETCH
  uint32_t shorter_side = 0;          // crop only; 0: scale to cover height x width
};

// Copies the fields of a (verified) model's input spec.
PreprocessSpec preprocess_spec_from(const schema::InputSpec& spec);

// Floats that preprocess writes: height x width x channels.
inline size_t preprocess_output_floats(const PreprocessSpec& spec) {
  return size_t{spec.height} * spec.width * spec.channels;
}

// The smallest decoded image that preprocess only shrinks to `spec`'s output: a JPEG
// decoded to it (DCT-domain scaling) loses nothing preprocessing would have kept.
DecodeTarget decode_target_for(const PreprocessSpec& spec);

// Writes spec.height x spec.width x spec.channels floats (NHWC, one image) to `out`:
//  1. colour: to gray (luma_bt601, rounded to uint8 per source pixel, as decoding does)
//     or RGB (gray replicated); RGBA/BGRA drop alpha, BGRA is swizzled to RGB;
//  2. resize: STRETCH maps the whole source onto height x width; SHORTER_SIDE_CROP
//     scales the shorter side to shorter_side and the longer one to
//     floor(shorter_side * longer / shorter) (as torchvision's Resize(int)), or, with
//     shorter_side 0, scales the source at its aspect ratio to the smallest size that
//     covers height x width (for a square output the same thing; an image of the output's
//     size is kept as it is), then keeps the centre height x width (an odd margin leaves
//     its extra pixel at the bottom/right).
//     Per axis: shrinking averages the exact source area each output pixel covers
//     (fractional edge pixels weighted); enlarging or keeping the size is bilinear with
//     half-pixel centres (align_corners=false), clamped at the edges;
//  3. normalise: (p / 255 - mean[c]) / std[c].
// No heap allocation on success; thread-safe (reads src, writes out only).
// kInvalidArgument for a null/empty view, a stride below width x bytes per pixel, more
// than kMaxImagePixels pixels, or an unusable spec.
Status preprocess(const PixelView& src, const PreprocessSpec& spec, float* out);

}  // namespace edgeclr
