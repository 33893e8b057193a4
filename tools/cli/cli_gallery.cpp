#include "cli/cli_gallery.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "adapt/head_checkpoint.h"

namespace edgeclr::cli {

std::string absolute_path(const std::string& path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

Result<GalleryHead> gallery_head(const Model& model, const std::optional<std::string>& head_path) {
  GalleryHead g{ProjectionHead::from_schema(model.head(), model.feature_dim()), 0, ""};
  if (!head_path) return g;
  HeadCheckpointInfo info;
  auto head = load_head_checkpoint(*head_path, model, &info);
  if (!head.ok()) return head.status();
  g.head = std::move(head).value();
  g.version = info.version;
  g.source = absolute_path(*head_path);
  return g;
}

bool is_gallery_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[16] = {};
  return in.read(magic, 16) && std::memcmp(magic, "SQLite format 3", 16) == 0;
}

Result<OpenedGallery> open_gallery(const std::string& path, const std::string& model_override, uint32_t threads) {
  auto meta = Gallery::read_meta(path);
  if (!meta.ok()) return meta.status();
  const auto get = [&](const char* key) { return meta->count(key) ? meta->at(key) : std::string(); };
  const std::string model_path = model_override.empty() ? get("model") : model_override;
  if (model_path.empty()) {
    return error(StatusCode::kInvalidArgument, format("gallery '%s' records no model; give --model", path.c_str()));
  }
  const std::string head_source = get("head_source");
  std::optional<std::string> head_path;
  if (get("head_version") != "0") {
    if (!std::ifstream(head_source)) {
      return error(StatusCode::kInvalidArgument,
                   format("gallery '%s' follows head version %s from '%s', which is not a file here", path.c_str(),
                          get("head_version").c_str(), head_source.c_str()));
    }
    head_path = head_source;
  }
  OpenedGallery g;
  auto encoder = open_encoder(model_path, head_path, EncoderOptions{threads, 1});
  if (!encoder.ok()) return encoder.status();
  g.encoder = std::move(encoder).value();
  auto head = gallery_head(*g.encoder.model, head_path);
  if (!head.ok()) return head.status();
  auto gallery = Gallery::open(path, *g.encoder.model, std::move(head).value());
  if (!gallery.ok()) return gallery.status();
  g.gallery = std::move(gallery).value();
  return g;
}

namespace {

void progress(size_t done, size_t total) {
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r  %zu/%zu images", done, total);
    if (done == total) std::fprintf(stderr, "\n");
  } else if (done == total || done % 1000 == 0) {
    std::fprintf(stderr, "  %zu/%zu images\n", done, total);
  }
}

}  // namespace

Status add_files(OpenedGallery& g, const std::vector<std::string>& files, AddReport* report) {
  constexpr size_t kBatch = 64;
  Encoder& encoder = *g.encoder.encoder;
  const uint32_t channels = g.encoder.model->input_spec().channels();
  std::vector<std::string> keys;
  std::vector<float> features, feature(encoder.feature_dim());
  auto flush = [&]() -> Status {
    if (keys.empty()) return Status::Ok();
    EDGECLR_RETURN_IF_ERROR(g.gallery->add_features(keys, features.data()));
    report->added += keys.size();
    keys.clear();
    features.clear();
    return Status::Ok();
  };
  for (size_t i = 0; i < files.size(); ++i) {
    auto image = decode_image_file(files[i], channels, encoder.decode_target());
    if (!image.ok()) {
      report->skipped.emplace_back(files[i], image.status().message());
    } else {
      const PixelView view = image->view();
      const Status encoded = encoder.encode(&view, 1, feature.data(), nullptr);
      if (!encoded.ok()) return encoded;
      keys.push_back(files[i]);
      features.insert(features.end(), feature.begin(), feature.end());
      if (keys.size() == kBatch) EDGECLR_RETURN_IF_ERROR(flush());
    }
    progress(i + 1, files.size());
  }
  return flush();
}

}  // namespace edgeclr::cli
