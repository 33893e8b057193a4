// The backbone of a model, built into an XNNPACK runtime: image tensor in, feature out.
//
// This interface (with backbone/dense_gemm.h) is the only way the rest of edgeclr reaches
// XNNPACK; only runtime/src/backbone/ includes xnnpack.h. Debian 12 ships XNNPACK 2022-02
// and Debian 13 2024-11, with different APIs: backbone/xnnpack_api.h holds the split.
//
// The batch is fixed at creation. Thread-safety: one Backbone is used by one thread at a
// time; several Backbones may share one Model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/model.h"

namespace edgeclr {

// The XNNPACK this build links, for reports and for quantizing to what it runs in int8.
struct XnnpackInfo {
  uint32_t api;       // 2022 (Debian 12) or 2024 (Debian 13 and later)
  const char* label;  // e.g. "2024-11-08 (2024 API)"; static storage
};
XnnpackInfo xnnpack_info();

// The first XNNPACK generation (2022 or 2024) that runs `op` with int8 input and output,
// or 0 when none does (it stays fp32 between quantize and dequantize). Pure: the same
// answer in every build, so a converter on one system can quantize for another
// (`edgeclr convert --xnnpack`). tests/unit/test_backbone_ops.cpp checks each answer
// against the linked XNNPACK.
uint32_t int8_since_xnnpack(const schema::Operator& op, const std::vector<TensorInfo>& tensors);

// The first XNNPACK generation (2022 or 2024) that runs `op` at all, in fp32. Pure, like
// int8_since_xnnpack; Backbone::create refuses a model with an op its XNNPACK lacks,
// naming the op and both generations, and `edgeclr inspect` shows what a model needs.
uint32_t fp32_since_xnnpack(const schema::Operator& op);

struct BackboneOptions {
  uint32_t threads = 1;  // 1 runs on the calling thread; N > 1 uses a pool of N threads
  uint32_t batch = 1;    // images per run(), fixed for the life of the Backbone
  // Activation tensors whose values run() also keeps, for calibration and fidelity
  // reports (converter only; an app leaves this empty).
  std::vector<uint32_t> observed;
  // Per-operator timing of each run (XNNPACK 2024's basic profiling; `bench --profile`).
  // create() fails with kUnsupported when the linked XNNPACK has none (2022).
  bool profile = false;
};

// One XNNPACK operator's time in the last run(), as XNNPACK names it
// ("Convolution (NHWC, QS8)", ...): several model operators may become one, or one
// several.
struct OperatorTime {
  std::string name;
  double microseconds;
};

class Backbone {
 public:
  // Builds and prepares the XNNPACK subgraph (XNNPACK packs the weights here). Fails
  // with kUnsupported naming the operator when this XNNPACK cannot express it.
  // `model` must outlive the Backbone.
  static Result<std::unique_ptr<Backbone>> create(const Model& model, const BackboneOptions& options);

  virtual ~Backbone() = default;

  // input: batch x H x W x C floats (preprocessed, NHWC); feature: batch x feature_dim
  // floats. When `input` is not input_buffer() it is copied there first. No heap
  // allocation once the same `feature` pointer has been used before.
  virtual Status run(const float* input, float* feature) = 0;

  // Where to write the next input to skip the copy in run(): batch x H x W x C floats.
  virtual float* input_buffer() = 0;

  // Values of options.observed[i] after the last run(): batch x elements of the
  // tensor's dtype (float for fp32, int8_t for int8). Valid until the next run().
  virtual const void* observed(size_t i) const = 0;

  // Operator times of the last run(); only with BackboneOptions::profile.
  virtual Status operator_times(std::vector<OperatorTime>* times) const = 0;

  virtual uint32_t batch() const = 0;
  virtual uint32_t threads() const = 0;
};

}  // namespace edgeclr
