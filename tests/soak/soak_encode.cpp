// Soak: 100,000 images through one encoder of the reference model (int8), as a camera
// app or a gallery import would send them: JPEGs decoded from memory (baseline and
// progressive, three sizes, so the DCT scaling and the resize vary) and raw pixels of
// changing sizes. The process's resident memory (RSS) after a warm-up must not grow
// by the end: a leak of 6 bytes per image would show. Prints the figures.
//
// usage: edgeclr_soak_encode MODEL [IMAGES]   (IMAGES default 100000)
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "encoder/encoder.h"
#include "image/image_decode.h"
#include "support/jpeg_writer.h"

using namespace edgeclr;

namespace {

// Resident set size in KiB, from /proc/self/statm (pages).
long rss_kib() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr || std::fscanf(f, "%ld %ld", &pages, &resident) != 2) std::abort();
  std::fclose(f);
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

std::vector<uint8_t> noise(size_t n, std::mt19937* rng) {
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>((*rng)());
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: edgeclr_soak_encode MODEL [IMAGES]\n");
    return 2;
  }
  const long images = argc > 2 ? std::atol(argv[2]) : 100000;
  auto model = Model::open_file(argv[1]);
  if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().message().c_str()), 1;
  auto encoder = Encoder::create(**model, EncoderOptions{});
  if (!encoder.ok()) return std::fprintf(stderr, "%s\n", encoder.status().message().c_str()), 1;

  std::mt19937 rng(1);
  std::vector<std::vector<uint8_t>> jpegs;
  for (const int side : {28, 97, 320}) {
    for (const bool progressive : {false, true}) {
      testing::JpegWriteOptions options;
      options.progressive = progressive;
      const int height = side * 3 / 4;
      jpegs.push_back(testing::write_jpeg(noise(size_t(side) * height * 3, &rng), side, height, options));
    }
  }
  const std::vector<uint8_t> pixels = noise(size_t{300} * 200 * 3, &rng);
  std::vector<float> feature((*encoder)->feature_dim()), embedding((*encoder)->embedding_dim());

  const long warm_up = images / 20;
  long rss_warm = 0, failures = 0;
  for (long i = 0; i < images; ++i) {
    if (i == warm_up) rss_warm = rss_kib();
    Status status;
    if (i % 3 == 2) {  // raw pixels, 1..300 wide and 1..200 high
      const uint32_t w = 1 + static_cast<uint32_t>(i % 300), h = 1 + static_cast<uint32_t>((i / 7) % 200);
      const PixelView view{pixels.data(), w, h, size_t{300} * 3, PixelFormat::kRGB};
      status = (*encoder)->encode(&view, 1, feature.data(), embedding.data());
    } else {
      const std::vector<uint8_t>& jpeg = jpegs[static_cast<size_t>(i) % jpegs.size()];
      auto image = decode_image_memory(jpeg.data(), jpeg.size(), "soak.jpg", 1, (*encoder)->decode_target());
      if (!image.ok()) {
        status = image.status();
      } else {
        const PixelView view = image->view();
        status = (*encoder)->encode(&view, 1, feature.data(), embedding.data());
      }
    }
    if (!status.ok() && failures++ == 0) std::fprintf(stderr, "image %ld: %s\n", i, status.message().c_str());
  }
  const long rss_end = rss_kib(), growth = rss_end - rss_warm;
  constexpr long kAllowedGrowthKib = 512;  // allocator slack; a leak of 6 bytes per image exceeds it
  std::printf("soak: %ld images, RSS after %ld: %ld KiB, at the end: %ld KiB, growth %ld KiB (allowed %ld); %ld failed\n",
              images, warm_up, rss_warm, rss_end, growth, kAllowedGrowthKib, failures);
  return failures == 0 && growth <= kAllowedGrowthKib ? 0 : 1;
}
