/* edgeclr: contrastive image encoders on small CPUs. The stable C ABI.
 *
 * Conventions
 * - Every function that can fail returns edgeclr_status. On failure, a one-line message
 *   is available from edgeclr_last_error() on the same thread.
 * - Handles are opaque. A handle returned through an out-parameter is owned by the
 *   caller and released with the matching _close/_destroy function; passing NULL to
 *   those is a no-op.
 * - No exception, abort or exit crosses this boundary, whatever the input.
 * - Thread-safety: an edgeclr_model is immutable once open and may be used from any
 *   number of threads at once; an edgeclr_encoder by one thread at a time.
 */
#ifndef EDGECLR_H_
#define EDGECLR_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EDGECLR_API __attribute__((visibility("default")))
#else
#define EDGECLR_API
#endif

typedef enum edgeclr_status {
  EDGECLR_OK = 0,
  EDGECLR_INVALID_ARGUMENT = 1, /* null pointer, bad size, bad option */
  EDGECLR_INVALID_MODEL = 2,    /* a model file failed verification */
  EDGECLR_UNSUPPORTED = 3,      /* valid, but this build cannot run it (e.g. newer format) */
  EDGECLR_IO_ERROR = 4,         /* open/read/mmap failed */
  EDGECLR_OUT_OF_MEMORY = 5,
  EDGECLR_INTERNAL = 6          /* a bug in edgeclr; please report it */
} edgeclr_status;

/* A verified, read-only model (.eclr file). */
typedef struct edgeclr_model edgeclr_model;

/* Turns images into features and embeddings with one model. Owns its threads and
 * buffers. Use one encoder from one thread at a time; create one encoder per thread
 * (they may share a model). */
typedef struct edgeclr_encoder edgeclr_encoder;

typedef enum edgeclr_pixel_format {
  EDGECLR_PIXEL_GRAY8 = 0, /* 1 byte per pixel */
  EDGECLR_PIXEL_RGB8 = 1,  /* 3 bytes: R, G, B */
  EDGECLR_PIXEL_RGBA8 = 2, /* 4 bytes: R, G, B, A (alpha ignored) */
  EDGECLR_PIXEL_BGRA8 = 3  /* 4 bytes: B, G, R, A (alpha ignored), as Android and iOS cameras give */
} edgeclr_pixel_format;

/* Pixels in memory, e.g. a camera frame. Only read during the call that takes it. */
typedef struct edgeclr_image {
  const uint8_t* data;
  uint32_t width;
  uint32_t height;
  size_t stride_bytes; /* bytes from one row to the next, >= width x bytes per pixel */
  edgeclr_pixel_format format;
} edgeclr_image;

/* Library version, "MAJOR.MINOR.PATCH". Static storage. */
EDGECLR_API const char* edgeclr_version(void);

/* The XNNPACK this library was built against, e.g. "2024-11-08 (2024 API)": its
 * generation decides which operators run in int8 (docs/xnnpack.md). Static storage. */
EDGECLR_API const char* edgeclr_xnnpack_version(void);

/* The .eclr format version this build writes and the newest it reads. */
EDGECLR_API uint32_t edgeclr_format_version(void);

/* Message of the last failure on the calling thread, "" if none. Valid until the next
 * edgeclr call on this thread. */
EDGECLR_API const char* edgeclr_last_error(void);

/* Short name of a status code ("invalid model"). Static storage. */
EDGECLR_API const char* edgeclr_status_string(edgeclr_status status);

/* Maps `path` read-only and verifies it. `path` is only read during the call.
 * On success *out owns the model; on failure *out is set to NULL. */
EDGECLR_API edgeclr_status edgeclr_model_open(const char* path, edgeclr_model** out);

/* Verifies a model held in memory. When `data` is 64-byte aligned it is used in place
 * and must stay valid and unchanged until edgeclr_model_close; otherwise it is copied
 * and may be freed when this returns. */
EDGECLR_API edgeclr_status edgeclr_model_open_buffer(const void* data, size_t size, edgeclr_model** out);

EDGECLR_API void edgeclr_model_close(edgeclr_model* model);

/* Input the model expects: height, width and channels (1 gray, 3 RGB) after
 * preprocessing. */
EDGECLR_API uint32_t edgeclr_model_input_height(const edgeclr_model* model);
EDGECLR_API uint32_t edgeclr_model_input_width(const edgeclr_model* model);
EDGECLR_API uint32_t edgeclr_model_input_channels(const edgeclr_model* model);

/* Length of a feature (backbone output) and of an embedding (head output). */
EDGECLR_API uint32_t edgeclr_model_feature_dim(const edgeclr_model* model);
EDGECLR_API uint32_t edgeclr_model_embedding_dim(const edgeclr_model* model);

