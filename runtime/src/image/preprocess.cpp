// Preprocessing: validation, the resize geometry per axis (area average when shrinking,
// bilinear when enlarging), and one templated loop per pixel format and channel count.
#include "image/preprocess.h"

#include <algorithm>
#include <cmath>

#include "model/model_limits.h"
#include "schema/edgeclr_generated.h"

namespace edgeclr {
namespace {

Status invalid(const std::string& why) {
  return error(StatusCode::kInvalidArgument, "failed to preprocess image: " + why);
}

// One axis of the resize. Output index o reads pixel `offset + o` of the source axis
// resized to `resized` pixels (offset is the crop's; 0 when stretching).
struct AxisMap {
  uint64_t source = 0;
  uint64_t resized = 0;
  uint64_t offset = 0;
};

// The source pixels first .. first + count - 1 that one output pixel reads along an axis.
struct Footprint {
  uint32_t first = 0;
  uint32_t count = 0;
  // Shrinking: in units of 1 / resized source pixels, source pixel i spans
  // [i * unit, (i + 1) * unit) and the output pixel [lo, hi), hi - lo = source.
  bool area = false;
  uint64_t lo = 0, hi = 0, unit = 0;
  float inv_source = 0;
  // Enlarging: bilinear weights 1 - frac (first) and frac (first + 1).
  float frac = 0;

