// edgeclr dedup MODEL DIR: groups of near-duplicate images in a folder.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/cli_encoder.h"
#include "cli/commands.h"
#include "cli/contact_sheet.h"
#include "cli/json_writer.h"
#include "eval/embed_set.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr dedup MODEL DIR [--threshold T] [--space embedding|feature] [--head HEAD]\n"
    "                     [--threads N] [--sheet PNG [--thumb PX]] [--json]\n\n"
    "Embeds every image in DIR (recursively) and prints the groups of near-duplicates:\n"
    "images linked by a chain of pairs whose cosine similarity is at least T (the same\n"
    "photo at another size, re-encoded, cropped a little, retouched). Largest group first;\n"
    "within a group, files in folder order. Images in no group are not listed.\n\n"
    "options:\n"
    "  --threshold T  cosine similarity that makes two images duplicates (default 0.9;\n"
    "                 models/photo/README.md has the figures behind it for the photo model)\n"
    "  --space S      embedding (default) or feature (the backbone's output)\n"
    "  --head HEAD    embed with the head in checkpoint HEAD (.eclh) instead of MODEL's\n"
    "  --threads N    backbone threads (default 1)\n"
    "  --sheet PNG    also write a contact sheet: a row per group (its first 8 images),\n"
    "                 each image with its similarity to the group's first\n"
    "  --thumb PX     thumbnail size on the sheet (default 160)\n"
    "  --json         one JSON object on stdout: images, threshold, space, groups\n"
    "                 [{\"files\", \"similarity_to_first\"}]\n\n"
    "Every pair is compared (N^2/2 cosines); DIR may hold at most 50,000 images.\n";

constexpr size_t kMaxImages = 50'000;
constexpr size_t kSheetColumns = 8;  // images of a group shown on the contact sheet

float cosine(const eval::Vectors& v, size_t a, size_t b) {
  const float* x = v.row(a);
  const float* y = v.row(b);
  float sum = 0;
  for (size_t i = 0; i < v.dim; ++i) sum += x[i] * y[i];
  return sum;
}

size_t find_root(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

// Connected components of the graph "cosine >= threshold" over unit rows; only
// components of two or more, largest first, members in index order.
std::vector<std::vector<size_t>> duplicate_groups(const eval::Vectors& v, float threshold) {
  std::vector<size_t> parent(v.rows);
  std::iota(parent.begin(), parent.end(), size_t{0});
  for (size_t a = 0; a < v.rows; ++a) {
    for (size_t b = a + 1; b < v.rows; ++b) {
      if (cosine(v, a, b) >= threshold) parent[find_root(parent, b)] = find_root(parent, a);
    }
  }
  std::vector<std::vector<size_t>> by_root(v.rows);
  for (size_t i = 0; i < v.rows; ++i) by_root[find_root(parent, i)].push_back(i);
  std::vector<std::vector<size_t>> groups;
  for (auto& members : by_root) {
    if (members.size() >= 2) groups.push_back(std::move(members));
  }
  std::stable_sort(groups.begin(), groups.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
  return groups;
}

}  // namespace

int run_dedup(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json"}, {"threshold", "space", "head", "threads", "sheet", "thumb"}, &args, &error)) {
    return usage_error("dedup", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  uint32_t threads = 1, thumb = 160;
  if (!option_uint(args, "threads", 1, 1, 64, &threads, &error) ||
      !option_uint(args, "thumb", 160, 32, 1024, &thumb, &error)) {
    return usage_error("dedup", error);
  }
  float threshold = 0.9f;
  if (args.options.count("threshold")) {
    char* end = nullptr;
    threshold = std::strtof(args.options["threshold"].c_str(), &end);
    if (*end != '\0' || !(threshold >= -1.0f && threshold <= 1.0f)) {
      return usage_error("dedup", "--threshold must be a number from -1 to 1");
    }
  }
  const std::string space = args.options.count("space") ? args.options["space"] : "embedding";
  if (space != "embedding" && space != "feature") return usage_error("dedup", "--space must be embedding or feature");
  if (args.positional.size() != 2) return usage_error("dedup", "expected MODEL and DIR");

  auto opened = open_encoder(args.positional[0], head_option(args), EncoderOptions{threads, 16});
  if (!opened.ok()) return fail(opened.status().message());
  Encoder& encoder = *opened->encoder;
  auto set = dataset::ImageSet::open(args.positional[1], opened->model->input_spec().channels());
  if (!set.ok()) return fail(set.status().message());
  if (!set->from_files()) return usage_error("dedup", "DIR must be a folder of images");
  if (set->size() > kMaxImages) {
    return fail(format("'%s' has %zu images; dedup compares every pair and takes at most %zu",
                       args.positional[1].c_str(), set->size(), kMaxImages));
  }
  set->set_decode_target(encoder.decode_target());
  eval::Vectors vectors;
  std::vector<int32_t> labels;
  const Status embedded =
      eval::embed_set(encoder, set.value(), SIZE_MAX, space == "feature", "images", &vectors, &labels);
  if (!embedded.ok()) return fail(embedded.message());
  const auto groups = duplicate_groups(vectors, threshold);

  JsonWriter j;
  j.begin_object().key("images").value(uint64_t{vectors.rows}).key("threshold").value(double{threshold});
  j.key("space").value(space).key("groups").begin_array();
  std::vector<std::vector<SheetTile>> rows;
  for (const auto& group : groups) {
    j.begin_object().key("files").begin_array();
    for (size_t i : group) j.value(set->name(i));
    j.end_array().key("similarity_to_first").begin_array();
    for (size_t i : group) j.value(double{cosine(vectors, group[0], i)});
    j.end_array().end_object();
    rows.emplace_back();
    for (size_t i : group) {
      if (rows.back().size() == kSheetColumns) break;
      rows.back().push_back({set->name(i), i == group[0] ? "first" : format("%.3f", cosine(vectors, group[0], i)),
                             i == group[0]});
    }
  }
  j.end_array().end_object();
  if (args.has("json")) {
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("%zu images, %zu groups of near-duplicates (cosine >= %.3f, %s)\n", vectors.rows, groups.size(),
                threshold, space.c_str());
    for (size_t g = 0; g < groups.size(); ++g) {
      std::printf("group %zu (%zu images)\n", g + 1, groups[g].size());
      for (size_t i : groups[g]) {
        std::printf("  %.3f  %s\n", cosine(vectors, groups[g][0], i), set->name(i).c_str());
      }
    }
  }
  if (args.options.count("sheet")) {
    if (rows.empty()) {
      std::fprintf(stderr, "no near-duplicates: no contact sheet written\n");
    } else {
      const Status written = write_contact_sheet(args.options["sheet"], rows, thumb);
      if (!written.ok()) return fail(written.message());
      std::fprintf(stderr, "contact sheet: %s\n", args.options["sheet"].c_str());
    }
  }
  return kExitOk;
}

}  // namespace edgeclr::cli