/* Hash of the backbone's content; adapted heads are bound to it. */
EDGECLR_API uint64_t edgeclr_model_backbone_hash(const edgeclr_model* model);

/* Creates an encoder for `model`, which must outlive it. `threads`: 1 runs on the calling
 * thread (the default to choose when unsure), N > 1 uses a pool of N threads. `batch`:
 * the most images one edgeclr_encode_batch call takes (the backbone is built for
 * exactly this batch; shapes are static). XNNPACK packs the weights here, so creation
 * takes longer than one encode. */
EDGECLR_API edgeclr_status edgeclr_encoder_create(const edgeclr_model* model, uint32_t threads, uint32_t batch,
                                                  edgeclr_encoder** out);

EDGECLR_API void edgeclr_encoder_destroy(edgeclr_encoder* encoder);

EDGECLR_API uint32_t edgeclr_encoder_batch(const edgeclr_encoder* encoder);

/* Decodes an image file (JPEG with EXIF orientation, PNG, BMP, PGM, PPM) and encodes it.
 * `embedding` receives edgeclr_model_embedding_dim floats, `feature`
 * edgeclr_model_feature_dim floats; either may be NULL. */
EDGECLR_API edgeclr_status edgeclr_encode_file(edgeclr_encoder* encoder, const char* path, float* embedding,
                                               float* feature);

/* Encodes pixels in memory. No heap allocation. Outputs as for edgeclr_encode_file. */
EDGECLR_API edgeclr_status edgeclr_encode_image(edgeclr_encoder* encoder, const edgeclr_image* image,
                                                float* embedding, float* feature);

/* Encodes `count` <= batch images in one backbone run. `embeddings` receives count x
 * embedding_dim floats, row by row; `features` count x feature_dim; either may be NULL.
 * No heap allocation. */
EDGECLR_API edgeclr_status edgeclr_encode_batch(edgeclr_encoder* encoder, const edgeclr_image* images,
                                                uint32_t count, float* embeddings, float* features);

/* Encodes `count` <= batch inputs that the caller has already preprocessed: `input` holds
 * count x height x width x channels floats (NHWC, the model's input size, normalised
 * with the model's mean and std; edgeclr_model_input_*). The backbone and head only, for
 * apps with their own preprocessing. Outputs as for edgeclr_encode_batch. No heap
 * allocation. */
EDGECLR_API edgeclr_status edgeclr_encode_tensor(edgeclr_encoder* encoder, const float* input, uint32_t count,
                                                 float* embeddings, float* features);

/* Replaces the encoder's head with an adapted one from a head checkpoint (.eclh, written
 * by edgeclr_adapter_run or `edgeclr adapt`). Refused, with the encoder unchanged, when
 * the file is corrupt or was trained for another backbone (EDGECLR_INVALID_MODEL) or
 * cannot be read (EDGECLR_IO_ERROR). Allocates here; encoding stays allocation-free. */
EDGECLR_API edgeclr_status edgeclr_encoder_load_head(edgeclr_encoder* encoder, const char* path);

/* ---- On-device adaptation ----------------------------------------------------------
 * Trains the projection head (the backbone stays frozen) on the user's own data:
 *   1. edgeclr_adapter_create with an encoder of the model;
 *   2. add images (each runs the backbone once, plus once per augmented view, so the
 *      features are cached) and, for pairs data, pairs of them;
 *   3. edgeclr_adapter_run: holds out part of the data, trains, measures the space
 *      every epoch, rolls back on collapse, and writes the new head only when it beats
 *      the current one on the held-out data. The report says what happened and why.
 * An adapter is used by one thread at a time, with its encoder not used meanwhile. */
typedef struct edgeclr_adapter edgeclr_adapter;

typedef enum edgeclr_adapt_data {
  EDGECLR_ADAPT_PAIRS = 0,     /* anchor + positive (+ explicit negatives) */
  EDGECLR_ADAPT_GROUPS = 1,    /* images sharing a group id are positives, others negatives */
  EDGECLR_ADAPT_UNLABELED = 2  /* two augmented views of an image are a positive pair */
} edgeclr_adapt_data;

typedef enum edgeclr_adapt_loss {
  EDGECLR_LOSS_AUTO = 0, /* supcon for groups, infonce otherwise */
  EDGECLR_LOSS_INFONCE = 1,
  EDGECLR_LOSS_TRIPLET = 2,
  EDGECLR_LOSS_SUPCON = 3
} edgeclr_adapt_loss;

