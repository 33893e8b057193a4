// consumer: how similar two images are, with an installed edgeclr (edgeclr.hpp).
//
// usage: consumer MODEL IMAGE_A IMAGE_B
// Prints the library's version, the embedding size and the cosine similarity of the two
// images' embeddings; exits 1 with edgeclr's message on any failure.
#include <cstdio>
#include <vector>

#include <edgeclr/edgeclr.hpp>

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "consumer: %s: %s\n", what, edgeclr_last_error());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: consumer MODEL IMAGE_A IMAGE_B\n");
    return 2;
  }
  edgeclr::api::Model model;
  if (edgeclr::api::Model::open(argv[1], &model) != EDGECLR_OK) return fail("open model");
  edgeclr::api::Encoder encoder;
  if (edgeclr::api::Encoder::create(model, 1, 1, &encoder) != EDGECLR_OK) return fail("create encoder");

  const uint32_t dim = model.embedding_dim();
  std::vector<float> a(dim), b(dim);
  if (encoder.encode_file(argv[2], a.data()) != EDGECLR_OK) return fail(argv[2]);
  if (encoder.encode_file(argv[3], b.data()) != EDGECLR_OK) return fail(argv[3]);
  double cosine = 0;  // embeddings are L2-normalised: the dot product is the cosine
  for (uint32_t d = 0; d < dim; ++d) cosine += double{a[d]} * b[d];
  std::printf("edgeclr %s: embedding %u, cosine %.6f\n", edgeclr_version(), dim, cosine);
  return 0;
}
