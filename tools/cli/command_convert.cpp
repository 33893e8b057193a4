// edgeclr convert MODEL.onnx -o OUT.eclr [options]
#include <cstdio>
#include <sstream>
#include <string>

#include <unistd.h>

#include <algorithm>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "convert/calibrate.h"
#include "convert/convert.h"
#include "convert/replace_head.h"
#include "core/atomic_file.h"
#include "image/preprocess.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr convert MODEL.onnx -o OUT.eclr [--input-size HxW] [--channels 1|3]\n"
    "                       [--mean M[,M,M]] [--std S[,S,S]] [--resize stretch|crop]\n"
    "                       [--feature-output TENSOR] [--no-normalize] [--head HEAD.eclh]\n"
    "                       [--int8 --calibration DIR|IDX [--calibration-count N] [--holdout N]\n"
    "                        [--method minmax|percentile|mse] [--keep-fp32 LAYER,...] [--json]]\n\n"
    "Converts an ONNX model (opsets 11-17, as PyTorch exports it) into an fp32 .eclr model.\n"
    "BatchNorm is folded into the convolution before it; constant shape computations are\n"
    "folded away. The trailing chain of Gemm/MatMul(+Add) and Relu nodes becomes the\n"
    "projection head; what comes before is the backbone, whose output is the feature.\n"
    "Div and Sub by a constant become Mul and Add; a Softmax, LogSoftmax or ArgMax after\n"
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
    "  --feature-output TENSOR  ONNX value where the backbone ends; the nodes after it\n"
    "                           must be Gemm/MatMul/Add/Relu and become the head\n"
    "  --no-normalize           do not L2-normalise embeddings\n"
    "  --head HEAD.eclh         the head of this checkpoint instead of the ONNX file's: one\n"
    "                           that `edgeclr adapt` trained on this file's fp32\n"
    "                           conversion (it must be bound to that backbone); with\n"
    "                           --int8 the quantized backbone gets the same head\n\n"
    "int8 post-training quantization:\n"
    "  --int8                   write an int8 model: per-channel symmetric conv weights,\n"
    "                           per-tensor asymmetric activations, int32 biases; the head\n"
    "                           stays fp32. Ops this XNNPACK cannot run in int8 stay fp32.\n"
    "  --calibration DIR|IDX    images to calibrate on: a folder (recursive) or an IDX file\n"
    "                           (gzip or plain). They run through edgeclr's own runtime.\n"
    "  --calibration-count N    images [0, N) calibrate (default 500)\n"
    "  --holdout N              images [N, N + holdout) measure fidelity (default 200)\n"
    "  --method M               minmax (default), percentile (0.01%/99.99%), or mse\n"
    "                           (the range that minimises the quantization error)\n"
    "  --keep-fp32 LAYER,...    operators (ONNX node names) to keep in fp32\n"
    "  --json                   print the fidelity report as JSON on stdout: output,\n"
    "                           method, calibration_images, holdout_images, mean_cosine,\n"
    "                           min_cosine, layers [{op, tensor, sqnr_db}], worst_layers\n\n"
    "After an int8 conversion a fidelity report is printed: per-layer SQNR (dB) and the\n"
    "embedding cosine int8 vs fp32 on the held-out images. When the mean cosine is below\n"
    "0.99 it names the layers that lose most, to try with --keep-fp32.\n";

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

// Layers by SQNR, lowest first, at most `n`.
std::vector<convert::LayerFidelity> worst_layers(const convert::FidelityReport& report, size_t n) {
  std::vector<convert::LayerFidelity> sorted = report.layers;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.sqnr_db < b.sqnr_db; });
  sorted.resize(std::min(n, sorted.size()));
  return sorted;
}

