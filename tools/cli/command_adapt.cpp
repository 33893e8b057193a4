// edgeclr adapt MODEL (--pairs CSV | --groups DIR | --unlabeled DIR) -o HEAD: train the
// projection head on the user's own data, with the guards of adapt_trainer.h.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapt/adapt_inputs.h"
#include "adapt/adapt_trainer.h"
#include "adapt/adaptation.h"
#include "adapt/head_checkpoint.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/npy_writer.h"
#include "cli/peak_rss.h"
#include "core/atomic_file.h"
#include "core/output_path.h"
#include "dataset/image_set.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr adapt MODEL (--pairs CSV | --groups DIR | --unlabeled DIR|IDX) -o HEAD\n"
    "                     [--head HEAD_IN] [--epochs N] [--loss infonce|triplet|supcon] [--lr X]\n"
    "                     [--temperature T] [--pull X] [--seed S] [--views N] [--limit N]\n"
    "                     [--threads N] [--save-cache DIR] [--json]\n\n"
    "Trains MODEL's projection head (the backbone stays frozen) on your own data and\n"
    "writes it to HEAD (.eclh) only if it beats the current head on held-out data;\n"
    "otherwise HEAD is left as it was and the reason is printed. An existing HEAD is kept\n"
    "as HEAD.prev. Use the result with --head HEAD on embed, similarity, search and eval.\n\n"
    "data (one of):\n"
    "  --pairs CSV      one line per anchor: anchor,positive[,negative...], image paths\n"
    "                   relative to the CSV; '#' starts a comment line\n"
    "  --groups DIR     a subfolder per group: images of a group are positives of each other\n"
    "  --unlabeled D    a folder (or an IDX file) of images; two augmented views of an\n"
    "                   image are a positive pair\n\n"
    "How it trains: the backbone runs once per image and per augmented view (random\n"
    "resized crop, flip, brightness/contrast, noise; seeded), then the epochs run the head\n"
    "only. 20% of the groups' images / pairs / images are held out; each epoch measures\n"
    "them and the space (alignment, uniformity, effective rank). The best epoch is the\n"
    "one with the lowest validation loss that keeps the held-out accuracy; training\n"
    "stops after 8 epochs without a better one, and rolls back if the space collapses.\n"
    "Adam, cosine schedule, an L2 pull towards MODEL's own head. docs/adaptation.md has\n"
    "the details.\n\n"
    "options:\n"
    "  -o, --out HEAD   where to write the adapted head\n"
    "  --head HEAD_IN   start from this adapted head (and compare against it) instead of\n"
    "                   MODEL's own; the version written is HEAD_IN's + 1\n"
    "  --epochs N       at most N epochs (default 50)\n"
    "  --loss L         infonce (default for pairs and unlabeled), supcon (default for\n"
    "                   groups) or triplet\n"
    "  --lr X           base learning rate (default 0.003)\n"
    "  --temperature T  of InfoNCE, SupCon and the validation loss (default 0.2)\n"
    "  --pull X         strength of the L2 pull towards MODEL's own head (default 0.1)\n"
    "  --seed S         seed of the views, the split and the shuffles (default 0)\n"
    "  --views N        augmented views per image (default 8; pairs: 0)\n"
    "  --limit N        use only the first N images of --groups/--unlabeled\n"
    "  --threads N      threads for the backbone (default 1)\n"
    "  --save-cache D   also write the feature cache, split, start head and options to\n"
    "                   folder D as .npy/.json (for models/fashion/adapt_reference.py,\n"
    "                   the PyTorch reference of this loop)\n"
    "  --json           one JSON object on stdout: accepted, reason, epochs_run, best_epoch,\n"
    "                   seconds, peak_rss_mb, loss, validation {before, after}, space\n"
    "                   {before, after}, per-epoch figures, and the head written\n";

using Clock = std::chrono::steady_clock;

struct Settings {
  std::string model, out;
  std::optional<std::string> head_in;
  AdaptKind kind = AdaptKind::kGroups;
  std::string data;
  std::string save_cache;
  uint32_t threads = 1, limit = 0;
  AdaptOptions train;
  AdaptInputOptions inputs;
  bool json = false;
};

