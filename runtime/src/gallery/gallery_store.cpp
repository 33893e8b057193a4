#include "gallery/gallery_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace edgeclr {
namespace {

constexpr int kApplicationId = 0x45434c47;  // "ECLG"
constexpr int kBusyTimeoutMs = 2000;         // wait this long for another connection's write

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// Rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { ok_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK; }
  ~Transaction() {
    if (ok_ && !committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool ok() const { return ok_; }
  bool commit() {
    committed_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    return committed_;
  }

 private:
  sqlite3* db_;
  bool ok_ = false, committed_ = false;
};

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

GalleryStore::~GalleryStore() { sqlite3_close(db_); }

Status GalleryStore::fail(const std::string& what) const {
  return error(StatusCode::kIoError, format("gallery '%s': %s: %s", path_.c_str(), what.c_str(), sqlite3_errmsg(db_)));
}

Status GalleryStore::exec(const char* sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return Status::Ok();
  const std::string why = message ? message : "unknown error";
  sqlite3_free(message);
  return error(StatusCode::kIoError, format("gallery '%s': %s", path_.c_str(), why.c_str()));
}

Result<std::unique_ptr<GalleryStore>> GalleryStore::create(const std::string& path,
                                                           const std::map<std::string, std::string>& meta) {
  if (file_exists(path)) return error(StatusCode::kInvalidArgument, format("gallery '%s' already exists", path.c_str()));
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  std::unique_ptr<GalleryStore> store(new GalleryStore(path, db));
  if (rc != SQLITE_OK) return store->fail("cannot create");
  std::map<std::string, std::string> all = meta;
  all["format"] = "edgeclr-gallery";
  all["schema_version"] = std::to_string(kGallerySchemaVersion);
  // Schema, application_id and meta in one transaction; a failure removes the file, so
  // no half-made gallery is left that open() refuses and create() will not replace.
  const Status made = [&]() -> Status {
    EDGECLR_RETURN_IF_ERROR(store->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    Transaction txn(db);
    if (!txn.ok()) return store->fail("cannot begin a transaction");
    EDGECLR_RETURN_IF_ERROR(store->exec(
        ("PRAGMA application_id=" + std::to_string(kApplicationId) +
         "; CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
         " CREATE TABLE items(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, feature BLOB NOT NULL,"
         " embedding BLOB NOT NULL);").c_str()));
    EDGECLR_RETURN_IF_ERROR(store->write_meta(all));
    if (!txn.commit()) return store->fail("cannot commit");
    return store->read_data_version(&store->data_version_);
  }();
  if (!made.ok()) {
    store.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
    return made;
  }
  store->meta_ = std::move(all);
  return store;
}

Result<std::unique_ptr<GalleryStore>> GalleryStore::open(const std::string& path) {
  if (!file_exists(path)) return error(StatusCode::kIoError, format("gallery '%s': no such file", path.c_str()));
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  std::unique_ptr<GalleryStore> store(new GalleryStore(path, db));
  if (rc != SQLITE_OK) return store->fail("cannot open");
  // Not SQLite at all, or another SQLite file: refused before anything is written.
  Statement id(db, "PRAGMA application_id");
  if (!id.ok() || sqlite3_step(id.get()) != SQLITE_ROW) {
    return error(StatusCode::kInvalidModel, format("gallery '%s': not a gallery (%s)", path.c_str(), sqlite3_errmsg(db)));
  }
  if (sqlite3_column_int(id.get(), 0) != kApplicationId) {
    return error(StatusCode::kInvalidModel, format("gallery '%s': not a gallery (an SQLite file of another application)",
                                                   path.c_str()));
  }
  Statement check(db, "PRAGMA quick_check");
  const int rc_check = check.ok() ? sqlite3_step(check.get()) : SQLITE_ERROR;
  const char* verdict = rc_check == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(check.get(), 0)) : nullptr;
  if (verdict == nullptr || std::strcmp(verdict, "ok") != 0) {
    return error(StatusCode::kInvalidModel, format("gallery '%s': the file is damaged (%s)", path.c_str(),
                                                   verdict ? verdict : sqlite3_errmsg(db)));
  }
  EDGECLR_RETURN_IF_ERROR(store->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  EDGECLR_RETURN_IF_ERROR(store->load_meta());
  EDGECLR_RETURN_IF_ERROR(store->read_data_version(&store->data_version_));
  const auto& m = store->meta_;
  if (!m.count("format") || m.at("format") != "edgeclr-gallery") {
    return error(StatusCode::kInvalidModel, format("gallery '%s': not a gallery (no format in meta)", path.c_str()));
  }
  if (!m.count("schema_version") || m.at("schema_version") != std::to_string(kGallerySchemaVersion)) {
    return error(StatusCode::kUnsupported, format("gallery '%s': schema version %s, this edgeclr reads %d", path.c_str(),
                                                  m.count("schema_version") ? m.at("schema_version").c_str() : "(none)",
                                                  kGallerySchemaVersion));
  }
  return store;
}

Status GalleryStore::read_data_version(int64_t* out) const {
  Statement v(db_, "PRAGMA data_version");
  if (!v.ok() || sqlite3_step(v.get()) != SQLITE_ROW) return fail("cannot read the data version");
  *out = sqlite3_column_int64(v.get(), 0);
  return Status::Ok();
}

// Inside a write transaction: refuses when another connection committed since this one
// last read or wrote, since the in-memory index would no longer match the file.
Status GalleryStore::check_unchanged() const {
  int64_t now = 0;
  EDGECLR_RETURN_IF_ERROR(read_data_version(&now));
  if (now != data_version_) {
    return error(StatusCode::kIoError, format("gallery '%s' was changed by another connection since it was opened; "
                                              "open it again", path_.c_str()));
  }
  return Status::Ok();
}

Status GalleryStore::load_meta() {
  Statement select(db_, "SELECT key, value FROM meta");
  if (!select.ok()) return fail("cannot read meta");
  meta_.clear();
  int rc;
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    const auto* k = reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 0));
    const auto* v = reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 1));
    if (k && v) meta_[k] = v;
  }
  return rc == SQLITE_DONE ? Status::Ok() : fail("cannot read meta");
}

