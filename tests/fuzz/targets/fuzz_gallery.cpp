// Fuzz target: a gallery file (SQLite) from bytes, opened the two ways the tools open
// one (read_meta without a model; open for the sample model and its own head), then
// read the ways an app reads it: count, keys, one item, a search by every index
// (exact, int8, HNSW, a key prefix).
// The file lives in a scratch folder, rewritten for each input; SQLite's -wal and -shm
// files beside it are removed so that nothing carries over from one input to the next.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gallery/gallery.h"
#include "support/sample_models.h"

namespace {

struct Sample {
  std::vector<uint8_t> bytes = edgeclr::testing::sample_fp32_model();
  std::unique_ptr<edgeclr::Model> model = std::move(edgeclr::Model::open_buffer(bytes.data(), bytes.size(), "sample").value());
  std::string dir = make_dir();
  std::string path = dir + "/gallery.db";

  static std::string make_dir() {
    const char* base = std::getenv("TMPDIR");
    static std::string pattern = std::string(base ? base : "/tmp") + "/edgeclr-fuzz-gallery-XXXXXX";
    if (::mkdtemp(&pattern[0]) == nullptr) std::abort();
    std::atexit([] { ::rmdir(pattern.c_str()); });  // emptied by clear() after each input
    return pattern;
  }
  void clear() const {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
  }
};

void use(edgeclr::Gallery& gallery) {
  (void)gallery.count();
  const std::vector<std::string> keys = gallery.keys();
  std::vector<float> feature, embedding;
  if (!keys.empty()) (void)gallery.item(keys.front(), &feature, &embedding);
  std::vector<float> query(gallery.embedding_dim(), 0.5f);
  std::vector<edgeclr::GalleryMatch> matches;
  (void)gallery.search(query.data(), 3, "", &matches, edgeclr::SearchMethod::kExact);
  edgeclr::IndexOptions indexes;
  indexes.int8 = indexes.hnsw = true;
  indexes.hnsw_ef_construction = 16;
  (void)gallery.set_index(indexes);
  for (auto method : {edgeclr::SearchMethod::kInt8, edgeclr::SearchMethod::kHnsw}) {
    (void)gallery.search(query.data(), 3, "", &matches, method);
  }
  (void)gallery.search(query.data(), 2, keys.empty() ? "" : keys.front().substr(0, 1), &matches);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Sample* sample = new Sample;  // never freed: the scratch folder outlives the run
  sample->clear();
  std::FILE* file = std::fopen(sample->path.c_str(), "wb");
  if (file == nullptr || std::fwrite(data, 1, size, file) != size || std::fclose(file) != 0) std::abort();
  (void)edgeclr::Gallery::read_meta(sample->path);
  edgeclr::GalleryHead head{edgeclr::ProjectionHead::from_schema(sample->model->head(), sample->model->feature_dim()), 0,
                            "model"};
  auto gallery = edgeclr::Gallery::open(sample->path, *sample->model, std::move(head));
  if (gallery.ok()) use(**gallery);
  sample->clear();
  return 0;
}
