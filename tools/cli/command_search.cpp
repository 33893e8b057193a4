// edgeclr search MODEL IMAGE... --gallery DIR|IDX, or edgeclr search G.db IMAGE...:
// the nearest gallery images of each image, found by the runtime's gallery search.
#include <cstdio>
#include <string>

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
    "usage: edgeclr search G.db IMAGE... [--k N] [--prefix KEY] [--index exact|int8|hnsw]\n"
    "                      [--threads N] [--json]\n"
    "       edgeclr search MODEL IMAGE... --gallery DIR|IDX [--gallery-labels IDX] [--k N]\n"
    "                      [--head HEAD] [--threads N] [--sheet PNG [--thumb PX]] [--json]\n\n"
    "Prints for each IMAGE its k most similar gallery items (cosine of embeddings).\n"
    "G.db: a stored gallery (`edgeclr gallery`): it knows its model and head; items are\n"
    "shown by key. --gallery DIR|IDX: the folder or IDX set is embedded on every call and\n"
    "nothing is stored; items are shown with their labels when the set has them (the\n"
    "subfolder name, or the IDX label).\n\n"
    "options:\n"
    "  --k N        neighbours per image (default 5)\n"
    "  --prefix KEY only items whose key starts with KEY (G.db only)\n"
    "  --index I    G.db only: exact (default) scans every fp32 embedding; int8 scans int8\n"
    "               codes and rescores the best in fp32; hnsw builds a graph at open (seconds\n"
    "               per 100k items; worth it for many queries) and searches it, rescored in\n"
    "               fp32 (with --prefix: int8). docs/benchmarks.md has speeds and recall\n"
    "  --head HEAD  embed images and gallery with the head in checkpoint HEAD (.eclh)\n"
    "               instead of MODEL's own; it must have been saved for MODEL's backbone\n"
    "  --threads N  backbone threads (default 1)\n"
    "  --sheet PNG  also write a contact sheet: a row per IMAGE, the image framed, then\n"
    "               its neighbours with their similarities (folder galleries only)\n"
    "  --thumb PX   thumbnail size on the sheet (default 160)\n"
    "  --json       a JSON list on stdout: {\"file\", \"neighbours\": [{\"gallery\",\n"
    "               \"label\", \"similarity\"}]} (G.db: {\"key\", \"similarity\"})\n";

// The embedding of image `file`, decoded as the encoder's preprocessing wants.
Status embed_file(Encoder& encoder, uint32_t channels, const std::string& file, float* embedding) {
  auto image = decode_image_file(file, channels, encoder.decode_target());
  if (!image.ok()) return image.status();
  const PixelView view = image->view();
  return encoder.encode(&view, 1, nullptr, embedding);
}

// search G.db IMAGE...: the stored gallery's own search.
int search_stored(Args& args, uint32_t k, uint32_t threads) {
  auto opened = open_gallery(args.positional[0], "", threads);
  if (!opened.ok()) return fail(opened.status().message());
  Encoder& encoder = *opened->encoder.encoder;
  const uint32_t channels = opened->encoder.model->input_spec().channels();
  const std::string prefix = args.options.count("prefix") ? args.options["prefix"] : "";
  const std::string index = args.options.count("index") ? args.options["index"] : "exact";
  if (index != "exact" && index != "int8" && index != "hnsw") {
    return usage_error("search", "--index must be exact, int8 or hnsw");
  }
  IndexOptions options;
  options.int8 = index != "exact";
  options.hnsw = index == "hnsw";
  if (!opened->gallery->set_index(options, threads)) return fail("search: the HNSW graph could not be built");
  JsonWriter j;
  j.begin_array();
  std::vector<float> query(encoder.embedding_dim());
  std::vector<GalleryMatch> matches;
  for (size_t q = 1; q < args.positional.size(); ++q) {
    const std::string& file = args.positional[q];
    const Status encoded = embed_file(encoder, channels, file, query.data());
    if (!encoded.ok()) return fail(encoded.message());
    const Status searched = opened->gallery->search(query.data(), k, prefix, &matches, SearchMethod::kBest);
    if (!searched.ok()) return fail(searched.message());
    if (args.has("json")) {
      j.begin_object().key("file").value(file).key("neighbours").begin_array();
      for (const auto& m : matches) {
        j.begin_object().key("key").value(m.key).key("similarity").value(static_cast<double>(m.score)).end_object();
      }
      j.end_array().end_object();
      continue;
    }
    std::printf("%s\n", file.c_str());
    for (const auto& m : matches) std::printf("  %.3f  %s\n", m.score, m.key.c_str());
  }
  if (args.has("json")) std::printf("%s\n", j.end_array().str().c_str());
  return kExitOk;
}

