// edgeclr bench-adapt MODEL --pairs N --epochs E [--data DIR|IDX] [--json]: the cost of
// adapting the head once the features are cached.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "adapt/adapt_inputs.h"
#include "adapt/adapt_trainer.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/peak_rss.h"
#include "dataset/image_set.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr bench-adapt MODEL [--pairs N] [--epochs E] [--data DIR|IDX] [--seed S] [--json]\n\n"
    "Measures adaptation: N pairs train (plus 25% more held out for validation, so that\n"
    "the held-out share is the default 20%), each an image and an augmented view of it,\n"
    "InfoNCE, E epochs without early stopping, on the calling thread. Images are the first\n"
    "ones of --data, or synthetic (seeded random blobs) without it. The backbone runs once\n"
    "per image (the feature cache); the epochs run the head only.\n\n"
    "options:\n"
    "  --pairs N    training pairs (default 1000)\n"
    "  --epochs E   epochs (default 20)\n"
    "  --data D     a folder or IDX file of images (default: synthetic images)\n"
    "  --seed S     seed (default 0)\n"
    "  --json       one JSON object: pairs, held_out, epochs, cache_seconds, train_seconds,\n"
    "               check_seconds, seconds_per_epoch, total_seconds, peak_rss_mb\n\n"
    "train_seconds is the optimiser steps; check_seconds the per-epoch validation and\n"
    "space measures; total_seconds both (after the cache); seconds_per_epoch = total / E.\n";

using Clock = std::chrono::steady_clock;

// A seeded gray image of a few soft blobs.
Image synthetic_image(uint32_t width, uint32_t height, Rng* rng) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = 1;
  image.pixels.assign(size_t{width} * height, 0);
  std::vector<float> v(image.pixels.size(), 0.0f);
  for (int blob = 0; blob < 3; ++blob) {
    const float cx = rng->uniform(0, float(width)), cy = rng->uniform(0, float(height));
    const float r = rng->uniform(2.0f, float(width) / 3), a = rng->uniform(0.3f, 1.0f);
    for (uint32_t y = 0; y < height; ++y) {
      for (uint32_t x = 0; x < width; ++x) {
        const float d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        v[size_t{y} * width + x] += a * std::exp(-d2 / (2 * r * r));
      }
    }
  }
  for (size_t i = 0; i < v.size(); ++i) image.pixels[i] = static_cast<uint8_t>(std::lround(std::min(v[i], 1.0f) * 255));
  return image;
}

// Adds `pairs` (anchor, augmented view) pairs to `inputs`.
Status make_pairs(const Model& model, const std::optional<dataset::ImageSet>& data, uint32_t pairs, uint64_t seed,
                  AdaptInputs* inputs) {
  const schema::InputSpec& spec = model.input_spec();
  Rng rng(seed);
  AugmentOptions augment;
  Image view;
  for (uint32_t i = 0; i < pairs; ++i) {
    Image image;
    if (data) {
      auto decoded = data->image(i % data->size());
      if (!decoded.ok()) return decoded.status();
      image = std::move(decoded).value();
    } else {
      image = synthetic_image(spec.width(), spec.height(), &rng);
    }
    augment_image(image, augment, spec.width(), spec.height(), &rng, &view);
    auto anchor = inputs->add_image(image.view(), 0);
    if (!anchor.ok()) return anchor.status();
    auto positive = inputs->add_image(view.view(), 0);
    if (!positive.ok()) return positive.status();
    EDGECLR_RETURN_IF_ERROR(inputs->add_pair(*anchor, *positive, {}));
  }
  return Status::Ok();
}

}  // namespace

int run_bench_adapt(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json"}, {"pairs", "epochs", "data", "seed"}, &args, &error)) {
    return usage_error("bench-adapt", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  uint32_t pairs = 1000, epochs = 20, seed = 0;
  if (!option_uint(args, "pairs", 1000, 4, 100000, &pairs, &error) ||
      !option_uint(args, "epochs", 20, 1, 10000, &epochs, &error) ||
      !option_uint(args, "seed", 0, 0, 0xffffffffu, &seed, &error)) {
    return usage_error("bench-adapt", error);
  }
  if (args.positional.size() != 1) return usage_error("bench-adapt", "expected one MODEL");
  auto model = Model::open_file(args.positional[0]);
  if (!model.ok()) return fail(model.status().message());
  std::optional<dataset::ImageSet> data;
  if (args.options.count("data")) {
    auto set = dataset::ImageSet::open(args.options.at("data"), model.value()->input_spec().channels());
    if (!set.ok()) return fail(set.status().message());
    if (set->size() == 0) return fail("no images in '" + args.options.at("data") + "'");
    data = std::move(set).value();
  }
  auto encoder = Encoder::create(*model.value(), EncoderOptions{1, 1});
  if (!encoder.ok()) return fail(encoder.status().message());

  AdaptOptions options;
  options.epochs = epochs;
  options.patience = epochs;  // no early stopping: every epoch is measured
  options.collapse_rank_ratio = 0;
  options.seed = seed;
  // Hold out the default 20% on top of `pairs` training pairs.
  const auto total = static_cast<uint32_t>(std::lround(pairs / (1.0 - options.holdout)));
  AdaptInputOptions input_options;
  input_options.views = 0;
  AdaptInputs inputs(encoder.value().get(), AdaptKind::kPairs, input_options);
  const auto t0 = Clock::now();
  const Status made = make_pairs(*model.value(), data, total, seed, &inputs);
  if (!made.ok()) return fail(made.message());
  const double cache_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  const ProjectionHead head = ProjectionHead::from_schema(model.value()->head(), model.value()->feature_dim());
  auto result = adapt_head(inputs.set(), head, head, options);
  if (!result.ok()) return fail(result.status().message());
  double train = 0, check = 0;
  for (const EpochReport& e : result->epochs) {
    train += e.train_seconds;
    check += e.check_seconds;
  }
  const double total_seconds = train + check;
  if (args.has("json")) {
    JsonWriter j;
    j.begin_object().key("pairs").value(result->train_items).key("held_out").value(result->holdout_items);
    j.key("epochs").value(result->epochs_run).key("cache_seconds").value(cache_seconds);
    j.key("train_seconds").value(train).key("check_seconds").value(check);
    j.key("seconds_per_epoch").value(total_seconds / result->epochs_run).key("total_seconds").value(total_seconds);
    j.key("peak_rss_mb").value(peak_rss_mb()).key("model").value(args.positional[0]).end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("pairs            %u train, %u held out (%s)\n", result->train_items, result->holdout_items,
                data ? "images from --data" : "synthetic images");
    std::printf("feature cache    %.3f s (%zu backbone runs)\n", cache_seconds, inputs.set().items().size());
    std::printf("epochs           %u\n", result->epochs_run);
    std::printf("training         %.3f s (optimiser steps)\n", train);
    std::printf("checks           %.3f s (validation and space, every epoch)\n", check);
    std::printf("per epoch        %.4f s\n", total_seconds / result->epochs_run);
    std::printf("total            %.3f s after the cache\n", total_seconds);
    std::printf("peak RSS         %.1f MB\n", peak_rss_mb());
  }
  return kExitOk;
}

}  // namespace edgeclr::cli
