// edgeclr: the command-line tool. Dispatches to one command per file.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "edgeclr/edgeclr.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

constexpr Command kCommands[] = {
    {"inspect", "show a model's input, operators, parameters, dimensions and hash",
     edgeclr::cli::run_inspect},
    {"embed", "print the embeddings (or features) of images, as text, JSON or .npy", edgeclr::cli::run_embed},
    {"similarity", "print the cosine similarity of two images", edgeclr::cli::run_similarity},
    {"convert", "convert an ONNX model into an .eclr model", edgeclr::cli::run_convert},
    {"search", "print the most similar gallery images of each image", edgeclr::cli::run_search},
    {"dedup", "print the groups of near-duplicate images in a folder", edgeclr::cli::run_dedup},
    {"gallery", "create, add to, remove from, re-project or export a persistent gallery (G.db)",
     edgeclr::cli::run_gallery},
    {"eval", "measure a labelled set: kNN, 1-NN and class-mean accuracy, recall@1, cosine gap",
     edgeclr::cli::run_eval},
    {"adapt", "train the projection head on your own pairs, groups or unlabeled images",
     edgeclr::cli::run_adapt},
    {"viz", "draw the embedding space of a labelled set (PCA, cosine histogram, figures) as PNG",
     edgeclr::cli::run_viz},
    {"bench-search", "measure gallery search (exact, int8, HNSW) against FAISS, and gallery writes",
     edgeclr::cli::run_bench_search},
    {"bench-adapt", "measure the time and memory of adapting the head on N pairs", edgeclr::cli::run_bench_adapt},
    {"bench", "measure open, create, first-embedding and per-call latency, and peak memory",
     edgeclr::cli::run_bench},
};

void print_usage() {
  std::printf(
      "usage: edgeclr COMMAND [ARGS...]\n"
      "       edgeclr COMMAND --help\n"
      "       edgeclr --version\n\n"
      "edgeclr runs contrastive image encoders (.eclr models) on small CPUs.\n\n"
      "commands:\n");
  for (const Command& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf(
      "\nexit codes: 0 success, 1 bad input (file, image, model), 2 bad usage.\n"
      "errors go to stderr as one line starting with 'edgeclr: '.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage();
    return edgeclr::cli::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    print_usage();
    return edgeclr::cli::kExitOk;
  }
  if (name == "--version") {
    std::printf("edgeclr %s (model format %u), XNNPACK %s\n", edgeclr_version(), edgeclr_format_version(),
                edgeclr_xnnpack_version());
    return edgeclr::cli::kExitOk;
  }
  for (const Command& c : kCommands) {
    if (name == c.name) return c.run(argc - 2, argv + 2);
  }
  std::fprintf(stderr, "edgeclr: unknown command '%s' (see 'edgeclr --help')\n", name.c_str());
  return edgeclr::cli::kExitUsage;
}
