// edgeclr bench MODEL [--threads N] [--batch B] [--runs R] [--image FILE] [--source WxH] [--profile] [--json]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "backbone/backbone.h"
#include "cli/peak_rss.h"
#include "edgeclr/edgeclr.h"
#include "encoder/encoder.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr bench MODEL [--threads N] [--batch B] [--runs R] [--image FILE]\n"
    "                     [--source WxH] [--profile] [--json]\n\n"
    "Measures MODEL on this machine: time to open (mmap + verify), to create the encoder\n"
    "(XNNPACK packs the weights), to the first embedding, then the latency of R encode\n"
    "calls of B synthetic images each (preprocessing + backbone + head), of R calls of the\n"
    "model alone (backbone + head on the same images already preprocessed), of\n"
    "preprocessing alone, the peak resident memory of the process until then, and the\n"
    "latency of the backbone alone (XNNPACK's part, on a second backbone of its own).\n\n"
    "With --image, each call is the whole path from an image file to its embedding: read\n"
    "the file, decode it (JPEG at the smallest DCT scale that covers the model's input),\n"
    "resize, normalise, backbone, head; batch is 1.\n\n"
    "options:\n"
    "  --threads N   backbone threads (default 1)\n"
    "  --batch B     images per encode call (default 1; 1 with --image)\n"
    "  --runs R      timed calls after the first (default 50)\n"
    "  --image FILE  time FILE to embedding instead of synthetic pixels\n"
    "  --source WxH  synthetic images of W x H pixels (default: the model's input size),\n"
    "                so that encode calls and preprocess_p50_ms include that resize\n"
    "                (e.g. 4000x3000: a 12 MP camera frame)\n"
    "  --profile     also XNNPACK's time per operator type (its basic profiling, R runs of\n"
    "                batch 1; needs XNNPACK 2024, Debian 13): key profile [{operator,\n"
    "                count, ms}] in --json. XNNPACK times each operator in whole\n"
    "                microseconds, so an operator under 1 us counts as 0\n"
    "  --json        one JSON object on stdout with keys open_ms, create_ms,\n"
    "                first_embedding_ms, p50_ms, p90_ms, per_image_p50_ms, model_p50_ms,\n"
    "                model_p90_ms, preprocess_p50_ms, backbone_p50_ms, peak_rss_mb,\n"
    "                threads, batch, runs, model, xnnpack (and image with --image)\n";

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  const size_t index = static_cast<size_t>(p * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[index];
}

// "WxH", each side 1..16384.
bool parse_source(const std::string& text, uint32_t* w, uint32_t* h, std::string* error) {
  const size_t x = text.find('x');
  if (x == std::string::npos) {
    *error = "--source: expected WxH, e.g. 4000x3000, got '" + text + "'";
    return false;
  }
  return parse_uint(text.substr(0, x), "source", 1, 16384, w, error) &&
         parse_uint(text.substr(x + 1), "source", 1, 16384, h, error);
}

