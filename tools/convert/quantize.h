// Post-training int8 quantization of a converted fp32 model for one XNNPACK generation
// (QuantizeOptions::xnnpack_api): activations per tensor (asymmetric, from calibration
// ranges), conv weights per output channel (symmetric), fully-connected weights per output
// channel for XNNPACK 2024 and per tensor for 2022 (it has no per-channel FC), int32
// biases. The head stays fp32. Ops that generation cannot run in int8
// (int8_since_xnnpack, backbone/backbone.h), and layers named in keep_fp32, stay fp32
// with quantize/dequantize around them.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "adapt/random.h"
#include "backbone/backbone.h"
#include "builder/model_builder.h"
#include "core/status.h"
#include "model/model.h"

namespace edgeclr::convert {

struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

enum class CalibrationMethod { kMinMax, kPercentile, kMse };

// Collects what a tensor's values looked like during calibration: the extremes and a
// bounded uniform random sample (reservoir sampling, Li's algorithm L, seeded: the same
// calibration gives the same ranges), from which the three methods pick a range. A
// regular stride would not do: NHWC activations repeat with the channel count, and a
// power-of-two stride kept only a few channels of each tensor.
class RangeObserver {
 public:
  void add(const float* values, size_t count);
  Range range(CalibrationMethod method) const;

  static constexpr size_t kMaxSamples = 1 << 16;

 private:
  double uniform_open();  // in (0, 1)
  void draw_skip();       // the next value to replace a sample, and the weight after it

  float min_ = 0.0f, max_ = 0.0f;
  bool seen_ = false;
  std::vector<float> samples_;
  Rng rng_{0x853c49e6748fea9bULL};
  uint64_t seen_count_ = 0, next_pick_ = 0;
  double weight_ = 1.0;
};

// What calibration measured, by fp32 tensor index (the graph input included).
struct Calibration {
  std::map<uint32_t, Range> ranges;
  std::map<uint32_t, std::vector<double>> channel_means;  // per channel (last NHWC dim)
  std::map<uint32_t, std::vector<float>> channel_absmax;  // largest |value| per channel
};

struct QuantizeOptions {
  std::set<std::string> keep_fp32;  // operator names to keep in fp32
  // Bias correction (Nagel et al. 2019): each int8 conv and fully connected layer's bias
  // absorbs the mean output shift its rounded weights cause, (W_int8 - W) . E[input],
  // with E[input] per channel from calibration (zero padding at borders is ignored).
  bool bias_correction = true;
  // The XNNPACK generation the model will run on (2022 or 2024): what runs in int8, and
  // how fully connected weights are quantized. The default is the one this build links.
  uint32_t xnnpack_api = xnnpack_info().api;
  // Transformers and hybrids (a model with a tensor operator: layer norm, attention, ...)
  // on XNNPACK 2024: every fully connected layer in int8 with its input quantized per
  // token at run time (format 4), and an add or multiply in int8 only where both inputs
  // already are, so no residual stream gets one static scale. Off: static int8 as CNNs.
  bool dynamic_for_transformers = true;
};


Result<ModelBuilder> quantize_model(const Model& fp32, const Calibration& calibration, const QuantizeOptions& options);

}  // namespace edgeclr::convert
