#include "gallery/gallery.h"

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <mutex>

#include "core/output_path.h"
#include "gallery/half.h"

namespace edgeclr {
namespace {

std::string hex64(uint64_t v) { return format("%016" PRIx64, v); }

// A meta value of only digits (hex digits for base 16), without overflow.
bool parse_u64(const std::map<std::string, std::string>& meta, const char* key, uint64_t* out, int base = 10) {
  const auto it = meta.find(key);
  if (it == meta.end() || it->second.empty() || it->second.size() > 20) return false;
  for (char c : it->second) {
    if (!(base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) : std::isdigit(static_cast<unsigned char>(c)))) {
      return false;
    }
  }
  errno = 0;
  char* end = nullptr;
  *out = std::strtoull(it->second.c_str(), &end, base);
  return *end == '\0' && errno == 0;
}

bool all_finite(const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  return true;
}

std::map<std::string, std::string> head_meta(const GalleryHead& h) {
  return {{"head_version", std::to_string(h.version)},
          {"head_source", h.source},
          {"embedding_dim", std::to_string(h.head.embedding_dim())}};
}

// The head's embeddings of `rows` features (feature_dim floats each), in bulk.
std::vector<float> embed_features(const ProjectionHead& head, const float* features, size_t rows) {
  std::vector<float> out(rows * head.embedding_dim());
  head.forward_bulk(features, rows, out.data());
  return out;
}

}  // namespace

Result<std::unique_ptr<Gallery>> Gallery::create(const std::string& path, const Model& model, GalleryHead head,
                                                 const std::string& model_path) {
  if (head.head.feature_dim() != model.feature_dim()) {
    return error(StatusCode::kInvalidArgument, format("gallery '%s': the head takes %u-d features, the model gives %u",
                                                      path.c_str(), head.head.feature_dim(), model.feature_dim()));
  }
  std::map<std::string, std::string> meta = head_meta(head);
  meta["backbone_hash"] = hex64(model.backbone_hash());
  meta["feature_dim"] = std::to_string(model.feature_dim());
  meta["feature_storage"] = "fp16";
  meta["model"] = model_path;
  EDGECLR_RETURN_IF_ERROR(check_output_path(path));  // "folder does not exist" rather than SQLite's "unable to open"
  auto store = GalleryStore::create(path, meta);
  if (!store.ok()) return store.status();
  std::unique_ptr<Gallery> g(new Gallery(std::move(store).value(), std::move(head), model.feature_dim()));
  g->index_ = GalleryIndex(g->head_.head.embedding_dim());
  return g;
}

Result<std::map<std::string, std::string>> Gallery::read_meta(const std::string& path) {
  auto store = GalleryStore::open(path);
  if (!store.ok()) return store.status();
  return store.value()->meta();
}

Result<std::unique_ptr<Gallery>> Gallery::open(const std::string& path, const Model& model, GalleryHead head) {
  auto store = GalleryStore::open(path);
  if (!store.ok()) return store.status();
  const auto& meta = store.value()->meta();
  uint64_t hash = 0, version = 0, feature_dim = 0, embedding_dim = 0;
  if (!parse_u64(meta, "backbone_hash", &hash, 16) || !parse_u64(meta, "head_version", &version) ||
      !parse_u64(meta, "feature_dim", &feature_dim) || !parse_u64(meta, "embedding_dim", &embedding_dim)) {
    return error(StatusCode::kInvalidModel, format("gallery '%s': its meta is incomplete", path.c_str()));
  }
  if (hash != model.backbone_hash()) {
    return error(StatusCode::kInvalidArgument,
                 format("gallery '%s' belongs to backbone %s, not this model's %s", path.c_str(), hex64(hash).c_str(),
                        hex64(model.backbone_hash()).c_str()));
  }
  if (feature_dim != model.feature_dim() || head.head.feature_dim() != model.feature_dim()) {
    return error(StatusCode::kInvalidModel, format("gallery '%s' holds %" PRIu64 "-d features; the model gives %u",
                                                   path.c_str(), feature_dim, model.feature_dim()));
  }
  if (version != head.version || embedding_dim != head.head.embedding_dim()) {
    return error(StatusCode::kInvalidArgument,
                 format("gallery '%s' follows head version %" PRIu64 " (%s); it was opened with version %" PRIu64
                        ": open it with that head, or reproject it",
                        path.c_str(), version, meta.count("head_source") ? meta.at("head_source").c_str() : "",
                        head.version));
  }
  std::unique_ptr<Gallery> g(new Gallery(std::move(store).value(), std::move(head), static_cast<uint32_t>(feature_dim)));
  EDGECLR_RETURN_IF_ERROR(g->load());
  return g;
}

