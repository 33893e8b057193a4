// The persistent side of a gallery: one SQLite file (WAL mode, synchronous FULL).
//
//   meta(key TEXT PRIMARY KEY, value TEXT)   format, schema_version, backbone_hash,
//                                            head_version, head_source, feature_dim,
//                                            embedding_dim, feature_storage, model
//   items(id INTEGER PRIMARY KEY, key TEXT UNIQUE, feature BLOB, embedding BLOB)
//     feature: feature_dim IEEE half floats (little-endian); embedding: embedding_dim
//     floats (little-endian), the head's output as the head wrote it.
//
// Every write is one transaction: a crash or kill at any moment leaves the file as it
// was before or after it (SQLite's guarantee, given a file system that honours fsync).
// The file's application_id marks it as a gallery, so another SQLite file is refused.
//
// One process (one connection) writes a gallery at a time: a write refuses when another
// connection committed since this one opened it (PRAGMA data_version), since the
// Gallery's in-memory index would no longer match. While open the gallery is three
// files (G.db, G.db-wal, G.db-shm); copy it closed.
//
// Thread-safety: the connection is opened serialized (SQLITE_OPEN_FULLMUTEX), so the
// Gallery may read items from several threads under its shared lock and write under its
// exclusive one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

struct sqlite3;

namespace edgeclr {

inline constexpr int kGallerySchemaVersion = 1;
// Largest feature or embedding blob read: 65536 floats (the model format's kMaxHeadDim).
inline constexpr size_t kMaxStoredVectorBytes = size_t{4} << 16;

struct StoredItem {
  int64_t id = 0;
  std::string key;
  std::vector<uint16_t> feature;  // half floats
  std::vector<float> embedding;
};

class GalleryStore {
 public:
  // Creates `path`, which must not exist, with `meta`.
  static Result<std::unique_ptr<GalleryStore>> create(const std::string& path, const std::map<std::string, std::string>& meta);
  // Opens an existing gallery: checks that it is one (application_id, schema version,
  // quick_check) and reads its meta.
  static Result<std::unique_ptr<GalleryStore>> open(const std::string& path);
  ~GalleryStore();

  const std::map<std::string, std::string>& meta() const { return meta_; }
  const std::string& path() const { return path_; }

  // How many items the file holds.
  Status count_items(int64_t* count) const;
  // Every item, in id order, to `each`; stops at the first error `each` returns. A
  // feature or embedding blob over kMaxStoredVectorBytes is refused before it is copied.
  Status read_items(const std::function<Status(StoredItem&&)>& each) const;
  // The item of `id`.
  Status read_item(int64_t id, StoredItem* item) const;
  // Inserts `items` (ids are assigned; written back) in one transaction; a key already
  // present fails the whole batch, naming it.
  Status insert(std::vector<StoredItem>* items);
  // Deletes the items of these ids in one transaction.
  Status erase(const std::vector<int64_t>& ids);
  // Replaces every item's embedding (by id) and updates meta, in one transaction.
  Status replace_embeddings(const std::vector<std::pair<int64_t, const float*>>& embeddings, uint32_t dim,
                            const std::map<std::string, std::string>& meta);

 private:
  GalleryStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Status exec(const char* sql) const;
  Status fail(const std::string& what) const;  // "gallery '<path>': <what>: <sqlite message>"
  Status write_meta(const std::map<std::string, std::string>& meta);
  Status load_meta();
  Status read_data_version(int64_t* out) const;
  Status check_unchanged() const;
  Status read_rows(const char* sql, int64_t id, const std::function<Status(StoredItem&&)>& each) const;

  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<std::string, std::string> meta_;
  int64_t data_version_ = 0;  // PRAGMA data_version after this connection's last read or commit
};

}  // namespace edgeclr
