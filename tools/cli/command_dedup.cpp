// edgeclr dedup MODEL DIR, or edgeclr dedup G.db: groups of near-duplicate images in a
// folder, or items in a stored gallery.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/cli_encoder.h"
#include "cli/cli_gallery.h"
#include "cli/commands.h"
#include "cli/contact_sheet.h"
#include "cli/json_writer.h"
#include "eval/embed_set.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr dedup MODEL DIR [--threshold T] [--space embedding|feature] [--head HEAD]\n"
    "                     [--threads N] [--sheet PNG [--thumb PX]] [--json]\n"
    "       edgeclr dedup G.db [--threshold T] [--json]\n\n"
    "Prints the groups of near-duplicates: images linked by a chain of pairs whose cosine\n"
    "similarity is at least T (the same photo at another size, re-encoded, cropped a\n"
    "little, retouched). Largest group first; within a group, in folder (or gallery) order.\n"
    "Images in no group are not listed.\n\n"
    "MODEL DIR: embeds every image in DIR (recursively) and compares every pair (N^2/2\n"
    "cosines); DIR may hold at most 50,000 images.\n"
    "G.db: a stored gallery (`edgeclr gallery`): its embeddings, as its search sees them,\n"
    "nothing embedded again. Each item is linked to those of its 32 nearest neighbours\n"
    "(exact search; HNSW above 50,000 items) at or above T, so a group is complete unless\n"
    "an item has more than 32 duplicates.\n\n"
    "options:\n"
    "  --threshold T  cosine similarity that makes two images duplicates (default 0.9;\n"
    "                 models/photo/README.md has the figures behind it for the photo model)\n"
    "  --space S      embedding (default) or feature (the backbone's output; MODEL DIR only)\n"
    "  --head HEAD    embed with the head in checkpoint HEAD (.eclh) instead of MODEL's\n"
    "  --threads N    backbone threads (default 1)\n"
    "  --sheet PNG    also write a contact sheet: a row per group (its first 8 images),\n"
    "                 each image with its similarity to the group's first (MODEL DIR only)\n"
    "  --thumb PX     thumbnail size on the sheet (default 160)\n"
    "  --json         one JSON object on stdout: images, threshold, space, groups\n"
    "                 [{\"files\", \"similarity_to_first\"}] (G.db: \"keys\" for \"files\")\n";

constexpr size_t kMaxImages = 50'000;
constexpr size_t kSheetColumns = 8;  // images of a group shown on the contact sheet
constexpr size_t kGalleryNeighbours = 32;  // neighbours of each gallery item tested against T
constexpr size_t kExactDedupItems = 50'000;  // above: the neighbours come from HNSW

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

