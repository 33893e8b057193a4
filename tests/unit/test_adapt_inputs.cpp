// The adaptation feature cache (adapt/adapt_inputs.h) with the real int8 Fashion model:
// images and their seeded views land in the set as the encoder's own features; pairs
// CSVs are read with paths relative to the CSV and refused, naming file and line, when
// malformed.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "adapt/adapt_inputs.h"
#include "support/npy_reader.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

constexpr uint32_t kSide = 28;  // the model's input, 28x28 gray

// The shipped model, an encoder on it and the 16 fixture images (16, 28, 28).
struct Fashion {
  std::unique_ptr<Model> model;
  std::unique_ptr<Encoder> encoder;
  NpyArray images;

  Fashion() {
    const std::string source = EDGECLR_SOURCE_DIR;
    auto m = Model::open_file(source + "/models/fashion/fashion-int8.eclr");
    REQUIRE_MESSAGE(m.ok(), m.status().message());
    model = std::move(m).value();
    auto e = Encoder::create(*model, EncoderOptions{1, 1});
    REQUIRE_MESSAGE(e.ok(), e.status().message());
    encoder = std::move(e).value();
    auto i = read_npy(source + "/tests/fixtures/fashion/images.npy");
    REQUIRE_MESSAGE(i.ok(), i.status().message());
    images = std::move(i).value();
    REQUIRE(images.count() >= 6 * kSide * kSide);
  }

  PixelView image(size_t i) const {
    return PixelView{images.u8() + i * kSide * kSide, kSide, kSide, kSide, PixelFormat::kGray};
  }

  // Fixture image i as a binary PGM in `dir`.
  std::string write_pgm(const TempDir& dir, const std::string& name, size_t i) const {
    const std::string header = "P5\n28 28\n255\n";
    std::vector<uint8_t> bytes(header.begin(), header.end());
    bytes.insert(bytes.end(), images.u8() + i * kSide * kSide, images.u8() + (i + 1) * kSide * kSide);
    return dir.write(name, bytes);
  }

  std::vector<float> feature_of(const PixelView& view) const {
    std::vector<float> f(encoder->feature_dim());
    REQUIRE(encoder->encode(&view, 1, f.data(), nullptr).ok());
    return f;
  }
};

std::vector<float> row_of(const AdaptSet& set, uint32_t row) {
  return std::vector<float>(set.row(row), set.row(row) + set.feature_dim());
}

AdaptInputOptions with_views(uint32_t views, uint64_t seed = 0) {
  AdaptInputOptions o;
  o.views = views;
  o.seed = seed;
  return o;
}

std::string write_text(const TempDir& dir, const std::string& name, const std::string& text) {
  return dir.write(name, std::vector<uint8_t>(text.begin(), text.end()));
}

// add_pairs_csv on `text` in a folder holding a.pgm .. d.pgm; returns the refusal.
Status csv_status(const Fashion& f, const std::string& text, std::string* csv_path = nullptr) {
  TempDir dir;
  for (const char* name : {"a.pgm", "b.pgm", "c.pgm", "d.pgm"}) f.write_pgm(dir, name, name[0] - 'a');
  const std::string path = write_text(dir, "pairs.csv", text);
  if (csv_path) *csv_path = path;
  AdaptInputs inputs(f.encoder.get(), AdaptKind::kPairs, with_views(1));
  return add_pairs_csv(path, &inputs);
}

// The refusal names the CSV and, when given, the line, then says why.
void expect_refusal(const Fashion& f, const std::string& text, size_t line, const std::string& why,
                    StatusCode code = StatusCode::kInvalidArgument) {
  std::string path;
  const Status s = csv_status(f, text, &path);
  INFO("csv:\n", text, "\nmessage: ", s.message());
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == code);
  const std::string prefix =
      "failed to read pairs '" + path + "': " + (line ? "line " + std::to_string(line) + ": " : std::string());
  CHECK(s.message().rfind(prefix, 0) == 0);
  CHECK(s.message().find(why, prefix.size()) != std::string::npos);
}

}  // namespace

