// edgeclr search MODEL IMAGE... --gallery DIR|IDX: nearest gallery images of each image.
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "cli/cli_encoder.h"
#include "cli/commands.h"
#include "cli/contact_sheet.h"
#include "cli/json_writer.h"
#include "eval/embed_set.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr search MODEL IMAGE... --gallery DIR|IDX [--gallery-labels IDX] [--k N]\n"
    "                      [--head HEAD] [--threads N] [--sheet PNG [--thumb PX]] [--json]\n\n"
    "Embeds the gallery, then prints for each IMAGE its k most similar gallery images\n"
    "(cosine of embeddings), with their labels when the gallery has them (the subfolder\n"
    "name, or the IDX label). The gallery is embedded on every call; nothing is stored.\n\n"
    "options:\n"
    "  --k N        neighbours per image (default 5)\n"
    "  --head HEAD  embed images and gallery with the head in checkpoint HEAD (.eclh)\n"
    "               instead of MODEL's own; it must have been saved for MODEL's backbone\n"
    "  --threads N  backbone threads (default 1)\n"
    "  --sheet PNG  also write a contact sheet: a row per IMAGE, the image framed, then\n"
    "               its neighbours with their similarities (folder galleries only)\n"
    "  --thumb PX   thumbnail size on the sheet (default 160)\n"
    "  --json       a JSON list on stdout: {\"file\", \"neighbours\": [{\"gallery\",\n"
    "               \"label\", \"similarity\"}]}\n";

std::string label_name(const dataset::ImageSet& set, int32_t label) {
  if (label < 0) return "";
  if (label < static_cast<int32_t>(set.class_names().size())) return set.class_names()[label];
  return std::to_string(label);
}

}  // namespace

int run_search(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json"}, {"gallery", "gallery-labels", "k", "threads", "head", "sheet", "thumb"}, &args, &error)) {
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
  if (args.positional.size() < 2 || !args.options.count("gallery")) {
    return usage_error("search", "expected MODEL, at least one IMAGE and --gallery");
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
  JsonWriter j;
  j.begin_array();
  std::vector<float> query(encoder.embedding_dim());
  for (size_t q = 1; q < args.positional.size(); ++q) {
    const std::string& file = args.positional[q];
    auto image = decode_image_file(file, channels, encoder.decode_target());
    if (!image.ok()) return fail(image.status().message());
    const PixelView view = image->view();
    const Status encoded = encoder.encode(&view, 1, nullptr, query.data());
    if (!encoded.ok()) return fail(encoded.message());
    const auto near = eval::nearest(bank, query.data(), k);
    if (!sheet.empty()) {
      sheet_rows.push_back({SheetTile{file, "query", true}});
      for (const auto& n : near) sheet_rows.back().push_back({gallery->name(n.index), format("%.3f", n.similarity), false});
    }
    if (args.has("json")) {
      j.begin_object().key("file").value(file).key("neighbours").begin_array();
      for (const auto& n : near) {
        j.begin_object().key("gallery").value(gallery->name(n.index)).key("label").value(label_name(gallery.value(), labels[n.index]));
        j.key("similarity").value(static_cast<double>(n.similarity)).end_object();
      }
      j.end_array().end_object();
      continue;
    }
    std::printf("%s\n", file.c_str());
    for (const auto& n : near) {
      std::printf("  %.3f  %-12s %s\n", n.similarity, label_name(gallery.value(), labels[n.index]).c_str(),
                  gallery->name(n.index).c_str());
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