bool parse_float(const std::string& text, float* out) {
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v > 0) || v > 1e3f) return false;
  *out = v;
  return true;
}

// Fills `s` from the arguments; on failure returns the usage message.
std::optional<std::string> parse_settings(const Args& args, Settings* s) {
  std::string error;
  if (args.positional.size() != 1) return std::string("expected one MODEL");
  s->model = args.positional[0];
  int sources = 0;
  for (const auto& [name, kind] : {std::pair{"pairs", AdaptKind::kPairs}, std::pair{"groups", AdaptKind::kGroups},
                                   std::pair{"unlabeled", AdaptKind::kUnlabeled}}) {
    if (args.options.count(name)) {
      s->kind = kind;
      s->data = args.options.at(name);
      ++sources;
    }
  }
  if (sources != 1) return std::string("give exactly one of --pairs, --groups, --unlabeled");
  if (!args.options.count("out")) return std::string("-o HEAD is required");
  s->out = args.options.at("out");
  if (args.options.count("head")) s->head_in = args.options.at("head");
  uint32_t seed = 0, views = s->kind == AdaptKind::kPairs ? 0 : AdaptInputOptions{}.views;
  if (!option_uint(args, "epochs", s->train.epochs, 1, 10000, &s->train.epochs, &error) ||
      !option_uint(args, "seed", 0, 0, 0xffffffffu, &seed, &error) ||
      !option_uint(args, "views", views, 0, kMaxAdaptViews, &views, &error) ||
      !option_uint(args, "limit", 0, 1, kMaxAdaptImages, &s->limit, &error) ||
      !option_uint(args, "threads", 1, 1, 64, &s->threads, &error)) {
    return error;
  }
  if (s->kind == AdaptKind::kUnlabeled && views < 2) return std::string("--unlabeled needs --views 2 or more");
  s->train.seed = seed;
  s->inputs.seed = seed;
  s->inputs.views = views;
  if (args.options.count("lr") && !parse_float(args.options.at("lr"), &s->train.learning_rate)) {
    return std::string("--lr must be a number above 0, at most 1000");
  }
  if (args.options.count("temperature") && !parse_float(args.options.at("temperature"), &s->train.temperature)) {
    return std::string("--temperature must be a number above 0, at most 1000");
  }
  if (args.options.count("pull") && !parse_float(args.options.at("pull"), &s->train.optimizer.pull)) {
    return std::string("--pull must be a number above 0, at most 1000");
  }
  if (args.options.count("loss")) {
    const std::string& loss = args.options.at("loss");
    if (loss == "infonce") s->train.loss = AdaptLoss::kInfoNce;
    else if (loss == "triplet") s->train.loss = AdaptLoss::kTriplet;
    else if (loss == "supcon") s->train.loss = AdaptLoss::kSupCon;
    else return "--loss must be infonce, triplet or supcon, not '" + loss + "'";
  }
  if (args.options.count("save-cache")) s->save_cache = args.options.at("save-cache");
  s->json = args.has("json");
  return std::nullopt;
}

// "[#####.....]" progress on a terminal; a line per fifth of the way otherwise.
void show_progress(const char* what, size_t done, size_t total, const std::string& detail) {
  if (total == 0) return;
  if (isatty(STDERR_FILENO)) {
    char bar[21];
    const size_t filled = done * 20 / total;
    for (size_t i = 0; i < 20; ++i) bar[i] = i < filled ? '#' : '.';
    bar[20] = '\0';
    std::fprintf(stderr, "\r  %-9s [%s] %zu/%zu %s", what, bar, done, total, detail.c_str());
    if (done == total) std::fprintf(stderr, "\n");
  } else if (done == total || done * 5 / total != (done - 1) * 5 / total) {
    std::fprintf(stderr, "  %s %zu/%zu %s\n", what, done, total, detail.c_str());
  }
}

