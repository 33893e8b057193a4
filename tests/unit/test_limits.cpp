// Every bound on untrusted input (docs/reliability.md, "Limits"), tested at the limit
// (accepted, or refused later for another reason than size) and one past it (refused by
// the bound, before anything of that size is allocated or read). Sizes past a limit are
// made with sparse files and headers that claim them, so nothing here takes the memory
// it describes.
#include <doctest/doctest.h>

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "adapt/head_checkpoint.h"
#include "adapt/pairs_csv.h"
#include "dataset/image_set.h"
#include "gallery/gallery.h"
#include "image/image_decode.h"
#include "model/model.h"
#include "support/opened_model.h"
#include "support/sample_models.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A file of `size` bytes starting with `head`, the rest a hole (no disk space).
std::string sparse_file(const TempDir& dir, const std::string& name, const Bytes& head, uint64_t size) {
  const std::string path = dir.write(name, head);
  REQUIRE(::truncate(path.c_str(), static_cast<off_t>(size)) == 0);
  return path;
}

// A JPEG's header (quantization table, frame, scan) claiming width x height, with no
// scan data after it.
Bytes jpeg_header(uint16_t width, uint16_t height) {
  return {0xFF, 0xD8,                                                    // SOI
          0xFF, 0xDB, 0x00, 0x43, 0x00, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
          1, 1, 1, 1, 1, 1,                                              // DQT, table 0, all ones
          0xFF, 0xC0, 0x00, 0x0B, 8, uint8_t(height >> 8), uint8_t(height), uint8_t(width >> 8), uint8_t(width),
          1, 1, 0x11, 0,                                                 // SOF0, one component
          0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0};                 // SOS: the header ends here
}

std::string message_of(const Result<Image>& r) { return r.ok() ? "" : r.status().message(); }

}  // namespace

TEST_CASE("limits: decoded pixels, kMaxImagePixels (50,000,000): 10000x5000 decodes, 50,000,001 is refused") {
  REQUIRE(kMaxImagePixels == 50'000'000);  // the figures below are chosen for it
  std::string header = "P5\n10000 5000\n255\n";
  Bytes at_limit = text_bytes(header);
  at_limit.resize(at_limit.size() + kMaxImagePixels, 7);
  auto image = decode_image_memory(at_limit.data(), at_limit.size(), "limit.pgm", 1);
  REQUIRE_MESSAGE(image.ok(), message_of(image));
  CHECK(image->width == 10000);
  CHECK(image->height == 5000);
  CHECK(image->pixels[kMaxImagePixels - 1] == 7);

  // 50,000,001 = 14041 x 3561: header only, refused by the bound before pixel memory.
  const Bytes past = text_bytes("P5\n14041 3561\n255\n");
  CHECK(message_of(decode_image_memory(past.data(), past.size(), "past.pgm", 1)) ==
        "failed to decode image 'past.pgm': 14041x3561 pixels, the limit is 50000000");

  // JPEG (libjpeg-turbo's header): the same two sizes; at the limit it fails only for
  // want of scan data.
  const Bytes jpeg_past = jpeg_header(14041, 3561), jpeg_at = jpeg_header(10000, 5000);
  CHECK(message_of(decode_image_memory(jpeg_past.data(), jpeg_past.size(), "past.jpg", 1)) ==
        "failed to decode image 'past.jpg': 14041x3561 pixels, the limit is 50000000");
  const std::string at_message = message_of(decode_image_memory(jpeg_at.data(), jpeg_at.size(), "at.jpg", 1));
  CHECK(!at_message.empty());
  CHECK(at_message.find("the limit") == std::string::npos);
}

TEST_CASE("limits: image file bytes, kMaxImageFileBytes: a file of exactly the limit is read, one byte more is not") {
  TempDir dir;
  const std::string at = sparse_file(dir, "at.pgm", text_bytes("P5\n1 1\n255\n"), kMaxImageFileBytes);
  auto image = decode_image_file(at, 1);  // 1x1 PGM followed by zeros: stb reads what it needs
  REQUIRE_MESSAGE(image.ok(), message_of(image));
  CHECK(image->pixels.size() == 1);
  const std::string past = sparse_file(dir, "past.pgm", text_bytes("P5\n1 1\n255\n"), kMaxImageFileBytes + 1);
  CHECK(message_of(decode_image_file(past, 1)).find("file has 268435457 bytes, the limit is 268435456") !=
        std::string::npos);
}