  float weight(uint32_t k) const {
    if (!area) return k == 0 ? 1.0f - frac : frac;
    const uint64_t i = first + k;
    const uint64_t begin = std::max(lo, i * unit);
    const uint64_t end = std::min(hi, (i + 1) * unit);
    return static_cast<float>(end - begin) * inv_source;
  }
};

// lo = r * source < resized * source <= source^2 <= kMaxImagePixels^2 < 2^63 when shrinking.
Footprint footprint(const AxisMap& axis, uint32_t o) {
  const uint64_t r = axis.offset + o;
  Footprint f;
  if (axis.resized < axis.source) {
    f.area = true;
    f.unit = axis.resized;
    f.lo = r * axis.source;
    f.hi = f.lo + axis.source;
    f.first = static_cast<uint32_t>(f.lo / f.unit);
    f.count = static_cast<uint32_t>((f.hi + f.unit - 1) / f.unit - f.first);
    f.inv_source = 1.0f / static_cast<float>(axis.source);
    return f;
  }
  // The centre of resized pixel r, (r + 0.5) / resized of the axis, in source pixel indices.
  const double centre = (static_cast<double>(r) + 0.5) * static_cast<double>(axis.source) /
                            static_cast<double>(axis.resized) - 0.5;
  const double clamped = std::min(std::max(centre, 0.0), static_cast<double>(axis.source - 1));
  f.first = static_cast<uint32_t>(clamped);
  f.frac = static_cast<float>(clamped - f.first);
  f.count = f.frac > 0 ? 2 : 1;
  return f;
}

// out = p * scale + bias = (p / 255 - mean) / std, p in [0, 255].
struct Normalisation {
  float scale[3];
  float bias[3];
};

// The source pixel at p in the model's colour, values 0..255.
template <PixelFormat F, uint32_t C>
inline void load_pixel(const uint8_t* p, float* px) {
  if constexpr (F == PixelFormat::kGray) {
    for (uint32_t c = 0; c < C; ++c) px[c] = p[0];
  } else {
    constexpr bool bgr = F == PixelFormat::kBGRA;
    const uint8_t r = p[bgr ? 2 : 0], g = p[1], b = p[bgr ? 0 : 2];
    if constexpr (C == 1) {
      px[0] = luma_bt601(r, g, b);
    } else {
      px[0] = r;
      px[1] = g;
      px[2] = b;
    }
  }
}

// Column weights of one output pixel, computed once for all the rows it reads (a 12 MP
// photo shrunk to 224 reads ~18 x 18 pixels per output pixel; computing each weight per
// pixel read took most of the shrink). Footprints wider than kCachedWeights (shrinking by more
// than ~60x) compute them as they go. Same weights, same order: the same bits either way.
constexpr uint32_t kCachedWeights = 64;

// Weighted sum of the source pixels under rows x cols, 0..255 per channel.
template <PixelFormat F, uint32_t C>
inline void sample(const PixelView& src, const Footprint& rows, const Footprint& cols, float* sum) {
  constexpr size_t kPixelBytes = bytes_per_pixel(F);
  float cached[kCachedWeights];
  const bool use_cache = cols.count <= kCachedWeights;
  for (uint32_t kx = 0; use_cache && kx < cols.count; ++kx) cached[kx] = cols.weight(kx);
  for (uint32_t c = 0; c < C; ++c) sum[c] = 0;
  for (uint32_t ky = 0; ky < rows.count; ++ky) {
    const uint8_t* p = src.data + size_t{rows.first + ky} * src.stride_bytes + size_t{cols.first} * kPixelBytes;
    float row_sum[C] = {};
    for (uint32_t kx = 0; kx < cols.count; ++kx, p += kPixelBytes) {
      float px[C];
      load_pixel<F, C>(p, px);
      const float wx = use_cache ? cached[kx] : cols.weight(kx);
      for (uint32_t c = 0; c < C; ++c) row_sum[c] += wx * px[c];
    }
    const float wy = rows.weight(ky);
    for (uint32_t c = 0; c < C; ++c) sum[c] += wy * row_sum[c];
  }
}

// out: height x width x C floats.
template <PixelFormat F, uint32_t C>
void resample(const PixelView& src, const AxisMap& rows, const AxisMap& cols, uint32_t height, uint32_t width,
              const Normalisation& norm, float* out) {
  for (uint32_t oy = 0; oy < height; ++oy) {
    const Footprint fy = footprint(rows, oy);
    for (uint32_t ox = 0; ox < width; ++ox, out += C) {
      float sum[C];
      sample<F, C>(src, fy, footprint(cols, ox), sum);
      for (uint32_t c = 0; c < C; ++c) out[c] = sum[c] * norm.scale[c] + norm.bias[c];
    }
  }
}

template <PixelFormat F>
void resample_to(uint32_t channels, const PixelView& src, const AxisMap& rows, const AxisMap& cols, uint32_t height,
                 uint32_t width, const Normalisation& norm, float* out) {
  if (channels == 1) {
    resample<F, 1>(src, rows, cols, height, width, norm, out);
  } else {
    resample<F, 3>(src, rows, cols, height, width, norm, out);
  }
}

Status check_view(const PixelView& src) {
  const uint32_t pixel_bytes = bytes_per_pixel(src.format);
  if (pixel_bytes == 0) return invalid(format("unknown pixel format %d", static_cast<int>(src.format)));
  if (src.data == nullptr) return invalid("pixel data is null");
  if (src.width == 0 || src.height == 0) {
    return invalid(format("image is %ux%u pixels, expected at least 1x1", src.width, src.height));
  }
  if (uint64_t{src.width} * src.height > kMaxImagePixels) {
    return invalid(format("image is %ux%u pixels, the limit is %llu", src.width, src.height,
                          static_cast<unsigned long long>(kMaxImagePixels)));
  }
  if (src.stride_bytes < uint64_t{src.width} * pixel_bytes) {
    return invalid(format("stride %zu bytes is below width x bytes per pixel (%u x %u)", src.stride_bytes,
                          src.width, pixel_bytes));
  }
  return Status::Ok();
}

Status check_spec(const PreprocessSpec& spec, Normalisation* norm) {
  if (spec.height == 0 || spec.width == 0 || spec.height > kMaxImageSide || spec.width > kMaxImageSide) {
    return invalid(format("output size %ux%u, expected 1 to %u per side", spec.height, spec.width, kMaxImageSide));
  }
  if (spec.channels != 1 && spec.channels != 3) {
    return invalid(format("%u output channels, expected 1 (gray) or 3 (RGB)", spec.channels));
  }
  const uint32_t crop_side = std::max(spec.height, spec.width);
  if (spec.crop && spec.shorter_side != 0 && (spec.shorter_side < crop_side || spec.shorter_side > kMaxImageSide)) {
    return invalid(format("shorter side %u, expected %u to %u for a %ux%u crop", spec.shorter_side, crop_side,
                          kMaxImageSide, spec.height, spec.width));
  }
  for (uint32_t c = 0; c < spec.channels; ++c) {
    norm->scale[c] = 1.0f / (255.0f * spec.std[c]);
    norm->bias[c] = -spec.mean[c] / spec.std[c];
    if (!(spec.std[c] > 0) || !std::isfinite(norm->scale[c]) || !std::isfinite(norm->bias[c])) {
      return invalid(format("mean[%u] %g, std[%u] %g: expected finite, std > 0", c, spec.mean[c], c, spec.std[c]));
    }
  }
  return Status::Ok();
}

// Per axis: how big the source becomes and which part of it the output shows.
void plan_axes(const PixelView& src, const PreprocessSpec& spec, AxisMap* rows, AxisMap* cols) {
  *rows = AxisMap{src.height, spec.height, 0};
  *cols = AxisMap{src.width, spec.width, 0};
  if (!spec.crop) return;
  if (spec.shorter_side == 0) {
    // Cover height x width at the source's aspect: the axis that needs the larger scale
    // gets its size exactly, the other at least its own (H / h >= W / w <=> H w >= W h).
    // An image already of the output's size stays as it is, whatever its shape.
    if (uint64_t{spec.height} * src.width >= uint64_t{spec.width} * src.height) {
      rows->resized = spec.height;
      cols->resized = uint64_t{spec.height} * src.width / src.height;
    } else {
      cols->resized = spec.width;
      rows->resized = uint64_t{spec.width} * src.height / src.width;
    }
  } else {
    const uint64_t shorter = spec.shorter_side;
    if (src.width <= src.height) {
      cols->resized = shorter;
      rows->resized = shorter * src.height / src.width;
    } else {
      rows->resized = shorter;
      cols->resized = shorter * src.width / src.height;
    }
  }
  rows->offset = (rows->resized - spec.height) / 2;
  cols->offset = (cols->resized - spec.width) / 2;
}

}  // namespace

PreprocessSpec preprocess_spec_from(const schema::InputSpec& in) {
  PreprocessSpec spec;
  spec.height = in.height();
  spec.width = in.width();
  spec.channels = in.channels();
  for (uint32_t c = 0; c < 3; ++c) {
    if (in.mean() != nullptr && c < in.mean()->size()) spec.mean[c] = in.mean()->Get(c);
    if (in.std() != nullptr && c < in.std()->size()) spec.std[c] = in.std()->Get(c);
  }
  spec.crop = in.resize() == schema::ResizePolicy_SHORTER_SIDE_CROP;
  spec.shorter_side = in.resize_shorter_side();
  return spec;
}

DecodeTarget decode_target_for(const PreprocessSpec& spec) {
  // Stretch, and crop without a shorter side (cover height x width), shrink to at least
  // width x height; crop to a shorter side needs that side on both axes.
  return DecodeTarget{spec.width, spec.height, spec.crop ? spec.shorter_side : 0};
}

Status preprocess(const PixelView& src, const PreprocessSpec& spec, float* out) {
  EDGECLR_RETURN_IF_ERROR(check_view(src));
  Normalisation norm{};
  EDGECLR_RETURN_IF_ERROR(check_spec(spec, &norm));
  if (out == nullptr) return invalid("output is null");
  AxisMap rows, cols;
  plan_axes(src, spec, &rows, &cols);
  switch (src.format) {
    case PixelFormat::kGray:
      resample_to<PixelFormat::kGray>(spec.channels, src, rows, cols, spec.height, spec.width, norm, out);
      break;
    case PixelFormat::kRGB:
      resample_to<PixelFormat::kRGB>(spec.channels, src, rows, cols, spec.height, spec.width, norm, out);
      break;
    case PixelFormat::kRGBA:
      resample_to<PixelFormat::kRGBA>(spec.channels, src, rows, cols, spec.height, spec.width, norm, out);
      break;
    case PixelFormat::kBGRA:
      resample_to<PixelFormat::kBGRA>(spec.channels, src, rows, cols, spec.height, spec.width, norm, out);
      break;
  }
  return Status::Ok();
}

}  // namespace edgeclr
