/* bench/run's runner for edgeclr: what an app does, through the public C API only.
 *
 * usage: edgeclr-bench-runner MODEL INPUT.f32 OUTPUT.f32 THREADS SECONDS SPAWN_NS
 *
 * INPUT.f32 is one preprocessed input (height x width x channels float32, NHWC, little
 * endian). Opens MODEL, creates an encoder (THREADS threads, batch 1), encodes INPUT once
 * with edgeclr_encode_tensor (the backbone and head, no preprocessing) and writes the
 * embedding to OUTPUT.f32; then times encode calls for about SECONDS (at least 10, at most
 * 300 after one untimed warm-up call). SPAWN_NS is CLOCK_MONOTONIC in nanoseconds when
 * the parent started this process, so that the time from process start to the first
 * result includes exec and dynamic loading. Prints one JSON object:
 *   {"spawn_to_first_ms", "load_first_ms" (open + create + first encode, in-process),
 *    "open_ms", "create_ms", "first_ms", "p50_ms", "p90_ms", "runs", "peak_rss_mb"}
 * peak_rss_mb is VmHWM of /proc/self/status: this program's own peak (ru_maxrss from
 * wait4 would carry the parent's, which posix_spawn's vfork shares until exec).
 * Exit status 1 with a message on stderr on any failure. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgeclr/edgeclr.h"

enum { kMinRuns = 10, kMaxRuns = 300 };

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int fail(const char* what, const char* detail) {
  fprintf(stderr, "edgeclr-bench-runner: %s: %s\n", what, detail);
  return 1;
}

/* VmHWM of /proc/self/status in MB; -1 when unknown. */
static double peak_rss_mb(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  double kib = -1;
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "VmHWM:", 6) == 0) kib = strtod(line + 6, NULL);
  }
  fclose(f);
  return kib < 0 ? -1 : kib / 1024.0;
}

static int compare_doubles(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

/* Reads exactly `count` floats from `path`; 0 on success. */
static int read_floats(const char* path, float* out, size_t count) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return -1;
  const size_t got = fread(out, sizeof(float), count, f);
  const int extra = fgetc(f) != EOF;
  fclose(f);
  return got == count && !extra ? 0 : -1;
}

static int write_floats(const char* path, const float* data, size_t count) {
  FILE* f = fopen(path, "wb");
  if (f == NULL) return -1;
  const size_t put = fwrite(data, sizeof(float), count, f);
  return fclose(f) == 0 && put == count ? 0 : -1;
}

int main(int argc, char** argv) {
  if (argc != 7) return fail("usage", "edgeclr-bench-runner MODEL INPUT.f32 OUTPUT.f32 THREADS SECONDS SPAWN_NS");
  const unsigned threads = (unsigned)strtoul(argv[4], NULL, 10);
  const double seconds = strtod(argv[5], NULL);
  const double spawn_ms = strtod(argv[6], NULL) / 1e6;

  const double open_start = now_ms();
  edgeclr_model* model = NULL;
  if (edgeclr_model_open(argv[1], &model) != EDGECLR_OK) return fail(argv[1], edgeclr_last_error());
  const double create_start = now_ms();
  edgeclr_encoder* encoder = NULL;
  if (edgeclr_encoder_create(model, threads, 1, &encoder) != EDGECLR_OK) return fail(argv[1], edgeclr_last_error());
  const double first_start = now_ms();
  const size_t in_floats = (size_t)edgeclr_model_input_height(model) * edgeclr_model_input_width(model) *
                           edgeclr_model_input_channels(model);
  const size_t out_floats = edgeclr_model_embedding_dim(model);
  float* input = malloc(in_floats * sizeof(float));
  float* output = malloc(out_floats * sizeof(float));
  if (input == NULL || output == NULL) return fail("malloc", "out of memory");
  if (read_floats(argv[2], input, in_floats) != 0) return fail(argv[2], "not one input of the model's size");
  if (edgeclr_encode_tensor(encoder, input, 1, output, NULL) != EDGECLR_OK) return fail(argv[1], edgeclr_last_error());
  const double first_end = now_ms();
  if (write_floats(argv[3], output, out_floats) != 0) return fail(argv[3], "cannot write");

  double latencies[kMaxRuns];
  int runs = 0;
  edgeclr_encode_tensor(encoder, input, 1, output, NULL); /* warm-up, untimed */
  const double deadline = now_ms() + seconds * 1e3;
  while (runs < kMaxRuns && (runs < kMinRuns || now_ms() < deadline)) {
    const double start = now_ms();
    if (edgeclr_encode_tensor(encoder, input, 1, output, NULL) != EDGECLR_OK) return fail(argv[1], edgeclr_last_error());
    latencies[runs++] = now_ms() - start;
  }
  qsort(latencies, (size_t)runs, sizeof(double), compare_doubles);
  printf("{\"spawn_to_first_ms\": %.4f, \"load_first_ms\": %.4f, \"open_ms\": %.4f, \"create_ms\": %.4f, "
         "\"first_ms\": %.4f, \"p50_ms\": %.4f, \"p90_ms\": %.4f, \"runs\": %d, \"peak_rss_mb\": %.2f}\n",
         first_end - spawn_ms, first_end - open_start, create_start - open_start, first_start - create_start,
         first_end - first_start, latencies[runs / 2], latencies[(int)(0.9 * (runs - 1) + 0.5)], runs, peak_rss_mb());
  free(input);
  free(output);
  edgeclr_encoder_destroy(encoder);
  edgeclr_model_close(model);
  return 0;
}