// Encodes the data named on the command line into `inputs` (the feature cache).
Status read_data(const Settings& s, uint32_t channels, AdaptInputs* inputs) {
  if (s.kind == AdaptKind::kPairs) return add_pairs_csv(s.data, inputs);
  auto set = dataset::ImageSet::open(s.data, channels);
  if (!set.ok()) return set.status();
  set->set_decode_target(inputs->decode_target());
  if (s.kind == AdaptKind::kGroups && !set->has_labels()) {
    return error(StatusCode::kInvalidArgument, "failed to read groups '" + s.data + "': expected a subfolder per group");
  }
  const size_t n = s.limit ? std::min<size_t>(s.limit, set->size()) : set->size();
  for (size_t i = 0; i < n; ++i) {
    auto image = set->image(i);
    if (!image.ok()) return image.status();
    auto item = inputs->add_image(image->view(), set->label(i));
    if (!item.ok()) return error(item.status().code(), set->name(i) + ": " + item.status().message());
    show_progress("caching", i + 1, n, "images");
  }
  return Status::Ok();
}

void write_validation(JsonWriter& j, const Validation& v) {
  j.begin_object().key("loss").value(v.loss).key("accuracy").value(v.accuracy).key("count").value(v.count).end_object();
}

void write_space(JsonWriter& j, const SpaceStats& s) {
  j.begin_object().key("alignment").value(s.alignment).key("uniformity").value(s.uniformity);
  j.key("effective_rank").value(s.effective_rank).end_object();
}

// The --json report: one object, the same from the CLI and from adapt_report().
std::string report_json(const Settings& s, const AdaptResult& r, uint64_t version, double seconds, double cache_seconds) {
  JsonWriter j;
  j.begin_object();
  j.key("accepted").value(r.accepted).key("reason").value(r.reason);
  j.key("epochs_run").value(r.epochs_run).key("best_epoch").value(r.best_epoch);
  j.key("seconds").value(seconds).key("cache_seconds").value(cache_seconds).key("peak_rss_mb").value(peak_rss_mb());
  j.key("data").value(adapt_kind_name(s.kind)).key("loss").value(adapt_loss_name(r.loss));
  j.key("train").value(r.train_items).key("held_out").value(r.holdout_items);
  j.key("validation").begin_object().key("before");
  write_validation(j, r.validation_before);
  j.key("after");
  write_validation(j, r.validation_after);
  j.end_object().key("space").begin_object().key("before");
  write_space(j, r.space_before);
  j.key("after");
  write_space(j, r.space_after);
  j.end_object().key("epochs").begin_array();
  for (const EpochReport& e : r.epochs) {
    j.begin_object().key("epoch").value(e.epoch).key("train_loss").value(e.train_loss);
    j.key("validation_loss").value(e.validation.loss).key("validation_accuracy").value(e.validation.accuracy);
    j.key("effective_rank").value(e.space.effective_rank).key("uniformity").value(e.space.uniformity);
    j.key("alignment").value(e.space.alignment).end_object();
  }
  j.end_array();
  j.key("head").value(r.accepted ? s.out : "").key("version").value(version);
  j.end_object();
  return j.str();
}

void print_text(const Settings& s, const AdaptResult& r, uint64_t version, double seconds) {
  std::printf("%s\n", r.reason.c_str());
  std::printf("data          %s, %s loss, %u train / %u held out\n", adapt_kind_name(s.kind), adapt_loss_name(r.loss),
              r.train_items, r.holdout_items);
  std::printf("epochs        %u run, best %u\n", r.epochs_run, r.best_epoch);
  std::printf("validation    loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", r.validation_before.loss,
              r.validation_after.loss, r.validation_before.accuracy, r.validation_after.accuracy);
  std::printf("space         alignment %.3f -> %.3f, uniformity %.3f -> %.3f, effective rank %.1f -> %.1f\n",
              r.space_before.alignment, r.space_after.alignment, r.space_before.uniformity, r.space_after.uniformity,
              r.space_before.effective_rank, r.space_after.effective_rank);
  std::printf("cost          %.2f s, peak RSS %.1f MB\n", seconds, peak_rss_mb());
  if (r.accepted) std::printf("wrote         %s (version %llu)\n", s.out.c_str(), static_cast<unsigned long long>(version));
}