// Latencies of `runs` calls of `call` (which returns a Status), in ms; stops at the first
// failure, which it returns.
template <typename Call>
Status time_calls(uint32_t runs, Call call, std::vector<double>* latencies) {
  latencies->clear();
  for (uint32_t r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    const Status status = call();
    latencies->push_back(ms_since(start));
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// A fixed pattern in [-1, 1] as the backbone's next input (timing does not depend on values).
float* fill_input(Backbone& b, const Model& model) {
  const TensorInfo& input = model.tensors()[model.backbone().input()];
  float* in = b.input_buffer();
  for (size_t i = 0; i < input.elements * b.batch(); ++i) in[i] = static_cast<float>(i % 255) / 127.0f - 1.0f;
  return in;
}

// p50 of the backbone alone (XNNPACK's part: no preprocessing, no head), on a Backbone of
// its own fed a fixed pattern, `runs` timed runs after a first one. Negative on failure.
double backbone_p50_ms(const Model& model, uint32_t threads, uint32_t batch, uint32_t runs, std::string* error) {
  auto backbone = Backbone::create(model, BackboneOptions{threads, batch, {}});
  if (!backbone.ok()) {
    *error = backbone.status().message();
    return -1;
  }
  Backbone& b = *backbone.value();
  float* in = fill_input(b, model);
  std::vector<float> feature(size_t{batch} * model.feature_dim());
  std::vector<double> latencies;
  for (uint32_t r = 0; r <= runs; ++r) {
    const auto start = Clock::now();
    const Status status = b.run(in, feature.data());
    if (!status.ok()) {
      *error = status.message();
      return -1;
    }
    if (r > 0) latencies.push_back(ms_since(start));
  }
  return percentile(latencies, 0.5);
}

struct ProfileRow {
  std::string name;
  uint32_t count = 0;     // XNNPACK operators of this name per run
  double ms_per_run = 0;  // their time, summed, averaged over the runs
};

// XNNPACK's per-operator times (XNNPACK 2024), summed by operator name over `runs` runs of a
// profiling backbone after a first, untimed one, most expensive first.
Status profile_backbone(const Model& model, uint32_t threads, uint32_t runs, std::vector<ProfileRow>* rows) {
  auto backbone = Backbone::create(model, BackboneOptions{threads, 1, {}, /*profile=*/true});
  if (!backbone.ok()) return backbone.status();
  Backbone& b = *backbone.value();
  float* in = fill_input(b, model);
  std::vector<float> feature(model.feature_dim());
  std::map<std::string, ProfileRow> by_name;
  std::vector<OperatorTime> times;
  EDGECLR_RETURN_IF_ERROR(b.run(in, feature.data()));  // warm-up: the first run also allocates
  for (uint32_t r = 0; r < runs; ++r) {
    EDGECLR_RETURN_IF_ERROR(b.run(in, feature.data()));
    EDGECLR_RETURN_IF_ERROR(b.operator_times(&times));
    for (const OperatorTime& t : times) {
      ProfileRow& row = by_name[t.name];
      row.name = t.name;
      if (r == 0) ++row.count;
      row.ms_per_run += t.microseconds / 1000.0 / runs;
    }
  }
  rows->clear();
  for (const auto& [name, row] : by_name) rows->push_back(row);
  std::sort(rows->begin(), rows->end(),
            [](const ProfileRow& a, const ProfileRow& c) { return a.ms_per_run > c.ms_per_run; });
  return Status::Ok();
}

}  // namespace

int run_bench(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json", "profile"}, {"threads", "batch", "runs", "image", "source"}, &args, &error)) {
    return usage_error("bench", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  uint32_t threads = 1, batch = 1, runs = 50;
  if (!option_uint(args, "threads", 1, 1, 256, &threads, &error) ||
      !option_uint(args, "batch", 1, 1, 4096, &batch, &error) ||
      !option_uint(args, "runs", 50, 1, 1000000, &runs, &error)) {
    return usage_error("bench", error);
  }
  if (args.positional.size() != 1) return usage_error("bench", "expected one MODEL file");
  const std::string image_path = args.options.count("image") ? args.options.at("image") : std::string();
  if (!image_path.empty() && batch != 1) return usage_error("bench", "--image takes --batch 1");
  uint32_t source_w = 0, source_h = 0;
  if (args.options.count("source") && !parse_source(args.options.at("source"), &source_w, &source_h, &error)) {
    return usage_error("bench", error);
  }

  const auto open_start = Clock::now();
  auto model = Model::open_file(args.positional[0]);
  if (!model.ok()) return fail(model.status().message());
  const double open_ms = ms_since(open_start);

  const auto create_start = Clock::now();
  auto encoder = Encoder::create(*model.value(), EncoderOptions{threads, batch});
  if (!encoder.ok()) return fail(encoder.status().message());
  const double create_ms = ms_since(create_start);

  // Synthetic RGB images (the model's input size, or --source), so no decoding is timed
  // (unless --image).
  const schema::InputSpec& in = model.value()->input_spec();
  const uint32_t image_w = source_w ? source_w : in.width(), image_h = source_h ? source_h : in.height();
  std::vector<uint8_t> pixels(size_t{image_h} * image_w * 3);
  std::mt19937 rng(7);
  for (uint8_t& p : pixels) p = static_cast<uint8_t>(rng());
  const PixelView view{pixels.data(), image_w, image_h, size_t{image_w} * 3, PixelFormat::kRGB};
  const std::vector<PixelView> views(batch, view);
  std::vector<float> embeddings(size_t{batch} * encoder.value()->embedding_dim());
  Encoder& enc = *encoder.value();
  const auto encode_once = [&]() {
    if (!image_path.empty()) return enc.encode_file(image_path, nullptr, embeddings.data());
    return enc.encode(views.data(), batch, nullptr, embeddings.data());
  };

  const auto first_start = Clock::now();
  Status status = encode_once();
  if (!status.ok()) return fail(status.message());
  const double first_ms = ms_since(first_start);

  std::vector<double> latencies;
  status = time_calls(runs, encode_once, &latencies);
  if (!status.ok()) return fail(status.message());
  const double p50 = percentile(latencies, 0.5), p90 = percentile(latencies, 0.9);

  // The model alone and preprocessing alone, on the same synthetic images.
  const PreprocessSpec spec = preprocess_spec_from(in);
  const size_t input_floats = size_t{spec.height} * spec.width * spec.channels;
  std::vector<float> tensor(input_floats * batch);
  const auto preprocess_all = [&]() {
    for (uint32_t i = 0; i < batch; ++i) EDGECLR_RETURN_IF_ERROR(preprocess(view, spec, tensor.data() + i * input_floats));
    return Status::Ok();
  };
  status = time_calls(runs, preprocess_all, &latencies);
  if (!status.ok()) return fail(status.message());
  const double preprocess_p50 = percentile(latencies, 0.5);
  status = time_calls(runs, [&]() { return enc.encode_tensor(tensor.data(), batch, nullptr, embeddings.data()); },
                      &latencies);
  if (!status.ok()) return fail(status.message());
  const double model_p50 = percentile(latencies, 0.5), model_p90 = percentile(latencies, 0.9);
  const double rss_mb = peak_rss_mb();  // before the second backbone below adds its weights
  // The encoder's thread pool goes first: two pools on the same cores fight (their
  // workers spin), which made the backbone alone 1000x slower than the encoder under ASan.
  encoder.value().reset();
  const double backbone_ms = backbone_p50_ms(*model.value(), threads, batch, runs, &error);
  if (backbone_ms < 0) return fail(error);
  std::vector<ProfileRow> profile;
  if (args.has("profile")) {
    const Status status = profile_backbone(*model.value(), threads, runs, &profile);
    if (!status.ok()) return fail(status.message());
  }
  if (args.has("json")) {
    JsonWriter j;
    j.begin_object().key("model").value(args.positional[0]);
    if (!image_path.empty()) j.key("image").value(image_path);
    j.key("open_ms").value(open_ms).key("create_ms").value(create_ms).key("first_embedding_ms").value(first_ms);
    j.key("p50_ms").value(p50).key("p90_ms").value(p90).key("per_image_p50_ms").value(p50 / batch);
    j.key("model_p50_ms").value(model_p50).key("model_p90_ms").value(model_p90);
    j.key("preprocess_p50_ms").value(preprocess_p50).key("backbone_p50_ms").value(backbone_ms);
    j.key("peak_rss_mb").value(rss_mb).key("threads").value(threads).key("batch").value(batch);
    j.key("runs").value(runs).key("xnnpack").value(edgeclr_xnnpack_version());
    if (args.has("profile")) {
      j.key("profile").begin_array();
      for (const ProfileRow& row : profile) {
        j.begin_object().key("operator").value(row.name).key("count").value(row.count);
        j.key("ms").value(row.ms_per_run).end_object();
      }
      j.end_array();
    }
    j.end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("model            %s\n", args.positional[0].c_str());
    if (!image_path.empty()) std::printf("image            %s (file to embedding per call)\n", image_path.c_str());
    if (source_w != 0) std::printf("source           %ux%u synthetic pixels\n", source_w, source_h);
    std::printf("threads, batch   %u, %u\n", threads, batch);
    std::printf("XNNPACK          %s\n", edgeclr_xnnpack_version());
    std::printf("open             %.3f ms\n", open_ms);
    std::printf("create encoder   %.3f ms\n", create_ms);
    std::printf("first embedding  %.3f ms\n", first_ms);
    std::printf("latency p50/p90  %.3f / %.3f ms per call of %u (%.3f ms per image), %u runs\n", p50, p90, batch,
                p50 / batch, runs);
    std::printf("model p50/p90    %.3f / %.3f ms per call (backbone + head, input already preprocessed)\n",
                model_p50, model_p90);
    std::printf("preprocess p50   %.3f ms per call (resize %ux%u + normalise, %u images)\n", preprocess_p50, image_w,
                image_h, batch);
    std::printf("backbone p50     %.3f ms per call (XNNPACK alone: no preprocessing, no head)\n", backbone_ms);
    std::printf("peak RSS         %.1f MB\n", rss_mb);
    if (args.has("profile")) {
      double total = 0;
      for (const ProfileRow& row : profile) total += row.ms_per_run;
      std::printf("\nXNNPACK operators, ms per run (batch 1, %u runs), %.3f ms in all:\n", runs, total);
      for (const ProfileRow& row : profile) {
        std::printf("  %8.3f  %5.1f%%  %3u x  %s\n", row.ms_per_run, total > 0 ? 100.0 * row.ms_per_run / total : 0.0,
                    row.count, row.name.c_str());
      }
      if (total == 0) std::printf("  (each operator took under 1 us: XNNPACK times them in whole microseconds)\n");
    }
  }
  return kExitOk;
}

}  // namespace edgeclr::cli