Status GalleryStore::write_meta(const std::map<std::string, std::string>& meta) {
  Statement upsert(db_, "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2");
  if (!upsert.ok()) return fail("cannot write meta");
  for (const auto& [k, v] : meta) {
    sqlite3_reset(upsert.get());
    sqlite3_bind_text(upsert.get(), 1, k.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(upsert.get(), 2, v.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(upsert.get()) != SQLITE_DONE) return fail("cannot write meta '" + k + "'");
  }
  return Status::Ok();
}

Status GalleryStore::count_items(int64_t* count) const {
  Statement select(db_, "SELECT count(*) FROM items");
  if (!select.ok() || sqlite3_step(select.get()) != SQLITE_ROW) return fail("cannot count items");
  *count = sqlite3_column_int64(select.get(), 0);
  return Status::Ok();
}

Status GalleryStore::read_items(const std::function<Status(StoredItem&&)>& each) const {
  return read_rows("SELECT id, key, feature, embedding FROM items ORDER BY id", -1, each);
}

Status GalleryStore::read_item(int64_t id, StoredItem* item) const {
  bool found = false;
  EDGECLR_RETURN_IF_ERROR(read_rows("SELECT id, key, feature, embedding FROM items WHERE id = ?1", id,
                                    [&](StoredItem&& row) {
                                      *item = std::move(row);
                                      found = true;
                                      return Status::Ok();
                                    }));
  if (!found) return error(StatusCode::kInternal, format("gallery '%s': no item %lld", path_.c_str(), static_cast<long long>(id)));
  return Status::Ok();
}

// Rows of `sql` (its parameter 1 bound to `id` when >= 0) to `each`.
Status GalleryStore::read_rows(const char* sql, int64_t id, const std::function<Status(StoredItem&&)>& each) const {
  Statement select(db_, sql);
  if (!select.ok()) return fail("cannot read items");
  if (id >= 0) sqlite3_bind_int64(select.get(), 1, id);
  int rc;
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    StoredItem item;
    item.id = sqlite3_column_int64(select.get(), 0);
    const auto* key = reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 1));
    item.key = key ? key : "";
    const auto* f = static_cast<const uint8_t*>(sqlite3_column_blob(select.get(), 2));
    const int f_bytes = sqlite3_column_bytes(select.get(), 2);
    const auto* e = static_cast<const uint8_t*>(sqlite3_column_blob(select.get(), 3));
    const int e_bytes = sqlite3_column_bytes(select.get(), 3);
    if (f_bytes % 2 || e_bytes % 4 || static_cast<size_t>(f_bytes) > kMaxStoredVectorBytes ||
        static_cast<size_t>(e_bytes) > kMaxStoredVectorBytes) {
      return error(StatusCode::kInvalidModel, format("gallery '%s': item '%s' has a blob of %d or %d bytes (odd, or "
                                                     "over %zu)", path_.c_str(), item.key.c_str(), f_bytes, e_bytes,
                                                     kMaxStoredVectorBytes));
    }
    item.feature.resize(static_cast<size_t>(f_bytes) / 2);
    item.embedding.resize(static_cast<size_t>(e_bytes) / 4);
    if (f) std::memcpy(item.feature.data(), f, static_cast<size_t>(f_bytes));
    if (e) std::memcpy(item.embedding.data(), e, static_cast<size_t>(e_bytes));
    EDGECLR_RETURN_IF_ERROR(each(std::move(item)));
  }
  return rc == SQLITE_DONE ? Status::Ok() : fail("cannot read items");
}

