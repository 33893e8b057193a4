// A gallery: items under app keys, each with its backbone feature and its embedding,
// stored in SQLite (gallery_store.h) and searched in memory (gallery_index.h).
//
// Bound to a model by its backbone hash and to a head by a version (0: the model's own
// head): a gallery opens only with the same backbone, and with the head it follows, so
// an embedding never silently describes another space. reproject() moves it to a new
// head from the stored features, without running the backbone.
//
// Features are stored as IEEE half floats (2 bytes a value: 512 bytes for a 256-d
// feature, 2.5 KB for MobileNetV2's 1280-d): relative error at most 2^-11 (4.9e-4) per
// value above 6.1e-5 (below, half subnormals: absolute error up to 3e-8); a re-projected embedding keeps a cosine above 0.99999 to the one computed from
// the fp32 features (tests/unit/test_gallery.cpp, on real features). Embeddings are
// stored as fp32.
//
// Thread-safety: one writer and any number of readers at a time, from any threads:
// search(), count(), key() take a shared lock; add, remove and reproject an exclusive one.
// Search results are copied out, so they stay valid after later writes.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "gallery/gallery_index.h"
#include "gallery/gallery_store.h"
#include "head/projection_head.h"
#include "model/model.h"

namespace edgeclr {

inline constexpr size_t kMaxGalleryItems = size_t{1} << 24;  // 16.7M items
inline constexpr size_t kMaxGalleryKeyBytes = 4096;

// Whether a gallery holding `items` may take `adding` more: at most kMaxGalleryItems in
// all, checked before anything is read or allocated for them (adding, and opening a file
// whose item count is over it). Errors: kInvalidArgument, "gallery '<path>': N items and
// K more, the limit is M".
Status check_gallery_capacity(const std::string& path, uint64_t items, uint64_t adding);

// The head a gallery follows: its weights and the version that identifies it (a head
// checkpoint's version; 0 for the model's own head), and where it came from (for humans).
struct GalleryHead {
  ProjectionHead head;
  uint64_t version = 0;
  std::string source;
};

struct GalleryMatch {
  std::string key;
  float score = 0;  // cosine
};

// A reader-writer lock that lets a waiting writer in before new readers (glibc's
// rwlock, behind std::shared_mutex, prefers readers: four busy readers starved the
// writer in the tests). Readers pass through `gate_` briefly; a writer holds it while it
// waits for the readers inside to finish.
class WriterFirstLock {
 public:
  void lock() {
    gate_.lock();
    inner_.lock();
  }
  void unlock() {
    inner_.unlock();
    gate_.unlock();
  }
  void lock_shared() {
    std::lock_guard<std::mutex> pass(gate_);
    inner_.lock_shared();
  }
  void unlock_shared() { inner_.unlock_shared(); }

 private:
  std::mutex gate_;
  std::shared_mutex inner_;
};

class Gallery {
 public:
  // Creates `path` (it must not exist) for `model` and `head`. `model_path` is recorded
  // so that tools can find the model again.
  static Result<std::unique_ptr<Gallery>> create(const std::string& path, const Model& model, GalleryHead head,
                                                 const std::string& model_path);
  // Opens `path`: it must be a gallery of `model`'s backbone that follows `head`'s version.
  static Result<std::unique_ptr<Gallery>> open(const std::string& path, const Model& model, GalleryHead head);

  // The meta of a gallery file, without opening it for a model (info, and to find the
  // model and head it was made with).
  static Result<std::map<std::string, std::string>> read_meta(const std::string& path);

  // Adds items by their backbone features (feature_dim floats each, row-major): the
  // head computes the embeddings from the features as stored (half floats). One transaction: all are added or none. Keys must be
  // new, unique, non-empty and at most kMaxGalleryKeyBytes.
  Status add_features(const std::vector<std::string>& keys, const float* features);
  // Removes the items of `keys` (all must exist) in one transaction.
  Status remove(const std::vector<std::string>& keys);
  // Recomputes every embedding from the stored features with `head` and records it.
  Status reproject(GalleryHead head);

  // The k most similar items to `embedding` (embedding_dim() floats), best first; only
  // keys starting with `prefix` when it is not empty. `method` picks the index (see
  // SearchMethod; kBest: the fastest one kept). Scores are fp32 cosines whatever the
  // method. Each calling thread keeps its own scratch (thread_local), sized to the
  // gallery: once it and `out` have grown, a search allocates nothing (HNSW aside).
  Status search(const float* embedding, size_t k, const std::string& prefix, std::vector<GalleryMatch>* out,
                SearchMethod method = SearchMethod::kBest) const;

  // Keeps the derived indexes `options` asks for (int8 codes, an HNSW graph), built now
  // from the embeddings in memory and kept in step with writes (`threads`: see
  // GalleryIndex::configure).
  // Memory only: nothing in the file changes. Returns false for HNSW if hnswlib failed
  // (the gallery then searches by scanning).
  bool set_index(const IndexOptions& options, uint32_t threads = 1);

  // The embedding of `feature` (feature_dim() floats) in the space the gallery follows:
  // its own head's output, whatever head an encoder has.
  Status embed_feature(const float* feature, std::vector<float>* embedding) const;

  size_t count() const;
  std::vector<std::string> keys() const;  // in row order
  // The key of row `index` (< count()); false past the end.
  bool key(size_t index, std::string* key) const;
  // Every embedding at unit length, as searched (count() x embedding_dim(), row order).
  std::vector<float> embeddings() const;
  // The stored embedding of `key` (embedding_dim() floats, as the head wrote it) and its
  // feature (feature_dim() floats, decoded from half floats), read from the file.
  Status item(const std::string& key, std::vector<float>* feature, std::vector<float>* embedding) const;

  // The file's meta as of the last write (a copy, under the shared lock).
  std::map<std::string, std::string> meta() const;

  uint32_t feature_dim() const { return feature_dim_; }
  uint32_t embedding_dim() const;
  uint64_t head_version() const;
  const std::string& path() const { return store_->path(); }

 private:
  Gallery(std::unique_ptr<GalleryStore> store, GalleryHead head, uint32_t feature_dim)
      : store_(std::move(store)), head_(std::move(head)), feature_dim_(feature_dim) {}
  Status load();
  Status check_keys(const std::vector<std::string>& keys) const;

  mutable WriterFirstLock mutex_;
  std::unique_ptr<GalleryStore> store_;
  GalleryHead head_;
  uint32_t feature_dim_;
  GalleryIndex index_;                        // unit-length embeddings, per row
  std::vector<int64_t> ids_;                  // per row: the item's id in the store
  std::vector<std::string> keys_;             // per row
  std::unordered_map<std::string, size_t> rows_;  // key -> row
};

}  // namespace edgeclr
