// Fuzz target: IDX files (Fashion-MNIST's format, gzip or plain) through read_idx, and
// as an image set (ImageSet::open: count x rows x cols) whose images are then read.
#include <cstdint>
#include <vector>

#include "dataset/image_set.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const edgeclr::fuzz::MemoryFile file(data, size);
  std::vector<uint8_t> values;
  std::vector<uint32_t> dims;
  if (edgeclr::dataset::read_idx(file.path(), &values, &dims).ok()) {
    unsigned __int128 count = 1;  // three 32-bit dimensions cannot overflow 128 bits
    for (uint32_t d : dims) count *= d;
    if (count != values.size()) __builtin_trap();  // the contract the image set relies on
  }
  auto set = edgeclr::dataset::ImageSet::open(file.path(), 3);
  if (set.ok()) {
    const size_t n = set->size();
    for (size_t index : {size_t{0}, n / 2, n - 1}) {
      auto image = set->image(index);
      if (!image.ok() || image->pixels.size() != size_t{image->width} * image->height * 3) __builtin_trap();
    }
  }
  return 0;
}