std::string label_name(const dataset::ImageSet& set, int32_t label) {
  if (label < 0) return "";
  if (label < static_cast<int32_t>(set.class_names().size())) return set.class_names()[label];
  return std::to_string(label);
}

}  // namespace

int run_search(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json"}, {"gallery", "gallery-labels", "k", "threads", "head", "sheet", "thumb", "prefix", "index"},
                  &args, &error)) {
    return usage_error("search", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  uint32_t k = 5, threads = 1, thumb = 160;
  if (!option_uint(args, "k", 5, 1, 1000, &k, &error) || !option_uint(args, "threads", 1, 1, 64, &threads, &error) ||
      !option_uint(args, "thumb", 160, 32, 1024, &thumb, &error)) {
    return usage_error("search", error);
  }
  if (args.positional.size() >= 2 && is_gallery_file(args.positional[0])) {
    for (const char* option : {"gallery", "gallery-labels", "head", "sheet"}) {
      if (args.options.count(option)) {
        return usage_error("search", std::string("--") + option + " is for the MODEL form; G.db knows its head and items");
      }
    }
    return search_stored(args, k, threads);
  }
  if (args.options.count("prefix")) return usage_error("search", "--prefix is for G.db");
  if (args.options.count("index")) return usage_error("search", "--index is for G.db");
  if (args.positional.size() < 2 || !args.options.count("gallery")) {
    return usage_error("search", "expected G.db or MODEL, at least one IMAGE, and --gallery with MODEL");
  }
  auto opened = open_encoder(args.positional[0], head_option(args), EncoderOptions{threads, 16});
  if (!opened.ok()) return fail(opened.status().message());
  Encoder& encoder = *opened->encoder;
  const uint32_t channels = opened->model->input_spec().channels();
  auto gallery = dataset::ImageSet::open(args.options["gallery"], channels, args.options["gallery-labels"]);
  if (!gallery.ok()) return fail(gallery.status().message());
  const std::string sheet = args.options.count("sheet") ? args.options["sheet"] : "";
  if (!sheet.empty() && !gallery->from_files()) return usage_error("search", "--sheet needs a folder as --gallery");
  std::vector<std::vector<SheetTile>> sheet_rows;
  gallery->set_decode_target(encoder.decode_target());
  eval::Vectors bank;
  std::vector<int32_t> labels;
  const Status status = eval::embed_set(encoder, gallery.value(), SIZE_MAX, false, "gallery", &bank, &labels);
  if (!status.ok()) return fail(status.message());
  const GalleryIndex index = eval::search_index(bank);
  JsonWriter j;
  j.begin_array();
  std::vector<float> query(encoder.embedding_dim());
  std::vector<SearchHit> near;
  SearchScratch scratch;
  for (size_t q = 1; q < args.positional.size(); ++q) {
    const std::string& file = args.positional[q];
    const Status encoded = embed_file(encoder, channels, file, query.data());
    if (!encoded.ok()) return fail(encoded.message());
    index.search(query.data(), k, SearchMethod::kExact, nullptr, &scratch, &near);
    if (!sheet.empty()) {
      sheet_rows.push_back({SheetTile{file, "query", true}});
      for (const auto& n : near) sheet_rows.back().push_back({gallery->name(n.row), format("%.3f", n.score), false});
    }
    if (args.has("json")) {
      j.begin_object().key("file").value(file).key("neighbours").begin_array();
      for (const auto& n : near) {
        j.begin_object().key("gallery").value(gallery->name(n.row)).key("label").value(label_name(gallery.value(), labels[n.row]));
        j.key("similarity").value(static_cast<double>(n.score)).end_object();
      }
      j.end_array().end_object();
      continue;
    }
    std::printf("%s\n", file.c_str());
    for (const auto& n : near) {
      std::printf("  %.3f  %-12s %s\n", n.score, label_name(gallery.value(), labels[n.row]).c_str(),
                  gallery->name(n.row).c_str());
    }
  }
  if (args.has("json")) std::printf("%s\n", j.end_array().str().c_str());
  if (!sheet.empty()) {
    const Status written = write_contact_sheet(sheet, sheet_rows, thumb);
    if (!written.ok()) return fail(written.message());
    std::fprintf(stderr, "contact sheet: %s\n", sheet.c_str());
  }
  return kExitOk;
}

}  // namespace edgeclr::cli