TEST_CASE("limits: model file bytes, kMaxModelBytes (1 GiB): the limit is mapped and verified, one byte more is not") {
  TempDir dir;
  const Bytes sample = sample_fp32_model();
  const std::string at = sparse_file(dir, "at.eclr", sample, kMaxModelBytes);
  auto model = Model::open_file(at);
  REQUIRE_FALSE(model.ok());  // a real model followed by a GiB of zeros: verification, not the size, refuses it
  CHECK(model.status().message().find("the limit") == std::string::npos);
  const std::string past = sparse_file(dir, "past.eclr", sample, kMaxModelBytes + 1);
  auto refused = Model::open_file(past);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("1073741825 bytes, the limit is 1073741824") != std::string::npos);
}

TEST_CASE("limits: head checkpoint bytes, kMaxHeadCheckpointBytes (64 MiB)") {
  const OpenedModel m(sample_fp32_model());
  TempDir dir;
  const std::string real = dir.path() + "/real.eclh";
  HeadCheckpointInfo info;
  info.backbone_hash = m.model->backbone_hash();
  REQUIRE(save_head_checkpoint(real, ProjectionHead::from_schema(m.model->head(), m.model->feature_dim()), info).ok());
  REQUIRE(::truncate(real.c_str(), static_cast<off_t>(kMaxHeadCheckpointBytes)) == 0);
  auto at = load_head_checkpoint(real, *m.model, nullptr);
  REQUIRE_FALSE(at.ok());  // read whole, then refused by its checksum, not by its size
  CHECK(at.status().message().find("checksum") != std::string::npos);
  REQUIRE(::truncate(real.c_str(), static_cast<off_t>(kMaxHeadCheckpointBytes) + 1) == 0);
  auto past = load_head_checkpoint(real, *m.model, nullptr);
  REQUIRE_FALSE(past.ok());
  CHECK(past.status().message().find("67108865 bytes, the limit is 67108864") != std::string::npos);
}

TEST_CASE("limits: pairs CSV bytes, pairs, negatives per line, paths and field length") {
  const auto parse = [](const std::string& text) { return parse_pairs_csv(text.data(), text.size(), "p.csv"); };
  const auto why = [&](const std::string& text) {
    auto r = parse(text);
    return r.ok() ? std::string() : r.status().message();
  };

  std::string bytes = "a,b\n#";
  bytes.resize(kMaxPairsCsvBytes, 'x');  // a comment line fills the file up to the limit
  CHECK(parse(bytes).ok());
  CHECK(why(bytes + "x") == "failed to read pairs 'p.csv': 16777217 bytes, the limit is 16777216");

  std::string pairs;
  for (size_t i = 0; i < kMaxPairsCsvPairs; ++i) pairs += "a,b\n";
  auto lines = parse(pairs);
  REQUIRE(lines.ok());
  CHECK(lines->size() == kMaxPairsCsvPairs);
  CHECK(why(pairs + "c,d\n") ==
        format("failed to read pairs 'p.csv': line %zu: more than 200000 pairs", kMaxPairsCsvPairs + 1));

  std::string negatives = "a,b";
  for (size_t i = 0; i < kMaxPairsCsvNegatives; ++i) negatives += ",n" + std::to_string(i);
  auto line = parse(negatives);
  REQUIRE(line.ok());
  CHECK(line->front().paths.size() == 2 + kMaxPairsCsvNegatives);
  CHECK(why(negatives + ",more") == "failed to read pairs 'p.csv': line 1: 1001 negatives, the limit is 1000");

  std::string paths;  // 1,000,000 paths on 1,000 lines of 1,000
  std::string wide = "a";
  for (size_t i = 1; i < 1000; ++i) wide += ",p";
  for (size_t i = 0; i < kMaxPairsCsvPaths / 1000; ++i) paths += wide + "\n";
  REQUIRE(parse(paths).ok());
  CHECK(why(paths + "a,b\n") == "failed to read pairs 'p.csv': line 1001: more than 1000000 paths in the file");

  const std::string field(kMaxPairsCsvFieldBytes, 'f');
  CHECK(parse(field + ",b").ok());
  CHECK(why(field + "f,b") == "failed to read pairs 'p.csv': line 1: a field of 4097 bytes, the limit is 4096");
}

