// edgeclr convert MODEL.onnx -o OUT.eclr [options]
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include <unistd.h>

#include <algorithm>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "convert/calibrate.h"
#include "convert/convert.h"
#include "convert/int8_pipeline.h"
#include "backbone/backbone.h"
#include "convert/replace_head.h"
#include "core/atomic_file.h"
#include "core/output_path.h"
#include "image/preprocess.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr convert MODEL.onnx -o OUT.eclr [--input-size HxW] [--channels 1|3]\n"
    "                       [--mean M[,M,M]] [--std S[,S,S]] [--resize stretch|crop]\n"
    "                       [--feature-output TENSOR [--pool cls|mean|cls+mean]]\n"
    "                       [--no-normalize] [--head HEAD.eclh]\n"
    "                       [--int8 --calibration DIR|IDX [--calibration-count N] [--holdout N]\n"
    "                        [--method minmax|percentile|mse] [--keep-fp32 LAYER,...]\n"
    "                        [--target-cosine X] [--equalize activations|weights|off]\n"
    "                        [--no-bias-correction] [--xnnpack 2022|2024] [--json]]\n\n"
    "Converts an ONNX model (opsets 7-17; to 22 where the linked ONNX is 1.17, Debian 13)\n"
    "into an fp32 .eclr model.\n"
    "BatchNorm is folded into the convolution before it; constant shape computations are\n"
    "folded away. The trailing chain of Gemm/MatMul(+Add) and Relu nodes becomes the\n"
    "projection head; what comes before is the backbone, whose output is the feature.\n"
    "Div and Sub by a constant become Mul and Add (tensor by tensor: divide and subtract);\n"
    "a Softmax, LogSoftmax or ArgMax after\n"
    "the last Gemm/MatMul is dropped with a note. Nothing is written when a node cannot be\n"
    "converted; the error names the node.\n\n"
    "options:\n"
    "  -o, --output FILE        where to write the model (atomically)\n"
    "  --input-size HxW         checked against the ONNX input (default: from the ONNX input);\n"
    "                           a dynamic height and width (dynamic_axes) are bound to it,\n"
    "                           and then it is required (a dynamic batch binds to 1)\n"
    "  --channels N             1 (gray) or 3 (RGB), checked against the ONNX input\n"
    "  --mean, --std            per-channel normalisation in [0,1] units (default: the\n"
    "                           ONNX metadata_props edgeclr.mean / edgeclr.std, else 0 and 1)\n"
    "  --resize stretch|crop    resize policy (default: metadata edgeclr.resize, else stretch)\n"
    "  --feature-output TENSOR  ONNX value where the backbone ends. Gemm/MatMul/Add/Relu\n"
    "                           nodes after it become the head; anything else after it\n"
    "                           is dropped (the embedding is then the feature)\n"
    "  --pool cls|mean|cls+mean the feature is a transformer's token tensor [1,T,C]: take\n"
    "                           the class token (token 0), the mean of the patch tokens\n"
    "                           (1..T-1), or both concatenated ([1,2C]); inspect shows it\n"
    "  --no-normalize           do not L2-normalise embeddings\n"
    "  --head HEAD.eclh         the head of this checkpoint instead of the ONNX file's: one\n"
    "                           that `edgeclr adapt` trained on this file's fp32\n"
    "                           conversion (it must be bound to that backbone); with\n"
    "                           --int8 the quantized backbone gets the same head\n\n"
    "int8 post-training quantization:\n"
    "  --int8                   write an int8 model: per-channel symmetric conv weights,\n"
    "                           per-tensor asymmetric activations, int32 biases; the head\n"
    "                           stays fp32. Ops the target XNNPACK cannot run in int8 stay\n"
    "                           fp32 (docs/xnnpack.md lists them). Transformers and hybrids\n"
    "                           (a model with layer norm, attention, ...) on XNNPACK 2024:\n"
    "                           every fully connected layer in int8 with per-channel weights\n"
    "                           and its input quantized per token when it runs (format 4);\n"
    "                           layer norm, softmax, GELU, attention products and residual\n"
    "                           adds stay fp32, so does the convolution reading the\n"
    "                           image (a patch embedding); other convolutions are\n"
    "                           static int8 as above\n"
    "  --xnnpack 2022|2024      the XNNPACK generation the model will run on (default: the\n"
    "                           one this edgeclr links, `edgeclr --version`). 2024 adds\n"
    "                           int8 hardswish and leaky relu and per-channel fully\n"
    "                           connected weights; a 2022 runtime refuses such a model,\n"
    "                           naming the op. Not above the linked one: fidelity is\n"
    "                           measured by running the model here\n"
    "  --calibration DIR|IDX    images to calibrate on: a folder (recursive) or an IDX file\n"
    "                           (gzip or plain). They run through edgeclr's own runtime.\n"
    "  --calibration-count N    images [0, N) calibrate (default 500)\n"
    "  --holdout N              images [N, N + holdout) measure fidelity (default 200)\n"
    "  --method M               percentile (default: 0.01%/99.99%), minmax, or mse (the\n"
    "                           range that minimises the quantization error)\n"
    "  --keep-fp32 LAYER,...    operators (ONNX node names) to keep in fp32\n"
    "  --target-cosine X        after calibration, keep the layers (or a layer with its\n"
    "                           readers, so that the activation between them stays fp32)\n"
    "                           that gain most in fp32, greedily, until the held-out mean\n"
    "                           embedding cosine reaches X (default 0.99; 0: no search).\n"
    "                           At most 8 steps; the first tries every layer, later ones\n"
    "                           the 12 best of the previous step\n"
    "  --equalize MODE          cross-layer equalization of conv -> conv pairs, an exact\n"
    "                           rewrite: activations (default: the channel ranges the\n"
    "                           calibration measured on the original model, against the\n"
    "                           next conv's weights; then it is calibrated again),\n"
    "                           weights (data-free, as Nagel et al.), off\n"
    "  --no-bias-correction     keep the mean output shift of the rounded weights (by\n"
    "                           default each int8 layer's bias absorbs it)\n"
    "  --json                   print the fidelity report as JSON on stdout: output,\n"
    "                           method, calibration_images, holdout_images, mean_cosine,\n"
    "                           min_cosine, plain_mean_cosine, plain_min_cosine,\n"
    "                           target_cosine, target_reached, kept_by_search,\n"
    "                           int8_mac_share, macs, equalized_channels,\n"
    "                           layers [{op, tensor, sqnr_db, plain_sqnr_db}]\n\n"
    "After an int8 conversion a fidelity report is printed: per-layer SQNR (dB) of plain\n"
    "int8 (no equalization, no bias correction, no search) and of the model written, the\n"
    "layers the search kept in fp32, the share of MACs in int8, and the embedding cosine\n"
    "int8 vs fp32 on the held-out images.\n";

