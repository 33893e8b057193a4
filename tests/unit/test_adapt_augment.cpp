// Augmented views (adapt/augment.h): reproducible per seed; with every jitter off an exact
// copy (or mirror); crop geometry, brightness and noise checked on images whose pixels
// say where they came from.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "adapt/augment.h"

using namespace edgeclr;

namespace {

// A w x h image with a different value at every pixel and channel, so any move, flip or
// channel swap shows.
Image patterned(uint32_t w, uint32_t h, uint32_t channels) {
  Image image;
  image.width = w;
  image.height = h;
  image.channels = channels;
  image.pixels.resize(size_t{w} * h * channels);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>((i * 37 + i / 7) % 251);
  return image;
}

Image mirrored(const Image& src) {
  Image out = src;
  for (uint32_t y = 0; y < src.height; ++y) {
    for (uint32_t x = 0; x < src.width; ++x) {
      for (uint32_t c = 0; c < src.channels; ++c) {
        out.pixels[(size_t{y} * src.width + x) * src.channels + c] =
            src.pixels[(size_t{y} * src.width + (src.width - 1 - x)) * src.channels + c];
      }
    }
  }
  return out;
}

AugmentOptions no_jitter() {
  AugmentOptions o;
  o.min_area = o.max_area = 1.0f;
  o.min_ratio = o.max_ratio = 1.0f;
  o.flip = false;
  o.brightness = 0.0f;
  o.contrast = 0.0f;
  o.noise = 0.0f;
  return o;
}

Image view_of(const Image& src, const AugmentOptions& o, uint32_t w, uint32_t h, uint64_t seed) {
  Rng rng(seed);
  Image out;
  augment_image(src, o, w, h, &rng, &out);
  return out;
}

}  // namespace

TEST_CASE("adaptation: augment_image: the same seed gives the same view, other seeds other views") {
  const Image src = patterned(23, 17, 3);
  const AugmentOptions defaults;
  const Image a = view_of(src, defaults, 20, 20, 5);
  CHECK(a.pixels == view_of(src, defaults, 20, 20, 5).pixels);

  // A generator carries on: two views drawn one after the other differ from each other,
  // and the pair is the same for the same seed.
  Rng r1(9), r2(9);
  Image v1, v2, w1, w2;
  augment_image(src, defaults, 20, 20, &r1, &v1);
  augment_image(src, defaults, 20, 20, &r1, &v2);
  augment_image(src, defaults, 20, 20, &r2, &w1);
  augment_image(src, defaults, 20, 20, &r2, &w2);
  CHECK(v1.pixels == w1.pixels);
  CHECK(v2.pixels == w2.pixels);
  CHECK(v1.pixels != v2.pixels);

  for (uint64_t seed = 6; seed < 16; ++seed) {
    INFO("seed ", seed);
    CHECK(view_of(src, defaults, 20, 20, seed).pixels != a.pixels);
  }
}

TEST_CASE("adaptation: augment_image: output has the size and channels asked for") {
  for (uint32_t channels : {1u, 3u}) {
    const Image src = patterned(31, 12, channels);
    for (const auto& [w, h] : std::vector<std::pair<uint32_t, uint32_t>>{{7, 9}, {28, 28}, {1, 1}, {64, 5}}) {
      const Image out = view_of(src, AugmentOptions{}, w, h, 3);
      INFO("channels ", channels, ", ", w, "x", h);
      CHECK(out.width == w);
      CHECK(out.height == h);
      CHECK(out.channels == channels);
      CHECK(out.pixels.size() == size_t{w} * h * channels);
    }
  }
}

TEST_CASE("adaptation: augment_image with every jitter off and the same size is an exact copy (gray and RGB)") {
  for (uint32_t channels : {1u, 3u}) {
    const Image src = patterned(19, 11, channels);
    for (uint64_t seed = 0; seed < 5; ++seed) {
      const Image out = view_of(src, no_jitter(), 19, 11, seed);
      INFO("channels ", channels, " seed ", seed);
      CHECK(out.pixels == src.pixels);
    }
  }
}