typedef struct edgeclr_adapt_options {
  edgeclr_adapt_loss loss;
  uint32_t epochs;       /* at most; early stopping may end sooner (default 50) */
  uint32_t views;        /* augmented views per image (default 8; unlabeled needs >= 2) */
  float learning_rate;   /* Adam, cosine schedule (default 0.003) */
  float temperature;     /* InfoNCE / SupCon (default 0.2) */
  float holdout;         /* fraction held out for validation, in (0, 1) (default 0.2) */
  float pull;            /* L2 pull towards the model's own head (default 0.1) */
  uint64_t seed;         /* views, split and shuffles (default 0) */
  /* Called after each epoch, may be NULL. */
  void (*on_epoch)(void* user_data, uint32_t epoch, uint32_t max_epochs, float train_loss, float validation_loss);
  void* user_data;
} edgeclr_adapt_options;

typedef struct edgeclr_adapt_validation {
  float loss;      /* cross-entropy of the held-out choice */
  float accuracy;  /* fraction of held-out images / pairs chosen right */
} edgeclr_adapt_validation;

typedef struct edgeclr_adapt_space {
  float alignment;       /* mean squared distance of positives (0..4, lower is tighter) */
  float uniformity;      /* log mean exp(-2 d^2) (<= 0, lower is more spread) */
  float effective_rank;  /* 1..embedding dim; a collapse shows as a drop */
} edgeclr_adapt_space;

typedef struct edgeclr_adapt_report {
  int accepted;  /* 1: the new head was written to head_out */
  uint32_t epochs_run;
  uint32_t best_epoch;  /* 0 when no epoch beat the current head */
  uint64_t version;     /* of the head written (0 when not accepted) */
  edgeclr_adapt_validation validation_before, validation_after;
  edgeclr_adapt_space space_before, space_after;
  char reason[256];     /* one line, NUL-terminated, e.g. "accepted epoch 12: ..." */
} edgeclr_adapt_report;

/* The defaults above. */
EDGECLR_API void edgeclr_adapt_options_default(edgeclr_adapt_options* options);

/* `encoder` must outlive the adapter. `options` may be NULL for the defaults. */
EDGECLR_API edgeclr_status edgeclr_adapter_create(edgeclr_encoder* encoder, edgeclr_adapt_data data,
                                                  const edgeclr_adapt_options* options, edgeclr_adapter** out);
EDGECLR_API void edgeclr_adapter_destroy(edgeclr_adapter* adapter);

/* Adds an image (pixels, or a file) with its group id (ignored unless GROUPS data);
 * *item receives its index for edgeclr_adapter_add_pair (may be NULL). A file path
 * added again to a PAIRS adapter returns the same item. */
EDGECLR_API edgeclr_status edgeclr_adapter_add_image(edgeclr_adapter* adapter, const edgeclr_image* image,
                                                     int32_t group, uint32_t* item);
EDGECLR_API edgeclr_status edgeclr_adapter_add_file(edgeclr_adapter* adapter, const char* path, int32_t group,
                                                    uint32_t* item);
/* PAIRS only: anchor and positive items, and `negative_count` explicit negatives. */
EDGECLR_API edgeclr_status edgeclr_adapter_add_pair(edgeclr_adapter* adapter, uint32_t anchor, uint32_t positive,
                                                    const uint32_t* negatives, uint32_t negative_count);
/* PAIRS only: a CSV of `anchor,positive[,negative...]` lines, paths relative to it. */
EDGECLR_API edgeclr_status edgeclr_adapter_add_pairs_csv(edgeclr_adapter* adapter, const char* path);

/* Trains from the head in `head_in` (a checkpoint; NULL: the model's own head) and, if
 * the result beats it on the held-out data, writes it to `head_out` atomically (the
 * file there before is kept as head_out.prev) with version head_in's + 1. A rejected
 * update is not an error: EDGECLR_OK with report->accepted = 0 and the reason. `report`
 * may be NULL. May be called again with more data added. */
EDGECLR_API edgeclr_status edgeclr_adapter_run(edgeclr_adapter* adapter, const char* head_in, const char* head_out,
                                               edgeclr_adapt_report* report);

/* ---- Galleries -----------------------------------------------------------------------
 * A persistent, searchable store of items under app keys (one SQLite file): each keeps
 * its backbone feature (half floats) and its embedding. A gallery is bound to the model's
 * backbone and to the head it follows (a version: 0 for the model's own head, else the
 * version of a head checkpoint), so stored embeddings never silently describe another
 * space; edgeclr_gallery_reproject moves it to a new head without running the backbone.
 * Every add, remove and re-projection is one transaction: a crash leaves the file as it
 * was before or after.
 *
 * The gallery keeps its own copy of the head it follows: queries by image are embedded
 * with it (the encoder gives only the feature), so they are in the gallery's space even
 * if the encoder's head changes. One process writes a gallery at a time: a write fails
 * (EDGECLR_IO_ERROR) when another process changed the file since it was opened.
 *
 * Thread-safety: edgeclr_gallery_search, _count and _key may run on any threads at once,
 * with one writer (_add_feature, _remove, _reproject, _set_index) at a time; calls that run the
 * encoder (_add_image, _add_file, _search_image) use it from one thread at a time. */