bool parse_size(const std::string& text, uint32_t* h, uint32_t* w) {
  const size_t x = text.find('x');
  std::string error;
  return x != std::string::npos && parse_uint(text.substr(0, x), "input-size", 1, 4096, h, &error) &&
         parse_uint(text.substr(x + 1), "input-size", 1, 4096, w, &error);
}

bool parse_list(const std::string& text, std::vector<float>* out) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end != '\0') return false;
    out->push_back(v);
  }
  return !out->empty() && out->size() <= 3;
}

void print_progress(size_t done, size_t total) {
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r  %zu/%zu images", done, total);
    if (done == total) std::fprintf(stderr, "\n");
  } else if (done == total || done % std::max<size_t>(1, total / 10) == 0) {
    std::fprintf(stderr, "  %zu/%zu images\n", done, total);
  }
}

convert::CalibrationMethod parse_method(const std::string& m, bool* ok) {
  *ok = m == "minmax" || m == "percentile" || m == "mse";
  if (m == "percentile") return convert::CalibrationMethod::kPercentile;
  if (m == "mse") return convert::CalibrationMethod::kMse;
  return convert::CalibrationMethod::kMinMax;
}

void print_line(const char* line) { std::fprintf(stderr, "%s\n", line); }

// SQNR of `report`'s layer of that name, or NaN when it is not int8 there.
double sqnr_in(const convert::FidelityReport& report, const std::string& op) {
  for (const auto& l : report.layers) {
    if (l.op == op) return l.sqnr_db;
  }
  return std::nan("");
}