TEST_CASE("adaptation: add_pairs_csv refuses malformed CSVs, naming the file and the line") {
  const Fashion f;
  expect_refusal(f, "a.pgm,b.pgm\nc.pgm\n", 2, "found 1 field");
  expect_refusal(f, "# header\n\nc.pgm , \n", 3, "an empty field");
  expect_refusal(f, "a.pgm,,b.pgm\n", 1, "an empty field");
  expect_refusal(f, "a.pgm,b.pgm,\n", 1, "an empty field");
  expect_refusal(f, "\"a.pgm\",b.pgm\n", 1, "quoted fields are not supported");
  expect_refusal(f, "a.pgm,b.pgm\nc.pgm,d.pgm\nb.pgm,missing.pgm\n", 3, "missing.pgm");
  expect_refusal(f, "a.pgm,a.pgm\n", 1, "the anchor is its own positive");
  expect_refusal(f, "a.pgm,b.pgm,a.pgm\n", 1, "one image in two roles");
  expect_refusal(f, "a.pgm,b.pgm,b.pgm\n", 1, "one image in two roles");
  expect_refusal(f, "# only\n# comments\n\n   \n", 0, "no pairs");
  expect_refusal(f, "", 0, "no pairs");

  // A CSV that is not there: kIoError.
  const TempDir dir;
  AdaptInputs inputs(f.encoder.get(), AdaptKind::kPairs, with_views(1));
  const std::string missing = dir.path() + "/nothing.csv";
  const Status s = add_pairs_csv(missing, &inputs);
  CHECK(s.code() == StatusCode::kIoError);
  CHECK(s.message() == "failed to read pairs '" + missing + "': cannot open it");
}

TEST_CASE("adaptation: add_pairs_csv reads pairs and negatives, relative to the CSV, each image encoded once") {
  const Fashion f;
  const TempDir dir;
  for (size_t i = 0; i < 4; ++i) f.write_pgm(dir, std::string(1, char('a' + i)) + ".pgm", i);
  const std::string text =
      "# anchor,positive[,negative...]\n"
      "\n"
      "a.pgm, b.pgm\r\n"
      "  c.pgm,d.pgm,a.pgm ,b.pgm\n"
      "   # an indented comment\n"
      "\t\n"
      "b.pgm,c.pgm\n" +
      dir.path() + "/d.pgm,a.pgm";  // an absolute path, and no newline at the end
  const std::string csv = write_text(dir, "pairs.csv", text);
  AdaptInputs inputs(f.encoder.get(), AdaptKind::kPairs, with_views(2));
  const Status s = add_pairs_csv(csv, &inputs);
  REQUIRE_MESSAGE(s.ok(), s.message());

  const AdaptSet& set = inputs.set();
  REQUIRE(set.items().size() == 4);  // a, b, c, d once each
  CHECK(set.rows() == 4 * 3);
  // Items are numbered in order of first appearance: a, b, c, d; each holds its image.
  for (uint32_t i = 0; i < 4; ++i) {
    INFO("item ", i);
    CHECK(row_of(set, set.items()[i].row) == f.feature_of(f.image(i)));
    CHECK(set.items()[i].views == 2);
  }
  REQUIRE(set.pairs().size() == 4);
  const auto expect_pair = [&](size_t p, uint32_t anchor, uint32_t positive, std::vector<uint32_t> negatives) {
    INFO("pair ", p);
    CHECK(set.pairs()[p].anchor == anchor);
    CHECK(set.pairs()[p].positive == positive);
    CHECK(set.pairs()[p].negatives == negatives);
  };
  expect_pair(0, 0, 1, {});
  expect_pair(1, 2, 3, {0, 1});
  expect_pair(2, 1, 2, {});
  expect_pair(3, 3, 0, {});
}

TEST_CASE("adaptation: add_pairs_csv only in a pairs set") {
  const Fashion f;
  const TempDir dir;
  f.write_pgm(dir, "a.pgm", 0);
  f.write_pgm(dir, "b.pgm", 1);
  const std::string csv = write_text(dir, "pairs.csv", "a.pgm,b.pgm\n");
  AdaptInputs groups(f.encoder.get(), AdaptKind::kGroups, with_views(1));
  const Status s = add_pairs_csv(csv, &groups);
  CHECK_FALSE(s.ok());
  CHECK(groups.set().pairs().empty());
}

TEST_CASE("adaptation: AdaptInputs::add_image refuses unusable pixels") {
  const Fashion f;
  AdaptInputs inputs(f.encoder.get(), AdaptKind::kGroups, with_views(2));
  const std::vector<uint8_t> pixels(kSide * kSide * 4, 128);
  const auto refused = [&](const PixelView& view) {
    auto r = inputs.add_image(view, 0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().rfind("failed to add image: ", 0) == 0);
  };
  refused(PixelView{nullptr, kSide, kSide, kSide, PixelFormat::kGray});
  refused(PixelView{pixels.data(), kSide, kSide, kSide - 1, PixelFormat::kGray});
  refused(PixelView{pixels.data(), kSide, kSide, 3 * kSide - 1, PixelFormat::kRGB});
  refused(PixelView{pixels.data(), kSide, kSide, 4 * kSide - 1, PixelFormat::kBGRA});
  refused(PixelView{pixels.data(), 0, kSide, kSide, PixelFormat::kGray});
  refused(PixelView{pixels.data(), kSide, 0, kSide, PixelFormat::kGray});
  refused(PixelView{pixels.data(), kSide, kSide, 4 * kSide, static_cast<PixelFormat>(7)});
  CHECK(inputs.set().items().empty());
  CHECK(inputs.set().rows() == 0);
  // The same buffer with a right stride is taken.
  CHECK(inputs.add_image(PixelView{pixels.data(), kSide, kSide, kSide, PixelFormat::kGray}, 0).ok());
}

