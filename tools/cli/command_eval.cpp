// edgeclr eval MODEL --data DIR|IDX [...]: how good is the representation space?
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/cli_common.h"
#include "cli/cli_encoder.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "dataset/image_set.h"
#include "encoder/encoder.h"
#include "eval/embed_set.h"
#include "eval/space_metrics.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr eval MODEL --data DIR|IDX [--labels IDX] [--bank DIR|IDX [--bank-labels IDX]]\n"
    "                    [--head HEAD] [--space embedding|feature] [--k N] [--limit N] [--threads N]\n"
    "                    [--json]\n\n"
    "Embeds a labelled image set and measures the space (cosine similarity throughout):\n"
    "  knn_accuracy        weighted kNN (k=20 by default; votes weighted by exp(cosine/0.07),\n"
    "                      as in InstDisc and SimCLR) of each image against the memory bank\n"
    "                      (--bank, e.g. the training set; without --bank, the other images\n"
    "                      of --data)\n"
    "  nn1_accuracy        the most similar bank image has the image's label (without --bank,\n"
    "                      the most similar other image of --data: then equal to recall_at_1)\n"
    "  prototype_accuracy  nearest class mean: per label, the mean of the bank's unit vectors,\n"
    "                      normalised; the image gets the label of the most similar mean\n"
    "                      (without --bank, each image is left out of its own class's mean)\n"
    "  recall_at_1         the nearest other image of --data has the same label\n"
    "  gap                 mean cosine of same-label pairs minus that of different-label pairs\n\n"
    "A labelled set is a folder with one subfolder per class, or an IDX image file with\n"
    "an IDX label file, as Fashion-MNIST ships them (gzip or plain).\n\n"
    "options:\n"
    "  --head HEAD    embed with the head in checkpoint HEAD (.eclh) instead of MODEL's\n"
    "                 own; it must have been saved for MODEL's backbone\n"
    "  --space S      embedding (head output, default) or feature (backbone output)\n"
    "  --k N          neighbours that vote (default 20)\n"
    "  --limit N      use only the first N images of --data (and of --bank)\n"
    "  --threads N    threads for the backbone and the search (default 2)\n"
    "  --json         one JSON object on stdout: knn_accuracy, nn1_accuracy,\n"
    "                 prototype_accuracy, recall_at_1, gap, images, bank_images, k, space,\n"
    "                 seconds, model, and head with --head\n";

using Clock = std::chrono::steady_clock;

// Folder sets number their classes by their own sorted subfolder names: the data's
// label of each name is mapped to the bank's label of the same name (IDX sets keep their
// numeric labels: `map` stays empty). False, with the names, when the data has a class
// the bank has not.
bool labels_by_name(const dataset::ImageSet& data, const dataset::ImageSet& bank, std::vector<int32_t>* map,
                    std::string* missing) {
  if (data.class_names().empty() || bank.class_names().empty()) return true;
  for (const std::string& name : data.class_names()) {
    const auto& names = bank.class_names();
    const auto found = std::find(names.begin(), names.end(), name);
    if (found == names.end()) {
      *missing += (missing->empty() ? "" : ", ") + name;
      map->push_back(-1);
    } else {
      map->push_back(static_cast<int32_t>(found - names.begin()));
    }
  }
  return missing->empty();
}

}  // namespace

