// C API: galleries. A handle wraps edgeclr::Gallery and the encoder it uses for images.
#include <cstring>
#include <vector>

#include "adapt/head_checkpoint.h"
#include "capi/capi_encoder.h"
#include "capi/capi_guard.h"
#include "edgeclr/edgeclr.h"
#include "gallery/gallery.h"

using edgeclr::capi::guard;
using edgeclr::capi::set_error;

struct edgeclr_gallery {
  edgeclr_encoder* encoder;
  std::unique_ptr<edgeclr::Gallery> impl;
};

namespace {

edgeclr_status check(const edgeclr::Status& status) { return status.ok() ? EDGECLR_OK : set_error(status); }

edgeclr_status null_argument(const char* function) {
  return set_error(EDGECLR_INVALID_ARGUMENT, std::string(function) + ": a required argument is NULL");
}

// Encodes `image` (or the file `path`) to its feature.
edgeclr::Status encode_feature(edgeclr_gallery* g, const edgeclr_image* image, const char* path, float* feature) {
  if (path) return g->encoder->impl->encode_file(path, feature, nullptr);
  int format = 0;  // read as an int: a C caller may pass any value (see capi_encoder.cpp)
  std::memcpy(&format, &image->format, sizeof(format));
  if (format < EDGECLR_PIXEL_GRAY8 || format > EDGECLR_PIXEL_BGRA8) {
    return edgeclr::error(edgeclr::StatusCode::kInvalidArgument, edgeclr::format("unknown pixel format %d", format));
  }
  return g->encoder->impl->encode(reinterpret_cast<const edgeclr::PixelView*>(image), 1, feature, nullptr);
}

edgeclr_status add_encoded(edgeclr_gallery* g, const char* key, const edgeclr_image* image, const char* path) {
  std::vector<float> feature(g->encoder->impl->feature_dim());
  const edgeclr::Status encoded = encode_feature(g, image, path, feature.data());
  if (!encoded.ok()) return set_error(encoded);
  return check(g->impl->add_features({key}, feature.data()));
}

edgeclr_status copy_matches(const std::vector<edgeclr::GalleryMatch>& matches, float* scores, char* keys,
                            size_t key_stride, uint32_t* count) {
  for (size_t i = 0; i < matches.size(); ++i) {
    if (matches[i].key.size() + 1 > key_stride) {
      return set_error(EDGECLR_INVALID_ARGUMENT, edgeclr::format("edgeclr_gallery_search: key '%s' needs %zu bytes, "
                                                                 "key_stride is %zu", matches[i].key.c_str(),
                                                                 matches[i].key.size() + 1, key_stride));
    }
  }
  for (size_t i = 0; i < matches.size(); ++i) {
    scores[i] = matches[i].score;
    std::memcpy(keys + i * key_stride, matches[i].key.c_str(), matches[i].key.size() + 1);
  }
  *count = static_cast<uint32_t>(matches.size());
  return EDGECLR_OK;
}

}  // namespace