const char* stop_reason(convert::SearchStop stop) {
  switch (stop) {
    case convert::SearchStop::kNoGain: return "no layer tried in the last step raised the mean on the calibration images";
    case convert::SearchStop::kStepLimit: return "the search stopped after its step limit";
    case convert::SearchStop::kNoUnits: return "every int8 layer is already fp32";
    default: return "";
  }
}

void print_json_report(const convert::Int8Result& r, const std::string& output, const std::string& method,
                       size_t calibration, double target) {
  const convert::FidelityReport& a = r.after;
  JsonWriter j;
  j.begin_object().key("output").value(output).key("precision").value("int8").key("method").value(method);
  j.key("calibration_images").value(uint64_t{calibration}).key("holdout_images").value(uint64_t{a.images});
  j.key("mean_cosine").value(a.mean_cosine).key("min_cosine").value(a.min_cosine);
  j.key("plain_mean_cosine").value(r.before.mean_cosine).key("plain_min_cosine").value(r.before.min_cosine);
  j.key("target_cosine").value(target).key("target_reached").value(r.target_reached);
  j.key("int8_mac_share").value(r.int8_mac_share).key("macs").value(r.total_macs);
  j.key("equalized_channels").value(uint64_t{r.equalization.scaled});
  j.key("kept_by_search").begin_array();
  for (const auto& name : r.kept_by_search) j.value(name);
  j.end_array().key("layers").begin_array();
  for (const auto& l : r.before.layers) {  // every layer plain int8 has; the written SQNR when still int8
    j.begin_object().key("op").value(l.op).key("tensor").value(l.tensor).key("plain_sqnr_db").value(l.sqnr_db);
    const double after = sqnr_in(a, l.op);
    if (!std::isnan(after)) j.key("sqnr_db").value(after);
    j.end_object();
  }
  j.end_array().end_object();
  std::printf("%s\n", j.str().c_str());
}

void print_report(const convert::Int8Result& r, const std::string& output, const std::string& method,
                  size_t calibration, double target, bool json) {
  if (json) return print_json_report(r, output, method, calibration, target);
  const convert::FidelityReport& a = r.after;
  std::printf("fidelity on %zu held-out images (int8 vs fp32):\n", a.images);
  int width = 40;  // the layer column fits the longest name
  for (const auto& l : r.before.layers) width = std::max(width, static_cast<int>(l.op.size()));
  std::printf("  %-*s %13s %10s\n", width, "layer", "plain SQNR dB", "SQNR dB");
  for (const auto& l : r.before.layers) {
    const double after = sqnr_in(a, l.op);
    if (std::isnan(after)) {
      std::printf("  %-*s %13.1f %10s\n", width, l.op.c_str(), l.sqnr_db, "fp32");
    } else {
      std::printf("  %-*s %13.1f %10.1f\n", width, l.op.c_str(), l.sqnr_db, after);
    }
  }
  std::printf("plain int8 (no equalization, no bias correction): embedding cosine mean %.5f, min %.5f\n",
              r.before.mean_cosine, r.before.min_cosine);
  if (!r.kept_by_search.empty()) {
    std::string names;
    for (const auto& n : r.kept_by_search) names += (names.empty() ? "" : ",") + n;
    std::printf("kept in fp32 by the search for mean cosine %.4f: %s\n", target, names.c_str());
  }
  std::printf("int8 share of the backbone's %.1fM MACs: %.1f%%\n", r.total_macs / 1e6, 100.0 * r.int8_mac_share);
  std::printf("embedding cosine: mean %.5f, min %.5f\n", a.mean_cosine, a.min_cosine);
  if (!r.target_reached) {
    std::printf("the target mean cosine %.4f was not reached: %s\n", target, stop_reason(r.search_stop));
  }
}

void print_search_progress(size_t done, size_t total) {
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r  %zu/%zu candidates", done, total);
    if (done == total) std::fprintf(stderr, "\n");
  } else if (done == total) {
    std::fprintf(stderr, "  %zu/%zu candidates\n", done, total);
  }
}

bool parse_equalization(const std::string& v, convert::Equalization* out) {
  if (v == "activations") *out = convert::Equalization::kActivations;
  else if (v == "weights") *out = convert::Equalization::kWeights;
  else if (v == "off") *out = convert::Equalization::kOff;
  else return false;
  return true;
}

