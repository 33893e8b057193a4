#include "adapt/augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace edgeclr {
namespace {

// Where an output pixel samples the source: source x = offset + scale * output x.
struct Axis {
  float offset;
  float scale;
};

// Crop of `fraction` of `size` pixels centred at `centre` (fraction of size), mapped onto
// `out` pixels with half-pixel centres; `mirror` flips it.
Axis crop_axis(uint32_t size, uint32_t out, float fraction, float centre, bool mirror) {
  const float crop = fraction * size;
  const float start = centre * size - crop / 2;
  const float step = crop / out;
  // Output pixel x covers source [start + x step, start + (x + 1) step); sample its centre
  // in pixel-centre coordinates (hence - 0.5).
  if (!mirror) return Axis{start + step / 2 - 0.5f, step};
  return Axis{start + crop - step / 2 - 0.5f, -step};
}

float sample(const Image& src, float x, float y, uint32_t c) {
  x = std::clamp(x, 0.0f, float(src.width - 1));
  y = std::clamp(y, 0.0f, float(src.height - 1));
  const auto x0 = static_cast<uint32_t>(x), y0 = static_cast<uint32_t>(y);
  const uint32_t x1 = std::min(x0 + 1, src.width - 1), y1 = std::min(y0 + 1, src.height - 1);
  const float fx = x - x0, fy = y - y0;
  const auto at = [&](uint32_t px, uint32_t py) {
    return float(src.pixels[(size_t{py} * src.width + px) * src.channels + c]);
  };
  const float top = at(x0, y0) + fx * (at(x1, y0) - at(x0, y0));
  const float bottom = at(x0, y1) + fx * (at(x1, y1) - at(x0, y1));
  return (top + fy * (bottom - top)) / 255.0f;
}

}  // namespace

void augment_image(const Image& src, const AugmentOptions& o, uint32_t out_width, uint32_t out_height, Rng* rng,
                   Image* out) {
  // The same draws, in the same order, as train.py's augment().
  const float area = rng->uniform(o.min_area, o.max_area);
  const float ratio = std::exp(rng->uniform(std::log(o.min_ratio), std::log(o.max_ratio)));
  const float fw = std::min(std::sqrt(area * ratio), 1.0f);
  const float fh = std::min(std::sqrt(area / ratio), 1.0f);
  const float cx = 0.5f + rng->uniform(-1.0f, 1.0f) * (1.0f - fw) / 2;
  const float cy = 0.5f + rng->uniform(-1.0f, 1.0f) * (1.0f - fh) / 2;
  const bool mirror = o.flip && rng->uniform() < 0.5f;
  const float brightness = rng->uniform(-o.brightness, o.brightness);
  const float contrast = rng->uniform(1.0f - o.contrast, 1.0f + o.contrast);

  const Axis ax = crop_axis(src.width, out_width, fw, cx, mirror);
  const Axis ay = crop_axis(src.height, out_height, fh, cy, false);
  const uint32_t channels = src.channels;
  std::vector<float> values(size_t{out_width} * out_height * channels);
  std::vector<double> mean(channels, 0.0);
  for (uint32_t y = 0; y < out_height; ++y) {
    for (uint32_t x = 0; x < out_width; ++x) {
      for (uint32_t c = 0; c < channels; ++c) {
        const float v = sample(src, ax.offset + ax.scale * x, ay.offset + ay.scale * y, c);
        values[(size_t{y} * out_width + x) * channels + c] = v;
        mean[c] += v;
      }
    }
  }
  for (double& m : mean) m /= double(out_width) * out_height;

  out->width = out_width;
  out->height = out_height;
  out->channels = channels;
  out->pixels.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const float m = static_cast<float>(mean[i % channels]);
    float v = (values[i] - m) * contrast + m + brightness + o.noise * rng->normal();
    v = std::clamp(v, 0.0f, 1.0f);
    out->pixels[i] = static_cast<uint8_t>(std::lround(v * 255.0f));
  }
}

}  // namespace edgeclr
