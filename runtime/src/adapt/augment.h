// On-device augmentations for adaptation: a random resized crop (with a random aspect
// ratio), a horizontal flip, brightness and contrast jitter and a little Gaussian noise,
// the SimCLR family the reference model was trained with (models/fashion/train.py).
// Deterministic for a given Rng state on every platform.
#pragma once

#include <cstdint>

#include "adapt/random.h"
#include "image/image_decode.h"

namespace edgeclr {

struct AugmentOptions {
  float min_area = 0.35f, max_area = 1.0f;         // crop area, fraction of the image
  float min_ratio = 3.0f / 4.0f, max_ratio = 4.0f / 3.0f;  // crop width / height, log-uniform
  bool flip = true;                                 // mirror left-right half the time
  float brightness = 0.25f;                         // added, uniform in +-brightness ([0, 1] units)
  float contrast = 0.4f;                            // about the mean, factor uniform in 1 +- contrast
  float noise = 0.03f;                              // Gaussian, standard deviation ([0, 1] units)
};

// One augmented view of `src` (gray or RGB) as an out_width x out_height image with the
// same channels: the crop is resampled bilinearly (half-pixel centres, edges clamped),
// then jittered, noised and rounded back to uint8. Draws from `rng`.
void augment_image(const Image& src, const AugmentOptions& options, uint32_t out_width, uint32_t out_height, Rng* rng,
                   Image* out);

}  // namespace edgeclr