// Equalizes, calibrates, quantizes, measures (see convert/int8_pipeline.h); returns the
// int8 model's bytes.
int quantize(const std::vector<uint8_t>& fp32_bytes, Args& args, std::vector<uint8_t>* out) {
  std::string error;
  uint32_t count = 500, holdout = 200;
  if (!option_uint(args, "calibration-count", 500, 1, 1000000, &count, &error) ||
      !option_uint(args, "holdout", 200, 1, 1000000, &holdout, &error)) {
    return usage_error("convert", error);
  }
  bool method_ok = false;
  const std::string method_name = args.options.count("method") ? args.options["method"] : "percentile";
  convert::Int8Options o;
  o.method = parse_method(method_name, &method_ok);
  if (!method_ok) return usage_error("convert", "--method must be minmax, percentile or mse");
  if (args.options.count("equalize") && !parse_equalization(args.options["equalize"], &o.equalization)) {
    return usage_error("convert", "--equalize must be activations, weights or off");
  }
  if (args.options.count("target-cosine")) {
    char* end = nullptr;
    const std::string& text = args.options["target-cosine"];
    o.target_cosine = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(o.target_cosine >= 0.0 && o.target_cosine <= 1.0)) {
      return usage_error("convert", "--target-cosine must be a number in [0, 1] (0: no search)");
    }
  }
  o.quantize.bias_correction = !args.has("no-bias-correction");
  if (args.options.count("xnnpack")) {
    const std::string& api = args.options["xnnpack"];
    const uint32_t linked = xnnpack_info().api;
    if (api != "2022" && api != "2024") return usage_error("convert", "--xnnpack must be 2022 or 2024");
    o.quantize.xnnpack_api = static_cast<uint32_t>(std::stoul(api));
    if (o.quantize.xnnpack_api > linked) {
      return usage_error("convert", format("--xnnpack %s: this edgeclr links XNNPACK %s and measures int8 fidelity "
                                           "on it; convert on a system with XNNPACK %s (Debian 13)",
                                           api.c_str(), xnnpack_info().label, api.c_str()));
    }
  }
  if (args.options.count("keep-fp32")) {
    std::stringstream ss(args.options["keep-fp32"]);
    std::string item;
    while (std::getline(ss, item, ',')) o.quantize.keep_fp32.insert(item);
  }
  auto fp32 = Model::open_buffer(fp32_bytes.data(), fp32_bytes.size(), "converted fp32 model");
  if (!fp32.ok()) return fail(fp32.status().message());
  auto images = dataset::ImageSet::open(args.options["calibration"], fp32.value()->input_spec().channels());
  if (!images.ok()) return fail(images.status().message());
  images->set_decode_target(decode_target_for(preprocess_spec_from(fp32.value()->input_spec())));
  if (images->size() <= count) {
    return fail(format("--calibration '%s' has %zu images; calibration takes %u and at least one more is needed "
                       "for the held-out fidelity check", args.options["calibration"].c_str(), images->size(), count));
  }
  o.calibration_count = count;
  o.holdout = std::min<size_t>(holdout, images->size() - count);
  o.progress = print_progress;
  o.search_progress = print_search_progress;
  o.log = print_line;
  auto result = convert::quantize_to_int8(*fp32.value(), images.value(), o);
  if (!result.ok()) return fail(result.status().message());
  if (o.equalization != convert::Equalization::kOff) {
    const auto& eq = result->equalization;
    std::fprintf(stderr, "cross-layer equalization: %zu conv pairs, %zu of %zu channels rescaled (%zu held for ReLU6)\n",
                 eq.pairs, eq.scaled, eq.channels, eq.clamp_limited);
  }
  print_report(result.value(), args.options["output"], method_name, count, o.target_cosine, args.has("json"));
  *out = std::move(result->bytes);
  return kExitOk;
}

}  // namespace

