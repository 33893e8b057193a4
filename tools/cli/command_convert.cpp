// edgeclr convert MODEL.onnx -o OUT.eclr [options]
#include <cstdio>
#include <sstream>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "convert/convert.h"
#include "core/atomic_file.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr convert MODEL.onnx -o OUT.eclr [--input-size HxW] [--channels 1|3]\n"
    "                       [--mean M[,M,M]] [--std S[,S,S]] [--resize stretch|crop]\n"
    "                       [--feature-output TENSOR] [--no-normalize]\n\n"
    "Converts an ONNX model (opsets 11-17, as PyTorch exports it) into an fp32 .eclr model.\n"
    "BatchNorm is folded into the convolution before it; constant shape computations are\n"
    "folded away. The trailing chain of Gemm/MatMul(+Add) and Relu nodes becomes the\n"
    "projection head; what comes before is the backbone, whose output is the feature.\n"
    "Nothing is written when a node cannot be converted; the error names the node.\n\n"
    "options:\n"
    "  -o, --output FILE        where to write the model (atomically)\n"
    "  --input-size HxW         checked against the ONNX input (default: from the ONNX input)\n"
    "  --channels N             1 (gray) or 3 (RGB), checked against the ONNX input\n"
    "  --mean, --std            per-channel normalisation in [0,1] units (default: the\n"
    "                           ONNX metadata_props edgeclr.mean / edgeclr.std, else 0 and 1)\n"
    "  --resize stretch|crop    resize policy (default: metadata edgeclr.resize, else stretch)\n"
    "  --feature-output TENSOR  ONNX value where the backbone ends; the nodes after it\n"
    "                           must be Gemm/MatMul/Add/Relu and become the head\n"
    "  --no-normalize           do not L2-normalise embeddings\n";

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
  if (!parse_args(static_cast<int>(args_v.size()), args_v.data(), {"no-normalize"},
                  {"output", "input-size", "channels", "mean", "std", "resize", "feature-output"}, &args, &error)) {
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
  auto bytes = convert::convert_onnx_fp32(onnx, options);
  if (!bytes.ok()) return fail(bytes.status().message());
  const Status written = write_file_atomically(args.options["output"], bytes->data(), bytes->size());
  if (!written.ok()) return fail(written.message());
  std::printf("wrote %s (%zu bytes, fp32)\n", args.options["output"].c_str(), bytes->size());
  return kExitOk;
}

}  // namespace edgeclr::cli
