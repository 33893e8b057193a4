// edgeclr viz MODEL --data DIR|IDX|G.db -o PNG: a picture of the representation space.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/cli_encoder.h"
#include "cli/cli_gallery.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/space_plot.h"
#include "eval/embed_set.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr viz MODEL --data DIR|IDX|G.db -o PNG [--labels IDX] [--names A,B,...]\n"
    "                  [--head HEAD] [--compare-head HEAD2] [--max N] [--threads N] [--json]\n\n"
    "Draws the embedding space of a labelled image set into PNG: the embeddings projected\n"
    "on their first two principal components, coloured by label, with a legend; a\n"
    "histogram of the cosines of random same-label and different-label pairs (a healthy\n"
    "space keeps them apart; a collapsed one piles both near 1); and over it recall@1,\n"
    "alignment, uniformity and effective rank (the figures adapt checks). The figures are\n"
    "printed too. With --compare-head, two panels side by side: the space with HEAD (or\n"
    "MODEL's head), then with HEAD2, e.g. before and after `edgeclr adapt`.\n\n"
    "--data: a folder with one subfolder per label, an IDX image file (labels from\n"
    "--labels), or a gallery (`edgeclr gallery`; its stored embeddings, labelled by the\n"
    "folder in each key, which is a file path for added files; MODEL must be its model).\n\n"
    "options:\n"
    "  -o, --out PNG      the picture to write\n"
    "  --labels IDX       the IDX label file of an IDX --data\n"
    "  --names A,B,...    label names for the legend, in label order (default: the\n"
    "                     subfolder names, or the label numbers)\n"
    "  --head HEAD        embed with the head in checkpoint HEAD instead of MODEL's own\n"
    "  --compare-head H2  a second panel embedded with the head in checkpoint H2\n"
    "  --max N            images embedded (default 2000: the first N)\n"
    "  --threads N        backbone threads (default 1)\n"
    "  --json             the figures as one JSON object on stdout: png, panels [{title,\n"
    "                     points, recall_at_1, alignment, uniformity, effective_rank,\n"
    "                     pca_explained}]\n";

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// A panel of `set` embedded by MODEL with `head` (none: MODEL's own).
Status embed_panel(const std::string& model, const std::optional<std::string>& head, dataset::ImageSet& set,
                   uint32_t threads, uint32_t max, SpacePanel* panel) {
  auto opened = open_encoder(model, head, EncoderOptions{threads, 16});
  if (!opened.ok()) return opened.status();
  set.set_decode_target(opened->encoder->decode_target());
  panel->title = head ? "head " + *head : "the model's head";
  return eval::embed_set(*opened->encoder, set, max, false, "images", &panel->vectors, &panel->labels);
}

// The folder of a key that is a path ("/photos/shoes/a.jpg" -> "shoes"), or "(none)".
std::string key_folder(const std::string& key) {
  const size_t slash = key.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "(none)";
  const size_t before = key.find_last_of('/', slash - 1);
  return key.substr(before == std::string::npos ? 0 : before + 1, slash - (before == std::string::npos ? 0 : before + 1));
}

// A panel of a gallery's stored embeddings, labelled by key folder; names get the folders.
Status gallery_panel(const std::string& path, const std::string& model, uint32_t max, SpacePanel* panel,
                     std::vector<std::string>* names) {
  auto opened = open_gallery(path, model, 1);
  if (!opened.ok()) return opened.status();
  const std::vector<std::string> keys = opened->gallery->keys();
  const std::vector<float> rows = opened->gallery->embeddings();
  panel->vectors.dim = opened->gallery->embedding_dim();
  panel->vectors.rows = std::min<size_t>(keys.size(), max);
  panel->vectors.values.assign(rows.begin(), rows.begin() + panel->vectors.rows * panel->vectors.dim);
  std::map<std::string, int32_t> ids;
  for (size_t i = 0; i < panel->vectors.rows; ++i) {
    const std::string folder = key_folder(keys[i]);
    const auto it = ids.emplace(folder, static_cast<int32_t>(ids.size())).first;
    panel->labels.push_back(it->second);
  }
  names->assign(ids.size(), "");
  for (const auto& [folder, id] : ids) (*names)[id] = folder;
  panel->title = "gallery " + path;
  return Status::Ok();
}

