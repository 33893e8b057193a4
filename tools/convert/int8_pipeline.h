// fp32 -> int8 as `edgeclr convert --int8` does it: cross-layer equalization, calibration,
// quantization with bias correction, the held-out fidelity check, and the search that
// keeps the most sensitive layers in fp32 until a target embedding cosine is reached.
//
// Images [0, calibration_count) of the set calibrate (and rank layers); the next
// `holdout` images are held out for the fidelity figures and the target.
#pragma once

#include <string>
#include <vector>

#include "convert/calibrate.h"
#include "convert/equalize.h"
#include "convert/quantize.h"

namespace edgeclr::convert {

enum class Equalization {
  kOff,
  kWeights,      // data-free: A's weight ranges (the paper's choice)
  kActivations,  // the activation's measured channel ranges (default; see equalize.h)
};

struct Int8Options {
  CalibrationMethod method = CalibrationMethod::kPercentile;
  size_t calibration_count = 500;
  size_t holdout = 200;
  QuantizeOptions quantize;  // keep_fp32 (the user's), bias_correction
  Equalization equalization = Equalization::kActivations;
  // Keep layers in fp32, most sensitive first, until the held-out mean embedding cosine
  // reaches this; 0 turns the search off.
  double target_cosine = 0.99;
  // Layers ranked by sensitivity on this many calibration images (at most).
  size_t ranking_images = 16;
  // The search's limits: steps, and units retried per step after the first.
  static constexpr size_t kMaxSearchSteps = 8, kSearchRetry = 12;
  Progress progress = nullptr;         // per image: (done, total)
  Progress search_progress = nullptr;  // per candidate tried in a search step
  void (*log)(const char*) = nullptr;  // one line per stage
};

// Why the fp32 search stopped.
enum class SearchStop {
  kNotRun,     // no target, or it was met without a search
  kReached,    // the held-out mean reached the target
  kNoGain,     // no unit tried in the last step raised the mean on the ranking images
  kStepLimit,  // Int8Options::kMaxSearchSteps steps
  kNoUnits,    // every int8 layer is already fp32
};

struct Int8Result {
  std::vector<uint8_t> bytes;  // the int8 model
  // Held-out fidelity of plain int8 (the user's keep_fp32 only: no equalization, no bias
  // correction, no search) and of the model written.
  FidelityReport before, after;
  EqualizeReport equalization;
  std::vector<std::string> kept_by_search;  // in the order the search added them
  bool target_reached = true;               // or no target
  SearchStop search_stop = SearchStop::kNotRun;
  double int8_mac_share = 0;                // of the backbone's conv and FC MACs
  uint64_t total_macs = 0;
};

Result<Int8Result> quantize_to_int8(const Model& fp32, const dataset::ImageSet& images, const Int8Options& options);

// Multiply-accumulates of a conv or fully connected operator (0 for other ops), batch 1.
uint64_t operator_macs(const schema::Operator& op, const std::vector<TensorInfo>& tensors);

// A conv or fully connected operator with int8 weights: static int8, or a fully
// connected layer whose input is quantized at run time.
bool has_int8_weights(const schema::Operator& op, const std::vector<TensorInfo>& tensors);

// Share of conv/FC MACs computed in int8 (has_int8_weights) in `model`.
double int8_mac_share(const Model& model, uint64_t* total_macs);

}  // namespace edgeclr::convert
