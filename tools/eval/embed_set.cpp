#include "eval/embed_set.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace edgeclr::eval {
namespace {

// On a terminal, one line updated in place; otherwise a line at each fifth of the way.
void progress(const char* what, size_t before, size_t done, size_t total) {
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r  %s: %zu/%zu images", what, done, total);
    if (done == total) std::fprintf(stderr, "\n");
  } else if (done * 5 / total != before * 5 / total) {
    std::fprintf(stderr, "  %s: %zu/%zu images\n", what, done, total);
  }
}

}  // namespace

Status embed_set(Encoder& encoder, const dataset::ImageSet& set, size_t limit, bool feature, const char* what,
                 Vectors* out, std::vector<int32_t>* labels) {
  const size_t n = std::min(limit, set.size());
  out->dim = feature ? encoder.feature_dim() : encoder.embedding_dim();
  out->rows = n;
  out->values.assign(n * out->dim, 0.0f);
  labels->resize(n);
  std::vector<Image> images(encoder.batch());
  std::vector<PixelView> views(encoder.batch());
  for (size_t start = 0; start < n; start += encoder.batch()) {
    const auto count = static_cast<uint32_t>(std::min<size_t>(encoder.batch(), n - start));
    for (uint32_t i = 0; i < count; ++i) {
      auto image = set.image(start + i);
      if (!image.ok()) return image.status();
      images[i] = std::move(image).value();
      views[i] = images[i].view();
      (*labels)[start + i] = set.label(start + i);
    }
    float* rows = out->values.data() + start * out->dim;
    EDGECLR_RETURN_IF_ERROR(encoder.encode(views.data(), count, feature ? rows : nullptr, feature ? nullptr : rows));
    progress(what, start, start + count, n);
  }
  normalize_rows(out);
  return Status::Ok();
}

}  // namespace edgeclr::eval