// The components of two or more of the union-find forest `parent`, largest first,
// members in index order.
std::vector<std::vector<size_t>> components(std::vector<size_t>& parent) {
  std::vector<std::vector<size_t>> by_root(parent.size());
  for (size_t i = 0; i < parent.size(); ++i) by_root[find_root(parent, i)].push_back(i);
  std::vector<std::vector<size_t>> groups;
  for (auto& members : by_root) {
    if (members.size() >= 2) groups.push_back(std::move(members));
  }
  std::stable_sort(groups.begin(), groups.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
  return groups;
}

// Connected components of the graph "cosine >= threshold" over unit rows, every pair.
std::vector<std::vector<size_t>> duplicate_groups(const eval::Vectors& v, float threshold) {
  std::vector<size_t> parent(v.rows);
  std::iota(parent.begin(), parent.end(), size_t{0});
  for (size_t a = 0; a < v.rows; ++a) {
    for (size_t b = a + 1; b < v.rows; ++b) {
      if (cosine(v, a, b) >= threshold) parent[find_root(parent, b)] = find_root(parent, a);
    }
  }
  return components(parent);
}

// The same over each row's nearest neighbours in the runtime's search index.
std::vector<std::vector<size_t>> duplicate_groups_by_search(const eval::Vectors& v, float threshold) {
  GalleryIndex index = eval::search_index(v);
  if (v.rows > kExactDedupItems) {
    IndexOptions options;
    options.hnsw = true;
    index.configure(options);
  }
  std::vector<size_t> parent(v.rows);
  std::iota(parent.begin(), parent.end(), size_t{0});
  SearchScratch scratch;
  std::vector<SearchHit> hits;
  for (size_t a = 0; a < v.rows; ++a) {
    index.search(v.row(a), kGalleryNeighbours + 1, SearchMethod::kBest, nullptr, &scratch, &hits);
    for (const SearchHit& h : hits) {
      if (h.row != a && h.score >= threshold) parent[find_root(parent, h.row)] = find_root(parent, a);
    }
  }
  return components(parent);
}

struct DedupResult {
  std::vector<std::string> names;  // per row: file or key
  eval::Vectors vectors;           // unit rows
  std::vector<std::vector<size_t>> groups;
};

// Text or JSON of the groups; `name_key` names the JSON list ("files" or "keys").
void print_groups(const DedupResult& d, float threshold, const std::string& space, const char* name_key, bool json) {
  if (json) {
    JsonWriter j;
    j.begin_object().key("images").value(uint64_t{d.vectors.rows}).key("threshold").value(double{threshold});
    j.key("space").value(space).key("groups").begin_array();
    for (const auto& group : d.groups) {
      j.begin_object().key(name_key).begin_array();
      for (size_t i : group) j.value(d.names[i]);
      j.end_array().key("similarity_to_first").begin_array();
      for (size_t i : group) j.value(double{cosine(d.vectors, group[0], i)});
      j.end_array().end_object();
    }
    std::printf("%s\n", j.end_array().end_object().str().c_str());
    return;
  }
  std::printf("%zu images, %zu groups of near-duplicates (cosine >= %.3f, %s)\n", d.vectors.rows, d.groups.size(),
              threshold, space.c_str());
  for (size_t g = 0; g < d.groups.size(); ++g) {
    std::printf("group %zu (%zu images)\n", g + 1, d.groups[g].size());
    for (size_t i : d.groups[g]) std::printf("  %.3f  %s\n", cosine(d.vectors, d.groups[g][0], i), d.names[i].c_str());
  }
}

// dedup G.db: the gallery's own embeddings, grouped through its search index.
int dedup_gallery(const Args& args, float threshold) {
  for (const char* option : {"space", "head", "sheet", "thumb"}) {
    if (args.options.count(option)) return usage_error("dedup", std::string("--") + option + " is for MODEL DIR");
  }
  auto opened = open_gallery(args.positional[0], "", 1);
  if (!opened.ok()) return fail(opened.status().message());
  DedupResult d;
  d.names = opened->gallery->keys();
  d.vectors.dim = opened->gallery->embedding_dim();
  d.vectors.values = opened->gallery->embeddings();
  d.vectors.rows = d.names.size();
  d.groups = duplicate_groups_by_search(d.vectors, threshold);
  print_groups(d, threshold, "embedding", "keys", args.has("json"));
  return kExitOk;
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
  if (args.positional.size() == 1 && is_gallery_file(args.positional[0])) return dedup_gallery(args, threshold);
  const std::string space = args.options.count("space") ? args.options["space"] : "embedding";
  if (space != "embedding" && space != "feature") return usage_error("dedup", "--space must be embedding or feature");
  if (args.positional.size() != 2) return usage_error("dedup", "expected MODEL and DIR, or G.db");

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
  DedupResult d;
  std::vector<int32_t> labels;
  const Status embedded =
      eval::embed_set(encoder, set.value(), SIZE_MAX, space == "feature", "images", &d.vectors, &labels);
  if (!embedded.ok()) return fail(embedded.message());
  for (size_t i = 0; i < d.vectors.rows; ++i) d.names.push_back(set->name(i));
  d.groups = duplicate_groups(d.vectors, threshold);
  print_groups(d, threshold, space, "files", args.has("json"));

  std::vector<std::vector<SheetTile>> rows;
  for (const auto& group : d.groups) {
    rows.emplace_back();
    for (size_t i : group) {
      if (rows.back().size() == kSheetColumns) break;
      rows.back().push_back({d.names[i], i == group[0] ? "first" : format("%.3f", cosine(d.vectors, group[0], i)),
                             i == group[0]});
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