typedef struct edgeclr_gallery edgeclr_gallery;

/* Creates (`create` != 0; the file must not exist) or opens the gallery at `path`, using
 * `encoder` (which must outlive the gallery) for images. `head_version` is the version
 * of the head the encoder has now: 0 for the model's own, or the version of the
 * checkpoint given to edgeclr_encoder_load_head (edgeclr_adapt_report.version). Opening
 * fails with EDGECLR_INVALID_ARGUMENT when the gallery belongs to another backbone or
 * follows another head version, and EDGECLR_INVALID_MODEL when the file is not a
 * gallery or is damaged. */
EDGECLR_API edgeclr_status edgeclr_gallery_open(edgeclr_encoder* encoder, const char* path, int create,
                                                uint64_t head_version, edgeclr_gallery** out);
EDGECLR_API void edgeclr_gallery_close(edgeclr_gallery* gallery);

/* Adds one item under `key` (a NUL-terminated string, 1 to 4096 bytes, new to the
 * gallery): from pixels, an image file, or a backbone feature (feature_dim floats). */
EDGECLR_API edgeclr_status edgeclr_gallery_add_image(edgeclr_gallery* gallery, const char* key,
                                                     const edgeclr_image* image);
EDGECLR_API edgeclr_status edgeclr_gallery_add_file(edgeclr_gallery* gallery, const char* key, const char* path);
EDGECLR_API edgeclr_status edgeclr_gallery_add_feature(edgeclr_gallery* gallery, const char* key, const float* feature);
EDGECLR_API edgeclr_status edgeclr_gallery_remove(edgeclr_gallery* gallery, const char* key);

/* The `k` items most similar (cosine) to `embedding` (embedding_dim floats) or to an
 * image, best first, only keys starting with `prefix` when it is not NULL or empty.
 * *count receives how many were found (<= k). `scores` receives *count floats; `keys`
 * *count NUL-terminated keys, key i at keys + i * key_stride (a key longer than
 * key_stride - 1 bytes fails with EDGECLR_INVALID_ARGUMENT; 4097 always fits). */
EDGECLR_API edgeclr_status edgeclr_gallery_search(const edgeclr_gallery* gallery, const float* embedding, uint32_t k,
                                                  const char* prefix, float* scores, char* keys, size_t key_stride,
                                                  uint32_t* count);
EDGECLR_API edgeclr_status edgeclr_gallery_search_image(edgeclr_gallery* gallery, const edgeclr_image* image,
                                                        uint32_t k, const char* prefix, float* scores, char* keys,
                                                        size_t key_stride, uint32_t* count);

EDGECLR_API uint64_t edgeclr_gallery_count(const edgeclr_gallery* gallery);
/* Copies the key of item `index` (< count) to `key` (`size` bytes). The order is the
 * search index's and changes when items are removed. */
EDGECLR_API edgeclr_status edgeclr_gallery_key(const edgeclr_gallery* gallery, uint64_t index, char* key, size_t size);

/* Recomputes every embedding with the head in checkpoint `head_path` (for this
 * backbone) from the stored features and makes the gallery follow it (queries by image
 * follow too). The encoder's own head is not changed: give it the same checkpoint with
 * edgeclr_encoder_load_head for embeddings outside the gallery, and the checkpoint's
 * version when opening the gallery next time. */
EDGECLR_API edgeclr_status edgeclr_gallery_reproject(edgeclr_gallery* gallery, const char* head_path);

/* Search indexes kept in memory beside the fp32 embeddings (nothing in the file changes):
 * INT8, codes of one byte a value scanned first, the best rescored in fp32 (a quarter of
 * the memory traffic; about 3x faster at 100k items); HNSW, a graph (hnswlib) for large
 * galleries, approximate (docs/benchmarks.md has its recall). Built now from the
 * embeddings (HNSW: seconds per 100k items, on one thread: `threads` is reserved for a
 * later hnswlib; Debian 12's cannot insert from several safely) and kept in step with
 * every write; 0 drops them. Searches then use HNSW, or INT8 with a prefix (the graph
 * cannot filter), or the exact scan. Scores are always fp32 cosines. Fails with
 * EDGECLR_OUT_OF_MEMORY if the graph cannot be built (the scan indexes stay). */
#define EDGECLR_GALLERY_INDEX_INT8 1u
#define EDGECLR_GALLERY_INDEX_HNSW 2u
EDGECLR_API edgeclr_status edgeclr_gallery_set_index(edgeclr_gallery* gallery, uint32_t flags, uint32_t threads);

/* Floats in an embedding of the gallery's head (for edgeclr_gallery_search queries). */
EDGECLR_API uint32_t edgeclr_gallery_embedding_dim(const edgeclr_gallery* gallery);

#ifdef __cplusplus
}
#endif

#endif /* EDGECLR_H_ */