TEST_CASE("adaptation: augment_image with only the flip on gives the copy or the exact mirror, both") {
  AugmentOptions o = no_jitter();
  o.flip = true;
  for (uint32_t channels : {1u, 3u}) {
    const Image src = patterned(13, 8, channels);
    const Image mirror = mirrored(src);
    REQUIRE(mirror.pixels != src.pixels);
    int same = 0, flipped = 0;
    for (uint64_t seed = 0; seed < 64; ++seed) {
      const Image out = view_of(src, o, 13, 8, seed);
      same += out.pixels == src.pixels;
      flipped += out.pixels == mirror.pixels;
    }
    INFO("channels ", channels, ": ", same, " copies, ", flipped, " mirrors of 64");
    CHECK(same + flipped == 64);
    // Half the time each: 32 expected, binomial sd 4.
    CHECK(same > 16);
    CHECK(flipped > 16);
  }
}

TEST_CASE("adaptation: augment_image crops the asked area with the asked aspect ratio, inside the image") {
  // R = 8 x, G = 8 y: a bilinear sample at source (sx, sy) reads (8 sx, 8 sy), so each
  // output row and column shows where and how large the crop was.
  Image src;
  src.width = src.height = 32;
  src.channels = 3;
  src.pixels.resize(32 * 32 * 3);
  for (uint32_t y = 0; y < 32; ++y) {
    for (uint32_t x = 0; x < 32; ++x) {
      uint8_t* p = &src.pixels[(size_t{y} * 32 + x) * 3];
      p[0] = static_cast<uint8_t>(8 * x);
      p[1] = static_cast<uint8_t>(8 * y);
      p[2] = 100;
    }
  }
  // Area 1/4 at width / height 2: the crop is sqrt(1/2) of the width and sqrt(1/8) of the
  // height; 16 output pixels over it step 32 sqrt(1/2) / 16 = 1.414 source pixels across
  // and 0.707 down, i.e. 11.31 and 5.66 in value.
  AugmentOptions o = no_jitter();
  o.min_area = o.max_area = 0.25f;
  o.min_ratio = o.max_ratio = 2.0f;
  const double step_x = 8 * 32 * std::sqrt(0.5) / 16, step_y = 8 * 32 * std::sqrt(0.125) / 16;
  double lowest_x = 1e9, highest_x = -1e9;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Image out = view_of(src, o, 16, 16, seed);
    const auto at = [&](uint32_t x, uint32_t y, uint32_t c) {
      return double(out.pixels[(size_t{y} * 16 + x) * 3 + c]);
    };
    INFO("seed ", seed);
    // Rounding of the two ends moves the mean step by at most 1 / steps. Down the
    // columns the outer half pixels may be clamped at the edge: rows 1 .. 14 are not.
    CHECK(std::abs((at(15, 3, 0) - at(0, 3, 0)) / 15 - step_x) < 0.1);
    CHECK(std::abs((at(4, 14, 1) - at(4, 1, 1)) / 13 - step_y) < 0.1);
    // R does not change down a column nor G along a row; B stays.
    CHECK(at(5, 0, 0) == at(5, 15, 0));
    CHECK(at(0, 5, 1) == at(15, 5, 1));
    CHECK(at(7, 7, 2) == 100);
    lowest_x = std::min(lowest_x, at(0, 0, 0));
    highest_x = std::max(highest_x, at(0, 0, 0));
  }
  // The crop's left edge moves with the seed over [0, 32 (1 - sqrt(1/2))] = [0, 9.4] pixels.
  CHECK(highest_x - lowest_x > 8 * 4);
  CHECK(lowest_x >= 0);
  CHECK(highest_x <= 8 * 9.4 + 8);
}

TEST_CASE("adaptation: augment_image brightness shifts every pixel by one amount within the range") {
  AugmentOptions o = no_jitter();
  o.brightness = 0.1f;  // +-25.5 levels
  Image src;
  src.width = 6;
  src.height = 5;
  src.channels = 1;
  src.pixels.assign(30, 100);
  src.pixels[7] = 140;
  double lowest = 1e9, highest = -1e9;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const Image out = view_of(src, o, 6, 5, seed);
    const int shift = int(out.pixels[0]) - 100;
    INFO("seed ", seed);
    CHECK(std::abs(shift) <= 26);
    CHECK(int(out.pixels[7]) - 140 == shift);
    CHECK(int(out.pixels[29]) - 100 == shift);
    lowest = std::min<double>(lowest, shift);
    highest = std::max<double>(highest, shift);
  }
  CHECK(lowest < -10);
  CHECK(highest > 10);
}

