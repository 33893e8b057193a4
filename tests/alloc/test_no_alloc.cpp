// Proves that encoding pixels does not touch the heap once the encoder exists, nor
// searching a gallery once its scratch has grown.
//
// This binary replaces malloc and friends (through glibc's __libc_* entry points) and
// operator new, and counts calls while `g_counting` is set. It is its own executable,
// and not built with sanitizers, which replace the allocator themselves.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include "encoder/encoder.h"
#include "gallery/gallery.h"
#include "gallery/gallery_index.h"
#include "support/temp_dir.h"
#include "support/sample_models.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void count() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(size_t size) {
  count();
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  count();
  return __libc_realloc(p, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  count();
  *out = __libc_memalign(alignment, size);
  return *out ? 0 : ENOMEM;
}
void* aligned_alloc(size_t alignment, size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
void* valloc(size_t size) {
  count();
  return __libc_memalign(4096, size);
}
}

void* operator new(size_t size) {
  count();
  if (void* p = __libc_malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t size, std::align_val_t alignment) {
  count();
  if (void* p = __libc_memalign(static_cast<size_t>(alignment), size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

using namespace edgeclr;

TEST_CASE("the allocation counter sees allocations (so a zero below means something)") {
  g_allocations = 0;
  g_counting = true;
  void* p = std::malloc(32);
  auto* q = new int(3);
  g_counting = false;
  std::free(p);
  delete q;
  CHECK(g_allocations.load() == 2);
}

TEST_CASE("encode and encode_tensor allocate nothing once the encoder exists, fp32 and int8, 1 and 2 threads") {
  for (auto bytes : {testing::sample_fp32_model(), testing::sample_int8_model()}) {
    auto model = Model::open_buffer(bytes.data(), bytes.size(), "sample");
    REQUIRE(model.ok());
    for (uint32_t threads : {1u, 2u}) {
      auto encoder = Encoder::create(*model.value(), EncoderOptions{threads, 2});
      REQUIRE(encoder.ok());
      std::vector<uint8_t> pixels(37 * 29 * 4);
      std::mt19937 rng(1);
      for (uint8_t& p : pixels) p = static_cast<uint8_t>(rng());
      const PixelView views[2] = {{pixels.data(), 37, 29, 37 * 4, PixelFormat::kRGBA},
                                  {pixels.data(), 29, 37, 29 * 4, PixelFormat::kBGRA}};
      std::vector<float> features(2 * 8), embeddings(2 * 4);
      const std::vector<float> tensor(2 * 16 * 16 * 3, 0.25f);  // the sample models' input, twice
      REQUIRE(encoder.value()->encode(views, 2, features.data(), embeddings.data()).ok());  // warm-up
      g_allocations = 0;
      g_counting = true;
      for (int i = 0; i < 10; ++i) {
        REQUIRE(encoder.value()->encode(views, 2, features.data(), embeddings.data()).ok());
        REQUIRE(encoder.value()->encode(views, 1, nullptr, embeddings.data()).ok());
        REQUIRE(encoder.value()->encode_tensor(tensor.data(), 2, features.data(), embeddings.data()).ok());
      }
      g_counting = false;
      CHECK_MESSAGE(g_allocations.load() == 0, "threads ", threads);
    }
  }
}

TEST_CASE("gallery search allocates nothing once its scratch has grown: exact, int8, a mask, and by key prefix") {
  std::mt19937 rng(2);
  std::normal_distribution<float> value(0.0f, 1.0f);
  IndexOptions options;
  options.int8 = true;
  GalleryIndex index(64, options);
  std::vector<float> v(64);
  for (int i = 0; i < 500; ++i) {
    for (float& x : v) x = value(rng);
    index.append(v.data());
  }
  std::vector<uint8_t> mask(500);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 2;
  SearchScratch scratch;
  std::vector<SearchHit> hits;
  for (SearchMethod m : {SearchMethod::kExact, SearchMethod::kInt8}) index.search(v.data(), 10, m, nullptr, &scratch, &hits);
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 10; ++i) {
    for (SearchMethod m : {SearchMethod::kExact, SearchMethod::kInt8}) {
      index.search(v.data(), 10, m, nullptr, &scratch, &hits);
      index.search(v.data(), 10, m, mask.data(), &scratch, &hits);
    }
  }
  g_counting = false;
  CHECK(g_allocations.load() == 0);
  CHECK(hits.size() == 10);

  // Through a Gallery: the prefix mask and the matches' keys reuse their buffers too.
  auto bytes = testing::sample_fp32_model();
  auto model = Model::open_buffer(bytes.data(), bytes.size(), "sample");
  REQUIRE(model.ok());
  testing::TempDir dir;
  auto gallery = Gallery::create(dir.path() + "/g.db", *model.value(),
                                 GalleryHead{ProjectionHead::from_schema(model.value()->head(), model.value()->feature_dim()), 0, ""}, "");
  REQUIRE(gallery.ok());
  std::vector<std::string> keys;
  std::vector<float> features;
  for (int i = 0; i < 200; ++i) {
    keys.push_back((i % 2 ? "shoes/item-number-" : "bags/item-number-") + std::to_string(i));  // beyond short-string storage
    for (uint32_t j = 0; j < model.value()->feature_dim(); ++j) features.push_back(value(rng));
  }
  REQUIRE(gallery.value()->add_features(keys, features.data()).ok());
  std::vector<float> query(gallery.value()->embedding_dim(), 0.5f);
  std::vector<GalleryMatch> matches;
  REQUIRE(gallery.value()->search(query.data(), 5, "shoes/", &matches).ok());
  REQUIRE(gallery.value()->search(query.data(), 5, "", &matches).ok());
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 10; ++i) {
    REQUIRE(gallery.value()->search(query.data(), 5, "shoes/", &matches).ok());
    REQUIRE(gallery.value()->search(query.data(), 5, "", &matches).ok());
  }
  g_counting = false;
  CHECK(g_allocations.load() == 0);
  CHECK(matches.size() == 5);
}