// The feature cache and the run's settings, as models/fashion/adapt_reference.py reads
// them: features (rows, D); labels and split (rows, 1) as float32 (split: 0 training
// image, 1 its view, 2 held-out image, 3 its view); head_w<i>/head_b<i> of the start
// head, PyTorch layout (out, in); options.json.
Status save_cache(const Settings& s, const AdaptSet& set, const AdaptResult& r, const ProjectionHead& start) {
  const std::string dir = s.save_cache + "/";
  std::vector<float> features, labels(set.rows()), split(set.rows());
  for (uint32_t row = 0; row < set.rows(); ++row) features.insert(features.end(), set.row(row), set.row(row) + set.feature_dim());
  std::vector<bool> held(set.items().size(), false);
  for (uint32_t i : r.split.holdout_items) held[i] = true;
  for (uint32_t i = 0; i < set.items().size(); ++i) {
    const AdaptItem& item = set.items()[i];
    for (uint32_t k = 0; k <= item.views; ++k) {
      const uint32_t row = k == 0 ? item.row : item.first_view + k - 1;
      labels[row] = static_cast<float>(item.group);
      split[row] = static_cast<float>((held[i] ? 2 : 0) + (k > 0 ? 1 : 0));
    }
  }
  EDGECLR_RETURN_IF_ERROR(write_npy(dir + "features.npy", features, set.rows(), set.feature_dim()));
  EDGECLR_RETURN_IF_ERROR(write_npy(dir + "labels.npy", labels, set.rows(), 1));
  EDGECLR_RETURN_IF_ERROR(write_npy(dir + "split.npy", split, set.rows(), 1));
  for (size_t l = 0; l < start.layers().size(); ++l) {
    const DenseLayer& layer = start.layers()[l];
    const std::string n = std::to_string(l + 1);
    EDGECLR_RETURN_IF_ERROR(write_npy(dir + "head_w" + n + ".npy", layer.weight, layer.out_dim, layer.in_dim));
    std::vector<float> bias = layer.bias.empty() ? std::vector<float>(layer.out_dim, 0.0f) : layer.bias;
    EDGECLR_RETURN_IF_ERROR(write_npy(dir + "head_b" + n + ".npy", bias, layer.out_dim, 1));
  }
  JsonWriter j;
  j.begin_object().key("temperature").value(s.train.temperature).key("lr").value(s.train.learning_rate);
  j.key("epochs").value(s.train.epochs).key("weight_decay").value(s.train.optimizer.weight_decay);
  j.key("pull").value(s.train.optimizer.pull).key("batch").value(s.train.batch).key("seed").value(s.train.seed);
  j.key("patience").value(s.train.patience).key("min_improvement").value(s.train.min_improvement);
  j.key("loss").value(adapt_loss_name(r.loss)).end_object();
  const std::string options = j.str() + "\n";
  return write_file_atomically(dir + "options.json", options.data(), options.size());
}

// The --save-cache folder, made before the work if it is not there (its parent must be
// writable); an existing one is reused, each file in it replaced atomically.
Status make_cache_folder(const std::string& folder) {
  EDGECLR_RETURN_IF_ERROR(check_output_folder(folder));
  if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
    return error(StatusCode::kIoError, format("cannot write '%s': mkdir: %s", folder.c_str(), std::strerror(errno)));
  }
  return Status::Ok();
}

// What save_cache writes, roughly: the features, two floats per row, and the start head.
uint64_t cache_bytes(const AdaptSet& set, const ProjectionHead& head) {
  uint64_t floats = uint64_t{set.rows()} * (set.feature_dim() + 2);
  for (const DenseLayer& l : head.layers()) floats += l.weight.size() + l.out_dim;
  return floats * sizeof(float) + 64 * 1024;  // headers and options.json
}

// What one run produced, for the report.
struct AdaptRun {
  AdaptResult result;
  uint64_t version = 0;
  double seconds = 0, cache_seconds = 0;
};