TEST_CASE("adaptation: augment_image contrast scales each channel about its own mean") {
  // Two levels per channel: contrast c moves each level v to m + c (v - m), m the channel's
  // mean, so the two levels stay symmetric about m and their gap scales by c in [0.6, 1.4].
  AugmentOptions o = no_jitter();
  o.contrast = 0.4f;
  const int low_level[3] = {80, 20, 200}, high_level[3] = {160, 60, 240};  // means 120, 40, 220
  Image src;
  src.width = 8;
  src.height = 2;
  src.channels = 3;
  src.pixels.resize(8 * 2 * 3);
  for (size_t p = 0; p < 16; ++p) {
    for (int c = 0; c < 3; ++c) src.pixels[p * 3 + c] = static_cast<uint8_t>(p < 8 ? low_level[c] : high_level[c]);
  }
  double smallest = 1e9, largest = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const Image out = view_of(src, o, 8, 2, seed);
    for (int c = 0; c < 3; ++c) {
      const int low = out.pixels[c], high = out.pixels[15 * 3 + c];
      const int gap = high_level[c] - low_level[c];
      INFO("seed ", seed, " channel ", c, ": ", low, " ", high);
      CHECK(std::abs((low + high) - (low_level[c] + high_level[c])) <= 1);
      CHECK(high - low >= 0.6 * gap - 1);
      CHECK(high - low <= 1.4 * gap + 1);
      if (c == 0) {
        smallest = std::min<double>(smallest, high - low);
        largest = std::max<double>(largest, high - low);
      }
    }
  }
  CHECK(smallest < 70);
  CHECK(largest > 90);
}

TEST_CASE("adaptation: augment_image samples pixel centres: halving the size averages 2x2 blocks") {
  // Output pixel (x, y) of a full-area crop at half size covers source pixels 2x, 2x + 1
  // and 2y, 2y + 1; its centre lies between them, where bilinear sampling is their mean.
  for (uint32_t channels : {1u, 3u}) {
    const Image src = patterned(10, 6, channels);
    const Image out = view_of(src, no_jitter(), 5, 3, 1);
    for (uint32_t y = 0; y < 3; ++y) {
      for (uint32_t x = 0; x < 5; ++x) {
        for (uint32_t c = 0; c < channels; ++c) {
          double mean = 0;
          for (uint32_t dy = 0; dy < 2; ++dy) {
            for (uint32_t dx = 0; dx < 2; ++dx) {
              mean += src.pixels[((2 * y + dy) * 10 + 2 * x + dx) * channels + c] / 4.0;
            }
          }
          INFO("channels ", channels, " pixel ", x, ",", y, " channel ", c);
          CHECK(std::abs(out.pixels[(y * 5 + x) * channels + c] - mean) <= 0.5 + 1e-3);  // rounded to a level
        }
      }
    }
  }
}

TEST_CASE("adaptation: augment_image noise has the asked standard deviation") {
  AugmentOptions o = no_jitter();
  o.noise = 0.03f;  // 7.65 levels
  Image src;
  src.width = src.height = 64;
  src.channels = 1;
  src.pixels.assign(64 * 64, 128);
  const Image out = view_of(src, o, 64, 64, 17);
  double sum = 0, sum_sq = 0;
  for (uint8_t p : out.pixels) {
    sum += p - 128.0;
    sum_sq += (p - 128.0) * (p - 128.0);
  }
  const double n = double(out.pixels.size());
  // 4096 samples: sd of the mean 0.12, relative sd of the sd 1.1%; rounding to integers
  // adds 1/12 to the variance.
  CHECK(std::abs(sum / n) < 0.6);
  CHECK(std::abs(std::sqrt(sum_sq / n - 1.0 / 12) - 0.03 * 255) < 0.05 * 0.03 * 255);
}
