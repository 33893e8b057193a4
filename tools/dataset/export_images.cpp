// edgeclr-export-images: writes images of an IDX set as PNG files, one subfolder per
// label, so that `make demo` and users have real picture files to feed the CLI.
//
// usage: edgeclr-export-images IMAGES.idx[.gz] LABELS.idx[.gz] OUT_DIR --first K --count N
//                              [--per-class M] [--invert] [--names NAME0,NAME1,...]
//
// --per-class M keeps only the first M images of each label among those N (a few-shot
// gallery); --invert writes 255 - pixel (a shifted domain for adaptation experiments).
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"  // static: the writers we do not call
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb_image_write.h>
#pragma GCC diagnostic pop

#include "dataset/image_set.h"

// mkdir -p
void make_dirs(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    ::mkdir(path.substr(0, slash).c_str(), 0755);
  }
  ::mkdir(path.c_str(), 0755);
}

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr,
                 "usage: edgeclr-export-images IMAGES LABELS OUT_DIR --first K --count N [--per-class M] [--invert]\n"
                 "                             [--names A,B,...]\n");
    return 2;
  }
  const std::string out = argv[3];
  size_t first = 0, count = 0, per_class = 0;
  bool invert = false;
  std::vector<std::string> names;
  for (int i = 4; i < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--invert") {
      invert = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) break;
    const std::string value = argv[i + 1];
    if (key == "--per-class") per_class = std::strtoul(value.c_str(), nullptr, 10);
    if (key == "--first") first = std::strtoul(value.c_str(), nullptr, 10);
    if (key == "--count") count = std::strtoul(value.c_str(), nullptr, 10);
    if (key == "--names") {
      std::stringstream ss(value);
      for (std::string n; std::getline(ss, n, ',');) names.push_back(n);
    }
  }
  auto set = edgeclr::dataset::ImageSet::open(argv[1], 1, argv[2]);
  if (!set.ok()) {
    std::fprintf(stderr, "edgeclr-export-images: %s\n", set.status().message().c_str());
    return 1;
  }
  make_dirs(out);
  size_t written = 0;
  std::vector<size_t> kept;  // per label
  for (size_t i = first; i < first + count && i < set->size(); ++i) {
    const int32_t label = set->label(i);
    if (label >= 0 && static_cast<size_t>(label) >= kept.size()) kept.resize(label + 1, 0);
    if (per_class > 0 && label >= 0 && kept[label]++ >= per_class) continue;
    const std::string folder = out + "/" + (label < static_cast<int32_t>(names.size()) ? names[label] : std::to_string(label));
    ::mkdir(folder.c_str(), 0755);
    auto image = set->image(i);
    if (!image.ok()) return 1;
    if (invert) {
      for (uint8_t& p : image->pixels) p = static_cast<uint8_t>(255 - p);
    }
    char file[32];
    std::snprintf(file, sizeof(file), "/%05zu.png", i);
    if (!stbi_write_png((folder + file).c_str(), int(image->width), int(image->height), 1, image->pixels.data(),
                        int(image->width))) {
      std::fprintf(stderr, "edgeclr-export-images: cannot write %s%s\n", folder.c_str(), file);
      return 1;
    }
    ++written;
  }
  std::printf("wrote %zu images to %s\n", written, out.c_str());
  return 0;
}