// Everything `edgeclr adapt` does once its arguments are parsed: open, check where the
// results go (before the long work, not after it), encode, train, save.
Result<AdaptRun> run_settings(const Settings& s) {
  const auto start = Clock::now();
  auto model = Model::open_file(s.model);
  if (!model.ok()) return model.status();
  auto encoder = Encoder::create(*model.value(), EncoderOptions{s.threads, 1});
  if (!encoder.ok()) return encoder.status();

  const ProjectionHead shipped = ProjectionHead::from_schema(model.value()->head(), model.value()->feature_dim());
  EDGECLR_RETURN_IF_ERROR(check_head_checkpoint_path(s.out, shipped));
  if (!s.save_cache.empty()) EDGECLR_RETURN_IF_ERROR(make_cache_folder(s.save_cache));

  AdaptInputs inputs(encoder.value().get(), s.kind, s.inputs);
  EDGECLR_RETURN_IF_ERROR(read_data(s, model.value()->input_spec().channels(), &inputs));
  if (!s.save_cache.empty()) EDGECLR_RETURN_IF_ERROR(check_output_folder(s.save_cache, cache_bytes(inputs.set(), shipped)));
  AdaptRun run;
  run.cache_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  auto outcome = run_adaptation(*model.value(), inputs.set(), s.head_in, s.out, s.train,
                                [](const EpochReport& e, uint32_t max_epochs) {
                                  show_progress("training", e.epoch, max_epochs,
                                                format("loss %.3f, validation %.3f (acc %.2f), rank %.1f", e.train_loss,
                                                       e.validation.loss, e.validation.accuracy, e.space.effective_rank));
                                });
  if (!outcome.ok()) return outcome.status();
  if (isatty(STDERR_FILENO) && outcome->result.epochs_run < s.train.epochs) std::fprintf(stderr, "\n");
  run.result = std::move(outcome->result);
  run.version = outcome->version;
  if (!s.save_cache.empty()) {
    auto start_head = s.head_in ? load_head_checkpoint(*s.head_in, *model.value(), nullptr) : Result<ProjectionHead>(shipped);
    if (!start_head.ok()) return start_head.status();
    EDGECLR_RETURN_IF_ERROR(save_cache(s, inputs.set(), run.result, *start_head));
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

const std::set<std::string> kValuedOptions = {"pairs", "groups", "unlabeled", "out",   "head",       "epochs",
                                              "loss",  "lr",     "seed",      "views", "limit",      "threads",
                                              "save-cache", "temperature", "pull"};

// Parses `edgeclr adapt`'s arguments (after the command name); the usage problem on failure.
std::optional<std::string> parse_command(int argc, char** argv, Args* args, Settings* s) {
  std::vector<char*> argv2 = expand_short_options(argc, argv);
  std::string error;
  if (!parse_args(argc, argv2.data(), {"json"}, kValuedOptions, args, &error)) return error;
  if (args->help) return std::nullopt;
  return parse_settings(*args, s);
}

}  // namespace

int run_adapt(int argc, char** argv) {
  Args args;
  Settings s;
  if (auto problem = parse_command(argc, argv, &args, &s)) return usage_error("adapt", *problem);
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  auto run = run_settings(s);
  if (!run.ok()) return fail(run.status().message());
  if (s.json) {
    std::printf("%s\n", report_json(s, run->result, run->version, run->seconds, run->cache_seconds).c_str());
  } else {
    print_text(s, run->result, run->version, run->seconds);
  }
  return kExitOk;
}

Result<std::string> adapt_report(const std::vector<std::string>& args) {
  std::vector<std::string> owned = args;  // parse_args takes char*
  std::vector<char*> argv;
  for (std::string& a : owned) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  Args parsed;
  Settings s;
  if (auto problem = parse_command(static_cast<int>(owned.size()), argv.data(), &parsed, &s)) {
    return error(StatusCode::kInvalidArgument, "adapt: " + *problem);
  }
  if (parsed.help) return error(StatusCode::kInvalidArgument, "adapt: --help is for the command line");
  auto run = run_settings(s);
  if (!run.ok()) return run.status();
  return report_json(s, run->result, run->version, run->seconds, run->cache_seconds);
}

}  // namespace edgeclr::cli