TEST_CASE("adaptation: AdaptInputs::add_image stores the image's feature and `views` seeded views") {
  const Fashion f;
  AdaptInputs a(f.encoder.get(), AdaptKind::kGroups, with_views(3, 42));
  AdaptInputs b(f.encoder.get(), AdaptKind::kGroups, with_views(3, 42));
  AdaptInputs other_seed(f.encoder.get(), AdaptKind::kGroups, with_views(3, 43));
  for (AdaptInputs* inputs : {&a, &b, &other_seed}) {
    for (uint32_t i = 0; i < 3; ++i) {
      auto item = inputs->add_image(f.image(i), static_cast<int32_t>(10 + i));
      REQUIRE_MESSAGE(item.ok(), item.status().message());
      CHECK(*item == i);
    }
  }
  const AdaptSet& set = a.set();
  REQUIRE(set.items().size() == 3);
  CHECK(set.rows() == 3 * 4);
  for (uint32_t i = 0; i < 3; ++i) {
    INFO("item ", i);
    const AdaptItem& item = set.items()[i];
    CHECK(item.views == 3);
    CHECK(item.group == static_cast<int32_t>(10 + i));
    CHECK(row_of(set, item.row) == f.feature_of(f.image(i)));
    for (uint32_t v = 0; v < 3; ++v) {
      const std::vector<float> view = row_of(set, item.first_view + v);
      // The same seed gives the same views in another cache.
      CHECK(view == row_of(b.set(), b.set().items()[i].first_view + v));
      // A view is not the image itself, nor another view of it, nor the view of another seed.
      CHECK(view != row_of(set, item.row));
      for (uint32_t w = 0; w < v; ++w) CHECK(view != row_of(set, item.first_view + w));
      CHECK(view != row_of(other_seed.set(), other_seed.set().items()[i].first_view + v));
    }
  }
}

TEST_CASE("adaptation: AdaptInputs: the same image added again is a new item with other views") {
  const Fashion f;
  AdaptInputs inputs(f.encoder.get(), AdaptKind::kUnlabeled, with_views(2, 7));
  REQUIRE(inputs.add_image(f.image(4), 0).ok());
  REQUIRE(inputs.add_image(f.image(4), 0).ok());
  const AdaptSet& set = inputs.set();
  REQUIRE(set.items().size() == 2);
  const AdaptItem &first = set.items()[0], &second = set.items()[1];
  CHECK(row_of(set, first.row) == row_of(set, second.row));
  for (uint32_t v = 0; v < 2; ++v) CHECK(row_of(set, first.first_view + v) != row_of(set, second.first_view + v));
  // Unlabeled items are their own group.
  CHECK(first.group == 0);
  CHECK(second.group == 1);
}

TEST_CASE("adaptation: AdaptInputs converts RGB, RGBA and BGRA pixels to the model's gray") {
  const Fashion f;
  // Colour pixels made from a fixture image, with their BT.601 luma (299 R + 587 G + 114 B,
  // rounded) as the gray image the model should see; R and B differ so a swap shows.
  const PixelView source = f.image(5);
  std::vector<uint8_t> gray, rgb, rgba, bgra;
  for (size_t i = 0; i < size_t{kSide} * kSide; ++i) {
    const uint8_t r = source.data[i], g = static_cast<uint8_t>(255 - r), b = static_cast<uint8_t>((r * 7) % 256);
    gray.push_back(static_cast<uint8_t>((299u * r + 587u * g + 114u * b + 500u) / 1000u));
    rgb.insert(rgb.end(), {r, g, b});
    rgba.insert(rgba.end(), {r, g, b, 17});
    bgra.insert(bgra.end(), {b, g, r, 99});
  }
  AdaptInputs inputs(f.encoder.get(), AdaptKind::kGroups, with_views(1, 3));
  REQUIRE(inputs.add_image(PixelView{gray.data(), kSide, kSide, kSide, PixelFormat::kGray}, 0).ok());
  REQUIRE(inputs.add_image(PixelView{rgb.data(), kSide, kSide, 3 * kSide, PixelFormat::kRGB}, 0).ok());
  REQUIRE(inputs.add_image(PixelView{rgba.data(), kSide, kSide, 4 * kSide, PixelFormat::kRGBA}, 0).ok());
  REQUIRE(inputs.add_image(PixelView{bgra.data(), kSide, kSide, 4 * kSide, PixelFormat::kBGRA}, 0).ok());
  const AdaptSet& set = inputs.set();
  for (uint32_t i = 1; i < 4; ++i) {
    INFO("item ", i);
    CHECK(row_of(set, set.items()[i].row) == row_of(set, set.items()[0].row));
  }
  // Padded rows: the bytes past each row's pixels are not read.
  std::vector<uint8_t> padded;
  for (uint32_t y = 0; y < kSide; ++y) {
    padded.insert(padded.end(), rgb.begin() + y * 3 * kSide, rgb.begin() + (y + 1) * 3 * kSide);
    padded.insert(padded.end(), 5, 255);
  }
  REQUIRE(inputs.add_image(PixelView{padded.data(), kSide, kSide, 3 * kSide + 5, PixelFormat::kRGB}, 0).ok());
  CHECK(row_of(set, set.items()[4].row) == row_of(set, set.items()[0].row));
}