int run_eval(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json"}, {"data", "labels", "bank", "bank-labels", "space", "k", "limit", "threads", "head"},
                  &args, &error)) {
    return usage_error("eval", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  uint32_t k = 20, limit = 0, threads = 2;
  if (!option_uint(args, "k", 20, 1, 1000, &k, &error) || !option_uint(args, "limit", 0, 1, 100000000, &limit, &error) ||
      !option_uint(args, "threads", 2, 1, 64, &threads, &error)) {
    return usage_error("eval", error);
  }
  const std::string space = args.options.count("space") ? args.options["space"] : "embedding";
  if (space != "embedding" && space != "feature") return usage_error("eval", "--space must be embedding or feature");
  if (args.positional.size() != 1 || !args.options.count("data")) return usage_error("eval", "expected MODEL and --data");
  if (args.options.count("bank-labels") && !args.options.count("bank")) return usage_error("eval", "--bank-labels needs --bank");
  const auto start = Clock::now();
  const std::optional<std::string> head = head_option(args);
  auto opened = open_encoder(args.positional[0], head, EncoderOptions{threads, 32});
  if (!opened.ok()) return fail(opened.status().message());
  Encoder& encoder = *opened->encoder;
  const uint32_t channels = opened->model->input_spec().channels();
  auto data = dataset::ImageSet::open(args.options["data"], channels, args.options["labels"]);
  if (!data.ok()) return fail(data.status().message());
  data->set_decode_target(encoder.decode_target());
  if (!data->has_labels()) return fail("'" + args.options["data"] + "' has no labels (--labels IDX, or one subfolder per class)");
  const size_t max_images = limit ? limit : SIZE_MAX;
  const bool feature = space == "feature";
  eval::Vectors queries, bank;
  std::vector<int32_t> query_labels, bank_labels;
  const bool has_bank = args.options.count("bank") != 0;
  std::optional<dataset::ImageSet> bank_set;
  std::vector<int32_t> to_bank_label;  // folder sets: data label -> the bank's label of that name
  if (has_bank) {
    auto opened_bank = dataset::ImageSet::open(args.options["bank"], channels, args.options["bank-labels"]);
    if (!opened_bank.ok()) return fail(opened_bank.status().message());
    bank_set = std::move(opened_bank).value();
    bank_set->set_decode_target(encoder.decode_target());
    if (!bank_set->has_labels()) return fail("'" + args.options["bank"] + "' has no labels");
    std::string missing;
    if (!labels_by_name(data.value(), *bank_set, &to_bank_label, &missing)) {
      return fail(format("'%s' has classes that '%s' has not: %s", args.options["data"].c_str(),
                         args.options["bank"].c_str(), missing.c_str()));
    }
  }
  Status status = eval::embed_set(encoder, data.value(), max_images, feature, "data", &queries, &query_labels);
  if (!status.ok()) return fail(status.message());
  for (int32_t& label : query_labels) {
    if (!to_bank_label.empty() && label >= 0) label = to_bank_label[label];
  }
  if (has_bank) {
    status = eval::embed_set(encoder, *bank_set, max_images, feature, "bank", &bank, &bank_labels);
    if (!status.ok()) return fail(status.message());
  }
  eval::KnnOptions knn;
  knn.k = k;
  knn.threads = threads;
  const double accuracy = has_bank ? eval::knn_accuracy(queries, query_labels, bank, bank_labels, knn, false)
                                   : eval::knn_accuracy(queries, query_labels, queries, query_labels, knn, true);
  const double nn1 = has_bank ? eval::nn1_accuracy(queries, query_labels, bank, bank_labels, threads, false)
                              : eval::nn1_accuracy(queries, query_labels, queries, query_labels, threads, true);
  const double prototype = has_bank ? eval::prototype_accuracy(queries, query_labels, bank, bank_labels, false)
                                    : eval::prototype_accuracy(queries, query_labels, queries, query_labels, true);
  const double recall = eval::recall_at_1(queries, query_labels, threads);
  const double gap = eval::positive_negative_gap(queries, query_labels);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const size_t bank_images = has_bank ? bank.rows : queries.rows - 1;
  if (args.has("json")) {
    JsonWriter j;
    j.begin_object().key("model").value(args.positional[0]);
    if (head) j.key("head").value(*head);
    j.key("space").value(space);
    j.key("knn_accuracy").value(accuracy).key("nn1_accuracy").value(nn1).key("prototype_accuracy").value(prototype);
    j.key("recall_at_1").value(recall).key("gap").value(gap);
    j.key("images").value(uint64_t{queries.rows}).key("bank_images").value(uint64_t{bank_images});
    j.key("k").value(k).key("seconds").value(seconds).end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("model               %s (%s space)\n", args.positional[0].c_str(), space.c_str());
    if (head) std::printf("head                %s\n", head->c_str());
    std::printf("images              %zu, bank %zu\n", queries.rows, bank_images);
    std::printf("kNN accuracy        %.4f (k=%u, weighted)\n", accuracy, k);
    std::printf("1-NN accuracy       %.4f\n", nn1);
    std::printf("prototype accuracy  %.4f (nearest class mean%s)\n", prototype,
                has_bank ? "" : ", each image left out of its own");
    std::printf("recall@1            %.4f\n", recall);
    std::printf("cosine gap          %.4f (same label minus different label)\n", gap);
    std::printf("seconds             %.1f\n", seconds);
  }
  return kExitOk;
}

}  // namespace edgeclr::cli
