// Runs models over images with edgeclr's own runtime (the same preprocessing and kernels
// as on the device): calibration ranges for quantization, and the fidelity of an int8
// model against its fp32 original.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "convert/quantize.h"
#include "dataset/image_set.h"
#include "model/model.h"

namespace edgeclr::convert {

// Calls back after each image: (done, total).
using Progress = void (*)(size_t done, size_t total);

// Ranges (by `method`) and per-channel means (over the images and every position; the
// channel is the last NHWC dimension) of the graph input, every intermediate activation
// and the feature of `fp32`, over images [first, first + count) of `images`.
Result<Calibration> calibrate(const Model& fp32, const dataset::ImageSet& images, size_t first, size_t count,
                              CalibrationMethod method, Progress progress);

struct LayerFidelity {
  std::string op;       // operator that writes the tensor
  std::string tensor;
  double sqnr_db = 0;   // 10 log10(sum x^2 / sum (x - x_int8)^2), over all held-out images
};

struct FidelityReport {
  std::vector<LayerFidelity> layers;  // int8 tensors, in graph order
  double mean_cosine = 0, min_cosine = 0;  // embeddings, int8 vs fp32
  size_t images = 0;
};

// Compares `int8` with `fp32` on images [first, first + count): per-layer SQNR of every
// int8 activation (matched by tensor name) and the embedding cosine.
Result<FidelityReport> measure_fidelity(const Model& fp32, const Model& int8, const dataset::ImageSet& images,
                                        size_t first, size_t count, Progress progress);

// Embedding cosines of candidate int8 models against the fp32 model on a fixed set of
// images, cheap enough to call for every candidate of a search: the images are
// decoded and preprocessed once, the fp32 embeddings computed once.
class EmbeddingProbe {
 public:
  static Result<EmbeddingProbe> create(const Model& fp32, const dataset::ImageSet& images, size_t first, size_t count);

  // Per image, cosine(embedding of `candidate`, fp32 embedding).
  Result<std::vector<double>> cosines(const Model& candidate) const;
  size_t images() const { return reference_.size(); }

 private:
  std::vector<std::vector<float>> inputs_;     // preprocessed, NHWC
  std::vector<std::vector<float>> reference_;  // fp32 embeddings
};

}  // namespace edgeclr::convert
