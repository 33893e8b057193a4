// edgeclr-test-models DIR: writes the sample models to DIR/good/, the corpus of broken
// ones to DIR/bad/, and small images (with broken ones) to DIR/images/, for the CLI
// tests and `make demo`.
#include <cstdio>
#include <string>
#include <sys/stat.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#pragma GCC diagnostic pop

#include "core/atomic_file.h"
#include "support/bad_models.h"
#include "support/sample_models.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

bool write(const std::string& path, const std::vector<uint8_t>& bytes) {
  const Status status = write_file_atomically(path, bytes.data(), bytes.size());
  if (!status.ok()) std::fprintf(stderr, "edgeclr-test-models: %s\n", status.message().c_str());
  return status.ok();
}

// Pictures with structure the encoder can see: a colour gradient, a checkerboard and
// stripes, in PNG, BMP and PPM/PGM.
bool write_images(const std::string& dir) {
  const int w = 40, h = 30;
  std::vector<uint8_t> gradient(w * h * 3), checker(w * h * 3), stripes(w * h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* g = &gradient[(y * w + x) * 3];
      g[0] = static_cast<uint8_t>(x * 6);
      g[1] = static_cast<uint8_t>(y * 8);
      g[2] = 128;
      const uint8_t c = ((x / 5 + y / 5) % 2) ? 230 : 20;
      checker[(y * w + x) * 3] = checker[(y * w + x) * 3 + 1] = checker[(y * w + x) * 3 + 2] = c;
      stripes[y * w + x] = (x / 4) % 2 ? 200 : 40;
    }
  }
  bool ok = stbi_write_png((dir + "/gradient.png").c_str(), w, h, 3, gradient.data(), w * 3) != 0;
  ok = ok && stbi_write_bmp((dir + "/checker.bmp").c_str(), w, h, 3, checker.data()) != 0;
  ok = ok && stbi_write_png((dir + "/stripes.png").c_str(), w, h, 1, stripes.data(), w) != 0;
  // PGM/PPM by hand: stb_image_write has no writer for them.
  std::string pgm = "P5\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  pgm.append(reinterpret_cast<const char*>(stripes.data()), stripes.size());
  ok = ok && write(dir + "/stripes.pgm", std::vector<uint8_t>(pgm.begin(), pgm.end()));
  // Broken files: a PNG cut in half, and text with an image extension.
  std::vector<uint8_t> png;
  stbi_write_png_to_func([](void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(ctx);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  }, &png, w, h, 3, gradient.data(), w * 3);
  png.resize(png.size() / 2);
  ok = ok && write(dir + "/truncated.png", png);
  const std::string text = "this is not an image\n";
  ok = ok && write(dir + "/text.jpg", std::vector<uint8_t>(text.begin(), text.end()));
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: edgeclr-test-models DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  ::mkdir(dir.c_str(), 0755);
  ::mkdir((dir + "/good").c_str(), 0755);
  ::mkdir((dir + "/bad").c_str(), 0755);
  ::mkdir((dir + "/images").c_str(), 0755);
  const auto fp32 = sample_fp32_model();
  bool ok = write(dir + "/good/sample-fp32.eclr", fp32) && write(dir + "/good/sample-int8.eclr", sample_int8_model()) &&
            write(dir + "/good/sample-transformer.eclr", sample_transformer_model());
  std::vector<BadModel> corpus = semantic_bad_models();
  for (auto& bad : truncated_models(fp32)) corpus.push_back(std::move(bad));
  for (auto& bad : byte_flipped_models(fp32, 40)) corpus.push_back(std::move(bad));
  corpus.push_back(BadModel{"empty", {}, ""});
  corpus.push_back(BadModel{"not_a_model", std::vector<uint8_t>(1000, 'x'), ""});
  for (const BadModel& bad : corpus) ok = ok && write(dir + "/bad/" + bad.name + ".eclr", bad.bytes);
  ok = ok && write_images(dir + "/images");
  if (!ok) return 1;
  std::printf("wrote 3 models to %s/good and %zu broken ones to %s/bad\n", dir.c_str(), corpus.size(), dir.c_str());
  return 0;
}