namespace {

// An IDX file of unsigned bytes with these dimensions and `data`, gzip-compressed.
std::string idx_file(const TempDir& dir, const std::string& name, const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes bytes = {0, 0, 8, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) bytes.insert(bytes.end(), {uint8_t(d >> 24), uint8_t(d >> 16), uint8_t(d >> 8), uint8_t(d)});
  bytes.insert(bytes.end(), data.begin(), data.end());
  const std::string path = dir.path() + "/" + name;
  gzFile f = gzopen(path.c_str(), "wb1");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  gzclose(f);
  return path;
}

std::string idx_error(const std::string& path) {
  Bytes data;
  std::vector<uint32_t> dims;
  const Status s = dataset::read_idx(path, &data, &dims);
  return s.ok() ? "" : s.message();
}

}  // namespace

TEST_CASE("limits: IDX data, kMaxIdxBytes (1 GiB) from the header, and images of kMaxImagePixels") {
  TempDir dir;
  // 1024 x 1024 x 1024 = the limit exactly: passes the bound, then refused for the data it lacks.
  CHECK(idx_error(idx_file(dir, "at.idx.gz", {1024, 1024, 1024}, {})) ==
        "failed to read IDX file '" + dir.path() + "/at.idx.gz': header says 1073741824 bytes of data, the file has 0");
  CHECK(idx_error(idx_file(dir, "past.idx.gz", {1024, 1024, 1025}, {})) ==
        "failed to read IDX file '" + dir.path() + "/past.idx.gz': header says more than 1 GiB of data");
  // Products that wrap a 64-bit count must not pass: 2^22 x 2^21 x 2^21 = 2^64.
  CHECK(idx_error(idx_file(dir, "wrap.idx.gz", {1u << 22, 1u << 21, 1u << 21}, {})).find("more than 1 GiB") !=
        std::string::npos);

  // One image of 10000 x 5000 (the pixel limit) opens and reads; 14041 x 3561 does not.
  const std::string at = idx_file(dir, "image-at.idx.gz", {1, 10000, 5000}, Bytes(kMaxImagePixels, 3));
  auto set = dataset::ImageSet::open(at, 1);
  REQUIRE_MESSAGE(set.ok(), set.status().message());
  auto image = set->image(0);
  REQUIRE(image.ok());
  CHECK(image->pixels.size() == kMaxImagePixels);
  const std::string past = idx_file(dir, "image-past.idx.gz", {1, 14041, 3561}, Bytes(kMaxImagePixels + 1, 3));
  auto refused = dataset::ImageSet::open(past, 1);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("images of 14041x3561 pixels, the limit is 50000000") != std::string::npos);
}

TEST_CASE("limits: gallery items (kMaxGalleryItems) and key bytes (kMaxGalleryKeyBytes)") {
  CHECK(check_gallery_capacity("g.db", kMaxGalleryItems - 1, 1).ok());
  CHECK(check_gallery_capacity("g.db", 0, kMaxGalleryItems).ok());
  CHECK(check_gallery_capacity("g.db", kMaxGalleryItems, 1).message() ==
        "gallery 'g.db': 16777216 items and 1 more, the limit is 16777216");
  CHECK_FALSE(check_gallery_capacity("g.db", 0, kMaxGalleryItems + 1).ok());
  CHECK_FALSE(check_gallery_capacity("g.db", 1, SIZE_MAX).ok());  // no wrap-around

  const OpenedModel m(sample_fp32_model());
  TempDir dir;
  auto gallery = Gallery::create(dir.path() + "/g.db", *m.model,
                                 GalleryHead{ProjectionHead::from_schema(m.model->head(), m.model->feature_dim()), 0, ""},
                                 "sample");
  REQUIRE_MESSAGE(gallery.ok(), gallery.status().message());
  const std::vector<float> feature(m.model->feature_dim(), 0.5f);
  CHECK((*gallery)->add_features({std::string(kMaxGalleryKeyBytes, 'k')}, feature.data()).ok());
  const Status past = (*gallery)->add_features({std::string(kMaxGalleryKeyBytes + 1, 'k')}, feature.data());
  CHECK(past.message().find("a key must have 1 to 4096 bytes") != std::string::npos);
  CHECK((*gallery)->count() == 1);
}