int run_convert(int argc, char** argv) {
  // -o is the one short option; map it before the generic parser.
  std::vector<std::string> storage(argv, argv + argc);
  for (std::string& a : storage) {
    if (a == "-o") a = "--output";
  }
  std::vector<char*> args_v;
  for (std::string& a : storage) args_v.push_back(&a[0]);
  Args args;
  std::string error;
  if (!parse_args(static_cast<int>(args_v.size()), args_v.data(), {"no-normalize", "int8", "json", "no-bias-correction"},
                  {"output", "input-size", "channels", "mean", "std", "resize", "feature-output", "pool", "calibration",
                   "calibration-count", "holdout", "method", "keep-fp32", "head", "equalize", "target-cosine",
                   "xnnpack"},
                  &args, &error)) {
    return usage_error("convert", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  if (args.positional.size() != 1) return usage_error("convert", "expected one MODEL.onnx");
  if (!args.options.count("output")) return usage_error("convert", "missing -o OUT.eclr");
  convert::LowerOptions options;
  if (args.options.count("input-size") &&
      !parse_size(args.options["input-size"], &options.input.height, &options.input.width)) {
    return usage_error("convert", "--input-size must be HxW, e.g. 224x224");
  }
  if (!option_uint(args, "channels", 0, 1, 3, &options.input.channels, &error)) return usage_error("convert", error);
  if (args.options.count("mean") && !parse_list(args.options["mean"], &options.input.mean)) {
    return usage_error("convert", "--mean must be 1 or 3 comma-separated numbers");
  }
  if (args.options.count("std") && !parse_list(args.options["std"], &options.input.std)) {
    return usage_error("convert", "--std must be 1 or 3 comma-separated numbers");
  }
  options.input.resize = args.options.count("resize") ? args.options["resize"] : "";
  if (!options.input.resize.empty() && options.input.resize != "stretch" && options.input.resize != "crop") {
    return usage_error("convert", "--resize must be stretch or crop");
  }
  options.feature_output = args.options.count("feature-output") ? args.options["feature-output"] : "";
  options.token_pool = args.options.count("pool") ? args.options["pool"] : "";
  if (!options.token_pool.empty() && options.token_pool != "cls" && options.token_pool != "mean" &&
      options.token_pool != "cls+mean") {
    return usage_error("convert", "--pool must be cls, mean or cls+mean");
  }
  options.l2_normalize = !args.has("no-normalize");
  const std::string& onnx = args.positional[0];
  options.source_model = onnx.substr(onnx.find_last_of('/') == std::string::npos ? 0 : onnx.find_last_of('/') + 1);
  const bool int8 = args.has("int8");
  for (const char* option : {"calibration-count", "holdout", "method", "keep-fp32", "no-bias-correction", "equalize",
                             "target-cosine", "xnnpack"}) {
    if (!int8 && (args.options.count(option) || args.has(option))) return usage_error("convert", std::string("--") + option + " only with --int8");
  }
  if (int8 != (args.options.count("calibration") != 0)) return usage_error("convert", "--int8 needs --calibration, and the reverse");
  // The output is checked before the conversion (minutes with --int8), not after: room
  // for a model as large as the ONNX file (fp32 weights; int8 needs less).
  struct stat onnx_stat;
  const uint64_t onnx_bytes = ::stat(onnx.c_str(), &onnx_stat) == 0 ? static_cast<uint64_t>(onnx_stat.st_size) : 0;
  const Status writable = check_output_path(args.options["output"], onnx_bytes);
  if (!writable.ok()) return fail(writable.message());
  std::vector<std::string> notes;
  auto bytes = convert::convert_onnx_fp32(onnx, options, &notes);
  if (!bytes.ok()) return fail(bytes.status().message());
  for (const std::string& note : notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  std::vector<uint8_t> file = std::move(bytes).value();
  if (args.options.count("head")) {
    auto with_head = convert::replace_head(file, args.options["head"]);
    if (!with_head.ok()) return fail(with_head.status().message());
    file = std::move(with_head).value();
  }
  if (int8) {
    std::vector<uint8_t> quantized;
    const int code = quantize(file, args, &quantized);
    if (code != kExitOk) return code;
    file = std::move(quantized);
  }
  const Status written = write_file_atomically(args.options["output"], file.data(), file.size());
  if (!written.ok()) return fail(written.message());
  std::fprintf(args.has("json") ? stderr : stdout, "wrote %s (%zu bytes, %s)\n", args.options["output"].c_str(),
               file.size(), int8 ? "int8" : "fp32");
  return kExitOk;
}

}  // namespace edgeclr::cli