Status GalleryStore::insert(std::vector<StoredItem>* items) {
  Transaction txn(db_);
  if (!txn.ok()) return fail("cannot begin a transaction");
  EDGECLR_RETURN_IF_ERROR(check_unchanged());
  Statement add(db_, "INSERT INTO items(key, feature, embedding) VALUES(?1, ?2, ?3)");
  if (!add.ok()) return fail("cannot add");
  for (StoredItem& item : *items) {
    sqlite3_reset(add.get());
    sqlite3_bind_text(add.get(), 1, item.key.data(), static_cast<int>(item.key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(add.get(), 2, item.feature.data(), static_cast<int>(item.feature.size() * 2), SQLITE_TRANSIENT);
    sqlite3_bind_blob(add.get(), 3, item.embedding.data(), static_cast<int>(item.embedding.size() * 4), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(add.get());
    if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE) {
      return error(StatusCode::kInvalidArgument, format("gallery '%s': the key '%s' is already in the gallery",
                                                        path_.c_str(), item.key.c_str()));
    }
    if (rc != SQLITE_DONE) return fail("cannot add '" + item.key + "'");
    item.id = sqlite3_last_insert_rowid(db_);
  }
  if (!txn.commit()) return fail("cannot commit the added items");
  return read_data_version(&data_version_);
}

Status GalleryStore::erase(const std::vector<int64_t>& ids) {
  Transaction txn(db_);
  if (!txn.ok()) return fail("cannot begin a transaction");
  EDGECLR_RETURN_IF_ERROR(check_unchanged());
  Statement remove(db_, "DELETE FROM items WHERE id = ?1");
  if (!remove.ok()) return fail("cannot remove");
  for (int64_t id : ids) {
    sqlite3_reset(remove.get());
    sqlite3_bind_int64(remove.get(), 1, id);
    if (sqlite3_step(remove.get()) != SQLITE_DONE) return fail("cannot remove");
  }
  if (!txn.commit()) return fail("cannot commit the removal");
  return read_data_version(&data_version_);
}

Status GalleryStore::replace_embeddings(const std::vector<std::pair<int64_t, const float*>>& embeddings, uint32_t dim,
                                        const std::map<std::string, std::string>& meta) {
  Transaction txn(db_);
  if (!txn.ok()) return fail("cannot begin a transaction");
  EDGECLR_RETURN_IF_ERROR(check_unchanged());
  Statement update(db_, "UPDATE items SET embedding = ?2 WHERE id = ?1");
  if (!update.ok()) return fail("cannot re-project");
  for (const auto& [id, values] : embeddings) {
    sqlite3_reset(update.get());
    sqlite3_bind_int64(update.get(), 1, id);
    sqlite3_bind_blob(update.get(), 2, values, static_cast<int>(dim * 4), SQLITE_TRANSIENT);
    if (sqlite3_step(update.get()) != SQLITE_DONE) return fail("cannot re-project");
  }
  EDGECLR_RETURN_IF_ERROR(write_meta(meta));
  if (!txn.commit()) return fail("cannot commit the re-projection");
  for (const auto& [k, v] : meta) meta_[k] = v;
  return read_data_version(&data_version_);
}

}  // namespace edgeclr
