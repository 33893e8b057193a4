// Proves that encoding pixels does not touch the heap once the encoder exists.
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

TEST_CASE("encode allocates nothing once the encoder exists, for fp32 and int8, 1 and 2 threads") {
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
      REQUIRE(encoder.value()->encode(views, 2, features.data(), embeddings.data()).ok());  // warm-up
      g_allocations = 0;
      g_counting = true;
      for (int i = 0; i < 10; ++i) {
        REQUIRE(encoder.value()->encode(views, 2, features.data(), embeddings.data()).ok());
        REQUIRE(encoder.value()->encode(views, 1, nullptr, embeddings.data()).ok());
      }
      g_counting = false;
      CHECK_MESSAGE(g_allocations.load() == 0, "threads ", threads);
    }
  }
}
