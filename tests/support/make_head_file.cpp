// edgeclr-make-head MODEL OUT.eclh [--perturb SCALE] [--version N]: writes a head
// checkpoint for MODEL, for the CLI tests of --head (before `edgeclr adapt` exists to
// make real ones). The head is MODEL's own with every weight and bias value v_k (k
// counting through all layers, weights then biases) replaced by v_k + SCALE * sin(k + 1):
// SCALE 0 (the default) gives exactly MODEL's head. Prints the written head as JSON on
// stdout, {"l2_normalize", "layers": [{"in_dim", "out_dim", "activation", "weight",
// "bias"}]} with weight row-major (out_dim, in_dim), so a test can compute embeddings
// from features on its own.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "adapt/head_checkpoint.h"
#include "model/model.h"

using namespace edgeclr;

namespace {

void print_floats(const std::vector<float>& values) {
  std::printf("[");
  for (size_t i = 0; i < values.size(); ++i) std::printf("%s%.9g", i ? ", " : "", static_cast<double>(values[i]));
  std::printf("]");
}

void print_head(const ProjectionHead& head) {
  std::printf("{\"l2_normalize\": %s, \"layers\": [", head.l2_normalize() ? "true" : "false");
  for (size_t l = 0; l < head.layers().size(); ++l) {
    const DenseLayer& layer = head.layers()[l];
    std::printf("%s{\"in_dim\": %u, \"out_dim\": %u, \"activation\": \"%s\", \"weight\": ", l ? ", " : "", layer.in_dim,
                layer.out_dim, schema::EnumNameActivation(layer.activation));
    print_floats(layer.weight);
    std::printf(", \"bias\": ");
    print_floats(layer.bias);
    std::printf("}");
  }
  std::printf("]}\n");
}

int usage() {
  std::fprintf(stderr, "usage: edgeclr-make-head MODEL OUT.eclh [--perturb SCALE] [--version N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc % 2 == 0) return usage();
  double scale = 0.0;
  uint64_t version = 1;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    char* end = nullptr;
    if (name == "--perturb") {
      scale = std::strtod(argv[i + 1], &end);
    } else if (name == "--version") {
      version = std::strtoull(argv[i + 1], &end, 10);
    } else {
      return usage();
    }
    if (end == argv[i + 1] || *end != '\0') return usage();
  }
  auto model = Model::open_file(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "edgeclr-make-head: %s\n", model.status().message().c_str());
    return 1;
  }
  ProjectionHead head = ProjectionHead::from_schema(model.value()->head(), model.value()->feature_dim());
  size_t k = 0;
  for (DenseLayer& layer : head.mutable_layers()) {
    for (float& w : layer.weight) w += static_cast<float>(scale * std::sin(double(++k)));
    for (float& b : layer.bias) b += static_cast<float>(scale * std::sin(double(++k)));
  }
  HeadCheckpointInfo info;
  info.backbone_hash = model.value()->backbone_hash();
  info.version = version;
  const Status status = save_head_checkpoint(argv[2], head, info);
  if (!status.ok()) {
    std::fprintf(stderr, "edgeclr-make-head: %s\n", status.message().c_str());
    return 1;
  }
  print_head(head);
  return 0;
}
