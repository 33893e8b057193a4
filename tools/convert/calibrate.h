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

// Ranges of the graph input, every intermediate activation and the feature of `fp32`,
// over images
// [first, first + count) of `images`.
Result<std::map<uint32_t, Range>> calibrate(const Model& fp32, const dataset::ImageSet& images, size_t first,
                                            size_t count, CalibrationMethod method, Progress progress);

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

}  // namespace edgeclr::convert
