/* embed: print the embedding of each image with edgeclr's C API.
 *
 * usage: embed MODEL IMAGE...
 * A minimal program using only edgeclr.h: open a model, create an encoder, encode
 * files, clean up; every failure prints edgeclr_last_error() and exits with 1. */
#include <stdio.h>
#include <stdlib.h>

#include <edgeclr/edgeclr.h>

static int fail(const char* what) {
  fprintf(stderr, "embed: %s: %s\n", what, edgeclr_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: embed MODEL IMAGE...\n");
    return 2;
  }
  edgeclr_model* model = NULL;
  if (edgeclr_model_open(argv[1], &model) != EDGECLR_OK) return fail("open model");

  edgeclr_encoder* encoder = NULL;
  if (edgeclr_encoder_create(model, /*threads=*/1, /*batch=*/1, &encoder) != EDGECLR_OK) {
    edgeclr_model_close(model);
    return fail("create encoder");
  }
  const uint32_t dim = edgeclr_model_embedding_dim(model);
  float* embedding = malloc(dim * sizeof(float));
  int status = embedding == NULL ? 1 : 0;
  for (int i = 2; i < argc && status == 0; ++i) {
    if (edgeclr_encode_file(encoder, argv[i], embedding, NULL) != EDGECLR_OK) {
      status = fail(argv[i]);
      break;
    }
    printf("%s", argv[i]);
    for (uint32_t d = 0; d < dim; ++d) printf(" %.9g", embedding[d]);  /* 9 digits: exact for a float */
    printf("\n");
  }
  free(embedding);
  edgeclr_encoder_destroy(encoder);
  edgeclr_model_close(model);
  return status;
}