extern "C" {

edgeclr_status edgeclr_gallery_open(edgeclr_encoder* encoder, const char* path, int create, uint64_t head_version,
                                    edgeclr_gallery** out) {
  return guard([&] {
    if (out == nullptr) return null_argument("edgeclr_gallery_open");
    *out = nullptr;
    if (encoder == nullptr || path == nullptr) return null_argument("edgeclr_gallery_open");
    const edgeclr::Encoder& e = *encoder->impl;
    edgeclr::GalleryHead head{e.head(), head_version, head_version ? "checkpoint version " + std::to_string(head_version) : ""};
    auto gallery = create ? edgeclr::Gallery::create(path, e.model(), std::move(head), "")
                          : edgeclr::Gallery::open(path, e.model(), std::move(head));
    if (!gallery.ok()) return set_error(gallery.status());
    *out = new edgeclr_gallery{encoder, std::move(gallery).value()};
    return EDGECLR_OK;
  });
}

void edgeclr_gallery_close(edgeclr_gallery* gallery) { delete gallery; }

edgeclr_status edgeclr_gallery_add_image(edgeclr_gallery* gallery, const char* key, const edgeclr_image* image) {
  return guard([&] {
    if (!gallery || !key || !image) return null_argument("edgeclr_gallery_add_image");
    return add_encoded(gallery, key, image, nullptr);
  });
}

edgeclr_status edgeclr_gallery_add_file(edgeclr_gallery* gallery, const char* key, const char* path) {
  return guard([&] {
    if (!gallery || !key || !path) return null_argument("edgeclr_gallery_add_file");
    return add_encoded(gallery, key, nullptr, path);
  });
}

edgeclr_status edgeclr_gallery_add_feature(edgeclr_gallery* gallery, const char* key, const float* feature) {
  return guard([&] {
    if (!gallery || !key || !feature) return null_argument("edgeclr_gallery_add_feature");
    return check(gallery->impl->add_features({key}, feature));
  });
}

edgeclr_status edgeclr_gallery_remove(edgeclr_gallery* gallery, const char* key) {
  return guard([&] {
    if (!gallery || !key) return null_argument("edgeclr_gallery_remove");
    return check(gallery->impl->remove({key}));
  });
}

edgeclr_status edgeclr_gallery_search(const edgeclr_gallery* gallery, const float* embedding, uint32_t k,
                                      const char* prefix, float* scores, char* keys, size_t key_stride,
                                      uint32_t* count) {
  return guard([&] {
    if (!gallery || !embedding || !scores || !keys || !count) return null_argument("edgeclr_gallery_search");
    *count = 0;
    std::vector<edgeclr::GalleryMatch> matches;
    const edgeclr::Status searched = gallery->impl->search(embedding, k, prefix ? prefix : "", &matches);
    if (!searched.ok()) return set_error(searched);
    return copy_matches(matches, scores, keys, key_stride, count);
  });
}

edgeclr_status edgeclr_gallery_search_image(edgeclr_gallery* gallery, const edgeclr_image* image, uint32_t k,
                                            const char* prefix, float* scores, char* keys, size_t key_stride,
                                            uint32_t* count) {
  return guard([&] {
    if (!gallery || !image || !count) return null_argument("edgeclr_gallery_search_image");
    // The encoder gives the feature; the gallery's own head gives the embedding, so the
    // query is in the gallery's space whatever head the encoder has now.
    std::vector<float> feature(gallery->encoder->impl->feature_dim()), embedding;
    const edgeclr::Status encoded = encode_feature(gallery, image, nullptr, feature.data());
    if (!encoded.ok()) return set_error(encoded);
    const edgeclr::Status embedded = gallery->impl->embed_feature(feature.data(), &embedding);
    if (!embedded.ok()) return set_error(embedded);
    return edgeclr_gallery_search(gallery, embedding.data(), k, prefix, scores, keys, key_stride, count);
  });
}

uint64_t edgeclr_gallery_count(const edgeclr_gallery* gallery) { return gallery ? gallery->impl->count() : 0; }

edgeclr_status edgeclr_gallery_key(const edgeclr_gallery* gallery, uint64_t index, char* key, size_t size) {
  return guard([&] {
    if (!gallery || !key) return null_argument("edgeclr_gallery_key");
    std::string k;
    if (!gallery->impl->key(index, &k)) {
      return set_error(EDGECLR_INVALID_ARGUMENT, edgeclr::format("edgeclr_gallery_key: index %llu of %llu items",
                                                                 static_cast<unsigned long long>(index),
                                                                 static_cast<unsigned long long>(gallery->impl->count())));
    }
    if (k.size() + 1 > size) return set_error(EDGECLR_INVALID_ARGUMENT, "edgeclr_gallery_key: buffer too small");
    std::memcpy(key, k.c_str(), k.size() + 1);
    return EDGECLR_OK;
  });
}

edgeclr_status edgeclr_gallery_set_index(edgeclr_gallery* gallery, uint32_t flags, uint32_t threads) {
  return guard([&] {
    if (!gallery) return null_argument("edgeclr_gallery_set_index");
    if (flags & ~uint32_t{EDGECLR_GALLERY_INDEX_INT8 | EDGECLR_GALLERY_INDEX_HNSW}) {
      return set_error(EDGECLR_INVALID_ARGUMENT, edgeclr::format("edgeclr_gallery_set_index: unknown flags 0x%x", flags));
    }
    edgeclr::IndexOptions options;
    options.int8 = flags & EDGECLR_GALLERY_INDEX_INT8;
    options.hnsw = flags & EDGECLR_GALLERY_INDEX_HNSW;
    if (!gallery->impl->set_index(options, threads == 0 ? 1 : threads)) {
      return set_error(EDGECLR_OUT_OF_MEMORY, "edgeclr_gallery_set_index: the HNSW graph could not be built");
    }
    return EDGECLR_OK;
  });
}

edgeclr_status edgeclr_gallery_reproject(edgeclr_gallery* gallery, const char* head_path) {
  return guard([&] {
    if (!gallery || !head_path) return null_argument("edgeclr_gallery_reproject");
    edgeclr::HeadCheckpointInfo info;
    auto head = edgeclr::load_head_checkpoint(head_path, gallery->encoder->impl->model(), &info);
    if (!head.ok()) return set_error(head.status());
    return check(gallery->impl->reproject(edgeclr::GalleryHead{std::move(head).value(), info.version, head_path}));
  });
}

uint32_t edgeclr_gallery_embedding_dim(const edgeclr_gallery* gallery) {
  return gallery ? gallery->impl->embedding_dim() : 0;
}

}  // extern "C"
