// edgeclr embed MODEL IMAGE... and edgeclr similarity MODEL A B
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/cli_encoder.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/npy_writer.h"
#include "core/output_path.h"
#include "encoder/encoder.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kEmbedHelp =
    "usage: edgeclr embed MODEL IMAGE... [--head HEAD] [--threads N] [--feature]\n"
    "                     [--json | --npy FILE]\n\n"
    "Encodes each image (JPEG with EXIF orientation, PNG, BMP, PGM, PPM) with MODEL and\n"
    "prints its embedding (the L2-normalised head output), one line per image:\n"
    "'FILE v1 v2 ...'.\n\n"
    "options:\n"
    "  --head HEAD  use the head in checkpoint HEAD (.eclh) instead of MODEL's own; it\n"
    "               must have been saved for MODEL's backbone\n"
    "  --threads N  threads for the backbone (default 1)\n"
    "  --feature    output the feature (backbone output, which no head changes) instead\n"
    "               of the embedding\n"
    "  --json       print a JSON list of {\"file\": ..., \"embedding\": [...]} to stdout\n"
    "               (the key is \"feature\" with --feature)\n"
    "  --npy FILE   write an (N, dim) float32 NumPy array to FILE, rows in argument order\n";

constexpr const char* kSimilarityHelp =
    "usage: edgeclr similarity MODEL A B [--head HEAD] [--feature] [--threads N]\n\n"
    "Prints the cosine similarity of the embeddings of images A and B (from -1 to 1).\n\n"
    "options:\n"
    "  --head HEAD  compare embeddings made with the head in checkpoint HEAD (.eclh)\n"
    "               instead of MODEL's own head\n"
    "  --feature    compare features (backbone output) instead of embeddings\n"
    "  --threads N  threads for the backbone (default 1)\n";

struct Embedded {
  std::vector<float> values;  // rows x dim
  uint32_t dim = 0;
};

// Opens the model (with the head checkpoint `head_path`, when given) and encodes
// `files`; on failure prints the error and sets `*exit_code`.
bool embed_files(const std::string& model_path, const std::optional<std::string>& head_path,
                 const std::vector<std::string>& files, uint32_t threads, bool feature, Embedded* out,
                 int* exit_code) {
  auto opened = open_encoder(model_path, head_path, EncoderOptions{threads, 1});
  if (!opened.ok()) {
    *exit_code = fail(opened.status().message());
    return false;
  }
  Encoder& encoder = *opened->encoder;
  out->dim = feature ? encoder.feature_dim() : encoder.embedding_dim();
  out->values.assign(files.size() * out->dim, 0.0f);
  for (size_t i = 0; i < files.size(); ++i) {
    float* row = out->values.data() + i * out->dim;
    const Status status = encoder.encode_file(files[i], feature ? row : nullptr, feature ? nullptr : row);
    if (!status.ok()) {
      *exit_code = fail(status.message());
      return false;
    }
  }
  return true;
}

}  // namespace

int run_embed(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"feature", "json"}, {"threads", "npy", "head"}, &args, &error)) {
    return usage_error("embed", error);
  }
  if (args.help) {
    std::printf("%s", kEmbedHelp);
    return kExitOk;
  }
  uint32_t threads = 1;
  if (!option_uint(args, "threads", 1, 1, 256, &threads, &error)) return usage_error("embed", error);
  if (args.positional.size() < 2) return usage_error("embed", "expected MODEL and at least one IMAGE");
  if (args.has("json") && args.options.count("npy")) return usage_error("embed", "--json and --npy exclude each other");
  const std::vector<std::string> files(args.positional.begin() + 1, args.positional.end());
  if (args.options.count("npy")) {
    // Checked before encoding; the size needs the model's width, so only the folder here.
    const Status writable = check_output_path(args.options["npy"]);
    if (!writable.ok()) return fail(writable.message());
  }
  Embedded embedded;
  int exit_code = kExitOk;
  if (!embed_files(args.positional[0], head_option(args), files, threads, args.has("feature"), &embedded,
                   &exit_code)) {
    return exit_code;
  }
  const uint32_t dim = embedded.dim;
  if (args.options.count("npy")) {
    const Status status = write_npy(args.options["npy"], embedded.values, static_cast<uint32_t>(files.size()), dim);
    return status.ok() ? kExitOk : fail(status.message());
  }
  if (args.has("json")) {
    JsonWriter j;
    j.begin_array();
    for (size_t i = 0; i < files.size(); ++i) {
      j.begin_object().key("file").value(files[i]).key(args.has("feature") ? "feature" : "embedding").begin_array();
      for (uint32_t d = 0; d < dim; ++d) j.value(embedded.values[i * dim + d]);
      j.end_array().end_object();
    }
    j.end_array();
    std::printf("%s\n", j.str().c_str());
    return kExitOk;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    std::printf("%s", files[i].c_str());
    for (uint32_t d = 0; d < dim; ++d) std::printf(" %.6g", static_cast<double>(embedded.values[i * dim + d]));
    std::printf("\n");
  }
  return kExitOk;
}

int run_similarity(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"feature"}, {"threads", "head"}, &args, &error)) {
    return usage_error("similarity", error);
  }
  if (args.help) {
    std::printf("%s", kSimilarityHelp);
    return kExitOk;
  }
  uint32_t threads = 1;
  if (!option_uint(args, "threads", 1, 1, 256, &threads, &error)) return usage_error("similarity", error);
  if (args.positional.size() != 3) return usage_error("similarity", "expected MODEL A B");
  Embedded e;
  int exit_code = kExitOk;
  if (!embed_files(args.positional[0], head_option(args), {args.positional[1], args.positional[2]}, threads,
                   args.has("feature"), &e, &exit_code)) {
    return exit_code;
  }
  double dot = 0, na = 0, nb = 0;
  for (uint32_t d = 0; d < e.dim; ++d) {
    const double a = e.values[d], b = e.values[e.dim + d];
    dot += a * b;
    na += a * a;
    nb += b * b;
  }
  const double cosine = na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
  std::printf("%.6f\n", cosine);
  return kExitOk;
}

}  // namespace edgeclr::cli