void print_figures(const std::string& png, const std::vector<SpacePanel>& panels, bool json) {
  JsonWriter j;
  j.begin_object().key("png").value(png).key("panels").begin_array();
  for (const SpacePanel& p : panels) {
    const SpaceFigures& f = p.figures;
    if (!json) {
      std::printf("%s: %zu points, recall@1 %.4f, alignment %.4f, uniformity %.4f, effective rank %.2f, PCA plane %.1f%%\n",
                  p.title.c_str(), p.vectors.rows, f.recall_at_1, f.alignment, f.uniformity, f.effective_rank,
                  100 * f.explained);
    }
    j.begin_object().key("title").value(p.title).key("points").value(uint64_t{p.vectors.rows});
    j.key("recall_at_1").value(f.recall_at_1).key("alignment").value(f.alignment).key("uniformity").value(f.uniformity);
    j.key("effective_rank").value(f.effective_rank).key("pca_explained").value(f.explained).end_object();
  }
  if (json) {
    std::printf("%s\n", j.end_array().end_object().str().c_str());
  } else {
    std::printf("wrote %s\n", png.c_str());
  }
}

}  // namespace

int run_viz(int argc, char** argv) {
  std::vector<char*> argv2 = expand_short_options(argc, argv);
  Args args;
  std::string error;
  if (!parse_args(argc, argv2.data(), {"json"}, {"data", "labels", "names", "head", "compare-head", "max", "threads", "out"},
                  &args, &error)) {
    return usage_error("viz", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  uint32_t max = 2000, threads = 1;
  if (!option_uint(args, "max", 2000, 2, 100000, &max, &error) || !option_uint(args, "threads", 1, 1, 64, &threads, &error)) {
    return usage_error("viz", error);
  }
  if (args.positional.size() != 1 || !args.options.count("data") || !args.options.count("out")) {
    return usage_error("viz", "expected MODEL, --data DIR|IDX|G.db and -o PNG");
  }
  const std::string model = args.positional[0], data = args.options["data"], png = args.options["out"];
  std::vector<SpacePanel> panels(1);
  std::vector<std::string> names;
  if (is_gallery_file(data)) {
    for (const char* option : {"head", "compare-head", "labels"}) {
      if (args.options.count(option)) return usage_error("viz", std::string("--") + option + " is not for a gallery");
    }
    const Status status = gallery_panel(data, model, max, &panels[0], &names);
    if (!status.ok()) return fail(status.message());
  } else {
    auto model_file = Model::open_file(model);
    if (!model_file.ok()) return fail(model_file.status().message());
    auto set = dataset::ImageSet::open(data, model_file.value()->input_spec().channels(), args.options["labels"]);
    if (!set.ok()) return fail(set.status().message());
    names = set->class_names();
    Status status = embed_panel(model, head_option(args), set.value(), threads, max, &panels[0]);
    if (status.ok() && args.options.count("compare-head")) {
      panels.emplace_back();
      status = embed_panel(model, args.options["compare-head"], set.value(), threads, max, &panels[1]);
    }
    if (!status.ok()) return fail(status.message());
  }
  if (args.options.count("names")) names = split_names(args.options["names"]);
  int32_t top_label = -1;
  for (const SpacePanel& p : panels) {
    for (int32_t label : p.labels) top_label = std::max(top_label, label);
  }
  for (int32_t l = static_cast<int32_t>(names.size()); l <= top_label; ++l) names.push_back(std::to_string(l));
  if (top_label < 0) names = {"unlabelled"};
  for (SpacePanel& p : panels) summarize_space(&p);
  const Status written = write_space_plot(png, panels, names);
  if (!written.ok()) return fail(written.message());
  print_figures(png, panels, args.has("json"));
  return kExitOk;
}

}  // namespace edgeclr::cli