TEST_CASE("adaptation: AdaptInputs::add_file: pairs reuse a path's item, other kinds add it again") {
  const Fashion f;
  const TempDir dir;
  const std::string a = f.write_pgm(dir, "a.pgm", 0);
  AdaptInputs pairs(f.encoder.get(), AdaptKind::kPairs, with_views(1));
  CHECK(*pairs.add_file(a, 0) == 0);
  CHECK(*pairs.add_file(a, 0) == 0);
  CHECK(pairs.set().items().size() == 1);
  AdaptInputs groups(f.encoder.get(), AdaptKind::kGroups, with_views(1));
  CHECK(*groups.add_file(a, 3) == 0);
  CHECK(*groups.add_file(a, 3) == 1);
  auto missing = groups.add_file(dir.path() + "/none.pgm", 3);
  CHECK_FALSE(missing.ok());
  CHECK(groups.set().items().size() == 2);
}

TEST_CASE("adaptation: AdaptInputs::add_pair refuses unknown, repeated or misplaced items") {
  const Fashion f;
  AdaptInputs pairs(f.encoder.get(), AdaptKind::kPairs, with_views(1));
  for (size_t i = 0; i < 3; ++i) REQUIRE(pairs.add_image(f.image(i), 0).ok());
  CHECK(pairs.add_pair(0, 1, {2}).ok());
  CHECK(pairs.add_pair(0, 3, {}).code() == StatusCode::kInvalidArgument);  // no item 3
  CHECK(pairs.add_pair(3, 0, {}).code() == StatusCode::kInvalidArgument);
  CHECK(pairs.add_pair(1, 1, {}).code() == StatusCode::kInvalidArgument);
  CHECK(pairs.add_pair(0, 1, {0}).code() == StatusCode::kInvalidArgument);  // the anchor as negative
  CHECK(pairs.add_pair(0, 1, {5}).code() == StatusCode::kInvalidArgument);
  CHECK(pairs.set().pairs().size() == 1);
  AdaptInputs groups(f.encoder.get(), AdaptKind::kGroups, with_views(1));
  REQUIRE(groups.add_image(f.image(0), 0).ok());
  REQUIRE(groups.add_image(f.image(1), 0).ok());
  CHECK(groups.add_pair(0, 1, {}).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("adaptation: a CSV that fails part way leaves nothing of it behind") {
  const Fashion f;
  TempDir dir;
  for (const char* name : {"a.pgm", "b.pgm", "c.pgm", "d.pgm"}) f.write_pgm(dir, name, name[0] - 'a');
  AdaptInputs inputs(f.encoder.get(), AdaptKind::kPairs, with_views(1));
  REQUIRE(add_pairs_csv(write_text(dir, "good.csv", "a.pgm,b.pgm\n"), &inputs).ok());
  const std::vector<float> features_before(inputs.set().row(0), inputs.set().row(0) + inputs.set().rows() * 256);
  const Status bad = add_pairs_csv(write_text(dir, "bad.csv", "c.pgm,d.pgm\nc.pgm,missing.pgm\n"), &inputs);
  REQUIRE_FALSE(bad.ok());
  CHECK(inputs.set().items().size() == 2);
  CHECK(inputs.set().pairs().size() == 1);
  CHECK(inputs.set().rows() == 4);  // two images, one view each
  CHECK(std::vector<float>(inputs.set().row(0), inputs.set().row(0) + inputs.set().rows() * 256) == features_before);
  // The same CSV fixed: c.pgm is encoded again as a new item, not found as a dropped one.
  REQUIRE(add_pairs_csv(write_text(dir, "fixed.csv", "c.pgm,d.pgm\n"), &inputs).ok());
  CHECK(inputs.set().items().size() == 4);
  CHECK(inputs.set().pairs().back().anchor == 2);
}