Status check_gallery_capacity(const std::string& path, uint64_t items, uint64_t adding) {
  if (adding > kMaxGalleryItems || items > kMaxGalleryItems - adding) {
    return error(StatusCode::kInvalidArgument, format("gallery '%s': %llu items and %llu more, the limit is %zu",
                                                      path.c_str(), static_cast<unsigned long long>(items),
                                                      static_cast<unsigned long long>(adding), kMaxGalleryItems));
  }
  return Status::Ok();
}

// Reads every item into the in-memory index, checking sizes and values.
Status Gallery::load() {
  const uint32_t dim = head_.head.embedding_dim();
  index_ = GalleryIndex(dim);
  int64_t stored = 0;
  EDGECLR_RETURN_IF_ERROR(store_->count_items(&stored));
  const Status capacity = check_gallery_capacity(path(), 0, static_cast<uint64_t>(stored));  // before reading any
  if (!capacity.ok()) return error(StatusCode::kInvalidModel, capacity.message());
  return store_->read_items([&](StoredItem&& item) {
    if (item.feature.size() != feature_dim_ || item.embedding.size() != dim) {
      return error(StatusCode::kInvalidModel, format("gallery '%s': item '%s' has %zu feature and %zu embedding values, "
                                                     "expected %u and %u", path().c_str(), item.key.c_str(),
                                                     item.feature.size(), item.embedding.size(), feature_dim_, dim));
    }
    for (uint16_t h : item.feature) {
      if ((h & 0x7c00u) == 0x7c00u) {  // infinity or NaN
        return error(StatusCode::kInvalidModel, format("gallery '%s': item '%s' has a non-finite feature",
                                                       path().c_str(), item.key.c_str()));
      }
    }
    if (item.key.empty() || item.key.size() > kMaxGalleryKeyBytes) {
      return error(StatusCode::kInvalidModel, format("gallery '%s': an item has a key of %zu bytes", path().c_str(),
                                                     item.key.size()));
    }
    for (float v : item.embedding) {
      if (!std::isfinite(v)) {
        return error(StatusCode::kInvalidModel, format("gallery '%s': item '%s' has a non-finite embedding",
                                                       path().c_str(), item.key.c_str()));
      }
    }
    if (ids_.size() >= kMaxGalleryItems || rows_.count(item.key)) {  // more rows than counted: changed meanwhile
      return error(StatusCode::kInvalidModel, format("gallery '%s': too many items, or key '%s' twice", path().c_str(),
                                                     item.key.c_str()));
    }
    rows_[item.key] = ids_.size();
    ids_.push_back(item.id);
    keys_.push_back(std::move(item.key));
    index_.append(item.embedding.data());
    return Status::Ok();
  });
}

Status Gallery::check_keys(const std::vector<std::string>& keys) const {
  std::unordered_map<std::string, int> seen;
  for (const std::string& k : keys) {
    if (k.empty() || k.size() > kMaxGalleryKeyBytes || k.find('\0') != std::string::npos) {
      return error(StatusCode::kInvalidArgument, format("gallery '%s': a key must have 1 to %zu bytes and no NUL",
                                                        path().c_str(), kMaxGalleryKeyBytes));
    }
    if (rows_.count(k)) {
      return error(StatusCode::kInvalidArgument, format("gallery '%s': the key '%s' is already in the gallery",
                                                        path().c_str(), k.c_str()));
    }
    if (seen[k]++) {
      return error(StatusCode::kInvalidArgument, format("gallery '%s': the key '%s' is given twice", path().c_str(),
                                                        k.c_str()));
    }
  }
  return check_gallery_capacity(path(), ids_.size(), keys.size());
}