void print_report(const convert::FidelityReport& r, const std::string& output, const std::string& method,
                  size_t calibration, bool json) {
  const auto worst = worst_layers(r, 3);
  if (json) {
    JsonWriter j;
    j.begin_object().key("output").value(output).key("precision").value("int8").key("method").value(method);
    j.key("calibration_images").value(uint64_t{calibration}).key("holdout_images").value(uint64_t{r.images});
    j.key("mean_cosine").value(r.mean_cosine).key("min_cosine").value(r.min_cosine);
    j.key("layers").begin_array();
    for (const auto& l : r.layers) {
      j.begin_object().key("op").value(l.op).key("tensor").value(l.tensor).key("sqnr_db").value(l.sqnr_db).end_object();
    }
    j.end_array().key("worst_layers").begin_array();
    for (const auto& l : worst) j.value(l.op);
    j.end_array().end_object();
    std::printf("%s\n", j.str().c_str());
    return;
  }
  std::printf("fidelity on %zu held-out images (int8 vs fp32):\n", r.images);
  int width = 40;  // the layer column fits the longest name
  for (const auto& l : r.layers) width = std::max(width, static_cast<int>(l.op.size()));
  std::printf("  %-*s %10s\n", width, "layer", "SQNR dB");
  for (const auto& l : r.layers) std::printf("  %-*s %10.1f\n", width, l.op.c_str(), l.sqnr_db);
  std::printf("embedding cosine: mean %.5f, min %.5f\n", r.mean_cosine, r.min_cosine);
  if (r.mean_cosine < 0.99 && !worst.empty()) {
    std::string names;
    for (const auto& l : worst) names += (names.empty() ? "" : ",") + l.op;
    std::printf("mean cosine is below 0.99; the layers that lose most: %s\n", names.c_str());
    std::printf("try: --keep-fp32 %s\n", names.c_str());
  }
}

// Calibrates, quantizes, measures; returns the int8 model's bytes.
int quantize(const std::vector<uint8_t>& fp32_bytes, Args& args, std::vector<uint8_t>* out) {
  std::string error;
  uint32_t count = 500, holdout = 200;
  if (!option_uint(args, "calibration-count", 500, 1, 1000000, &count, &error) ||
      !option_uint(args, "holdout", 200, 1, 1000000, &holdout, &error)) {
    return usage_error("convert", error);
  }
  bool method_ok = false;
  const std::string method_name = args.options.count("method") ? args.options["method"] : "minmax";
  const convert::CalibrationMethod method = parse_method(method_name, &method_ok);
  if (!method_ok) return usage_error("convert", "--method must be minmax, percentile or mse");
  convert::QuantizeOptions qopts;
  if (args.options.count("keep-fp32")) {
    std::stringstream ss(args.options["keep-fp32"]);
    std::string item;
    while (std::getline(ss, item, ',')) qopts.keep_fp32.insert(item);
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
  const size_t held = std::min<size_t>(holdout, images->size() - count);
  std::fprintf(stderr, "calibrating on %u images (%s)\n", count, method_name.c_str());
  auto ranges = convert::calibrate(*fp32.value(), images.value(), 0, count, method, print_progress);
  if (!ranges.ok()) return fail(ranges.status().message());
  auto builder = convert::quantize_model(*fp32.value(), ranges.value(), qopts);
  if (!builder.ok()) return fail(builder.status().message());
  *out = builder->finish();
  auto int8 = Model::open_buffer(out->data(), out->size(), "quantized model");
  if (!int8.ok()) return fail("internal error: " + int8.status().message());
  std::fprintf(stderr, "measuring fidelity on %zu held-out images\n", held);
  auto report = convert::measure_fidelity(*fp32.value(), *int8.value(), images.value(), count, held, print_progress);
  if (!report.ok()) return fail(report.status().message());
  print_report(report.value(), args.options["output"], method_name, count, args.has("json"));
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
  if (!parse_args(static_cast<int>(args_v.size()), args_v.data(), {"no-normalize", "int8", "json"},
                  {"output", "input-size", "channels", "mean", "std", "resize", "feature-output", "calibration",
                   "calibration-count", "holdout", "method", "keep-fp32", "head"},
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
  options.l2_normalize = !args.has("no-normalize");
  const std::string& onnx = args.positional[0];
  options.source_model = onnx.substr(onnx.find_last_of('/') == std::string::npos ? 0 : onnx.find_last_of('/') + 1);
  const bool int8 = args.has("int8");
  for (const char* option : {"calibration-count", "holdout", "method", "keep-fp32"}) {
    if (!int8 && args.options.count(option)) return usage_error("convert", std::string("--") + option + " only with --int8");
  }
  if (int8 != (args.options.count("calibration") != 0)) return usage_error("convert", "--int8 needs --calibration, and the reverse");
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