Status Gallery::add_features(const std::vector<std::string>& keys, const float* features) {
  std::unique_lock<WriterFirstLock> lock(mutex_);
  EDGECLR_RETURN_IF_ERROR(check_keys(keys));
  for (size_t i = 0; i < keys.size() * feature_dim_; ++i) {
    if (!std::isfinite(features[i]) || std::abs(features[i]) > 65504.0f) {
      return error(StatusCode::kInvalidArgument, format("gallery '%s': the feature of '%s' is not finite or beyond "
                                                        "half-float range", path().c_str(), keys[i / feature_dim_].c_str()));
    }
  }
  // The embedding is the head's output for the feature as stored (half floats), so that
  // an item's embedding is always head(stored feature): re-projecting with the same head
  // changes nothing, and items added before and after a re-projection agree.
  std::vector<StoredItem> items(keys.size());
  std::vector<float> stored(keys.size() * feature_dim_);
  for (size_t r = 0; r < keys.size(); ++r) {
    items[r].key = keys[r];
    items[r].feature.resize(feature_dim_);
    for (uint32_t j = 0; j < feature_dim_; ++j) {
      items[r].feature[j] = float_to_half(features[r * feature_dim_ + j]);
      stored[r * feature_dim_ + j] = half_to_float(items[r].feature[j]);
    }
  }
  const std::vector<float> embeddings = embed_features(head_.head, stored.data(), keys.size());
  const uint32_t dim = head_.head.embedding_dim();
  if (!all_finite(embeddings.data(), embeddings.size())) {
    return error(StatusCode::kInvalidArgument, format("gallery '%s': the head gives a non-finite embedding", path().c_str()));
  }
  for (size_t r = 0; r < keys.size(); ++r) {
    items[r].embedding.assign(embeddings.begin() + r * dim, embeddings.begin() + (r + 1) * dim);
  }
  // Every allocation before the commit, so that the index follows the file once it has.
  const size_t n = ids_.size() + items.size();
  index_.reserve(n);
  ids_.reserve(n);
  keys_.reserve(n);
  rows_.reserve(n);
  EDGECLR_RETURN_IF_ERROR(store_->insert(&items));
  for (StoredItem& item : items) {
    rows_[item.key] = ids_.size();
    ids_.push_back(item.id);
    index_.append(item.embedding.data());
    keys_.push_back(std::move(item.key));
  }
  return Status::Ok();
}

Status Gallery::remove(const std::vector<std::string>& keys) {
  std::unique_lock<WriterFirstLock> lock(mutex_);
  std::vector<int64_t> ids;
  for (const std::string& k : keys) {
    const auto it = rows_.find(k);
    if (it == rows_.end()) {
      return error(StatusCode::kInvalidArgument, format("gallery '%s': no item '%s'", path().c_str(), k.c_str()));
    }
    ids.push_back(ids_[it->second]);
  }
  EDGECLR_RETURN_IF_ERROR(store_->erase(ids));
  for (const std::string& k : keys) {  // the last row moves into the removed one's place
    const auto it = rows_.find(k);
    if (it == rows_.end()) continue;  // listed twice
    const size_t row = it->second, last = ids_.size() - 1;
    rows_.erase(it);
    index_.remove_swap(row);
    if (row != last) {
      ids_[row] = ids_[last];
      keys_[row] = std::move(keys_[last]);
      rows_[keys_[row]] = row;
    }
    ids_.pop_back();
    keys_.pop_back();
  }
  return Status::Ok();
}

Status Gallery::reproject(GalleryHead head) {
  std::unique_lock<WriterFirstLock> lock(mutex_);
  if (head.head.feature_dim() != feature_dim_) {
    return error(StatusCode::kInvalidArgument, format("gallery '%s': the head takes %u-d features, the gallery holds %u",
                                                      path().c_str(), head.head.feature_dim(), feature_dim_));
  }
  const uint32_t dim = head.head.embedding_dim();
  std::vector<int64_t> ids;
  std::vector<float> embeddings;
  std::vector<float> pending;  // features read and not yet projected, at most kReprojectChunk
  constexpr size_t kReprojectChunk = 4096;
  auto project_pending = [&] {
    const size_t rows = pending.size() / feature_dim_;
    embeddings.resize(embeddings.size() + rows * dim);
    head.head.forward_bulk(pending.data(), rows, embeddings.data() + embeddings.size() - rows * dim);
    pending.clear();
  };
  EDGECLR_RETURN_IF_ERROR(store_->read_items([&](StoredItem&& item) {
    if (item.feature.size() != feature_dim_) {
      return error(StatusCode::kInvalidModel, format("gallery '%s': item '%s' has a feature of %zu values",
                                                     path().c_str(), item.key.c_str(), item.feature.size()));
    }
    for (uint32_t j = 0; j < feature_dim_; ++j) pending.push_back(half_to_float(item.feature[j]));
    ids.push_back(item.id);
    if (pending.size() == kReprojectChunk * feature_dim_) project_pending();
    return Status::Ok();
  }));
  project_pending();
  if (!all_finite(embeddings.data(), embeddings.size())) {
    return error(StatusCode::kInvalidArgument, format("gallery '%s': the head gives a non-finite embedding", path().c_str()));
  }
  if (ids.size() != ids_.size()) {
    return error(StatusCode::kIoError, format("gallery '%s' was changed by another connection; open it again", path().c_str()));
  }
  // The new index, in row order, built before the commit (the store reads in id order).
  std::unordered_map<int64_t, size_t> by_id;
  for (size_t i = 0; i < ids.size(); ++i) by_id[ids[i]] = i;
  GalleryIndex index(dim, index_.options());
  index.reserve(ids_.size());
  for (int64_t id : ids_) {
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
      return error(StatusCode::kIoError, format("gallery '%s' was changed by another connection; open it again", path().c_str()));
    }
    index.append(embeddings.data() + it->second * dim);
  }
  if (index_.has_hnsw()) index.configure(index_.options());
  std::vector<std::pair<int64_t, const float*>> rows;
  for (size_t i = 0; i < ids.size(); ++i) rows.emplace_back(ids[i], embeddings.data() + i * dim);
  EDGECLR_RETURN_IF_ERROR(store_->replace_embeddings(rows, dim, head_meta(head)));
  index_ = std::move(index);
  head_ = std::move(head);
  return Status::Ok();
}

Status Gallery::search(const float* embedding, size_t k, const std::string& prefix, std::vector<GalleryMatch>* out,
                       SearchMethod method) const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  if (!all_finite(embedding, head_.head.embedding_dim())) {
    return error(StatusCode::kInvalidArgument, format("gallery '%s': the query embedding is not finite", path().c_str()));
  }
  thread_local SearchScratch scratch;
  thread_local std::vector<SearchHit> hits;
  if (!prefix.empty()) {
    scratch.mask.resize(keys_.size());
    for (size_t r = 0; r < keys_.size(); ++r) scratch.mask[r] = keys_[r].compare(0, prefix.size(), prefix) == 0;
  }
  index_.search(embedding, k, method, prefix.empty() ? nullptr : scratch.mask.data(), &scratch, &hits);
  out->resize(hits.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    (*out)[i].key = keys_[hits[i].row];
    (*out)[i].score = hits[i].score;
  }
  return Status::Ok();
}

bool Gallery::set_index(const IndexOptions& options, uint32_t threads) {
  std::unique_lock<WriterFirstLock> lock(mutex_);
  index_.configure(options, threads);
  return index_.has_hnsw() == options.hnsw;
}

Status Gallery::embed_feature(const float* feature, std::vector<float>* embedding) const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  if (!all_finite(feature, feature_dim_)) {
    return error(StatusCode::kInvalidArgument, format("gallery '%s': the feature is not finite", path().c_str()));
  }
  embedding->resize(head_.head.embedding_dim());
  std::vector<float> scratch(head_.head.scratch_floats(1));
  head_.head.forward(feature, 1, embedding->data(), scratch.data());
  return Status::Ok();
}

std::map<std::string, std::string> Gallery::meta() const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  return store_->meta();
}

size_t Gallery::count() const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  return ids_.size();
}

std::vector<std::string> Gallery::keys() const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  return keys_;
}

bool Gallery::key(size_t index, std::string* key) const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  if (index >= keys_.size()) return false;
  *key = keys_[index];
  return true;
}

std::vector<float> Gallery::embeddings() const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  const size_t n = index_.size();
  return n ? std::vector<float>(index_.row(0), index_.row(0) + n * index_.dim()) : std::vector<float>();
}

uint32_t Gallery::embedding_dim() const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  return head_.head.embedding_dim();
}

uint64_t Gallery::head_version() const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  return head_.version;
}

Status Gallery::item(const std::string& key, std::vector<float>* feature, std::vector<float>* embedding) const {
  std::shared_lock<WriterFirstLock> lock(mutex_);
  const auto it = rows_.find(key);
  if (it == rows_.end()) return error(StatusCode::kInvalidArgument, format("gallery '%s': no item '%s'", path().c_str(), key.c_str()));
  StoredItem stored;
  EDGECLR_RETURN_IF_ERROR(store_->read_item(ids_[it->second], &stored));
  if (feature) {
    feature->resize(stored.feature.size());
    for (size_t j = 0; j < stored.feature.size(); ++j) (*feature)[j] = half_to_float(stored.feature[j]);
  }
  if (embedding) *embedding = std::move(stored.embedding);
  return Status::Ok();
}

}  // namespace edgeclr
