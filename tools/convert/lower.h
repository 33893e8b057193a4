// Lowering: the converter's Graph (ONNX ops, NCHW) to an .eclr model (edgeclr ops, NHWC)
// through ModelBuilder. Splits the graph into backbone and head.
#pragma once

#include <string>
#include <vector>

#include "builder/model_builder.h"
#include "convert/graph.h"
#include "core/status.h"

namespace edgeclr::convert {

struct InputOptions {
  uint32_t height = 0, width = 0, channels = 0;  // 0: from the ONNX input shape
  std::vector<float> mean, std;                  // empty: from metadata_props, else 0 and 1
  std::string resize;                            // "stretch" or "crop"; empty: metadata, else stretch
};

struct LowerOptions {
  InputOptions input;
  // ONNX value where the backbone ends. Empty: before the trailing chain of
  // Gemm/MatMul(+Add) and Relu/Clip that ends the graph.
  std::string feature_output;
  bool l2_normalize = true;
  // A feature map [1,C,H,W] with H or W > 1 as the feature: flattened in edgeclr's NHWC
  // order (H, W, C). Off by default, since a vector is what a contrastive encoder's
  // backbone gives; the ONNX conformance test uses it to compare any 4-D output.
  bool flatten_spatial_feature = false;
  // A token tensor [1, T, C] as the feature (a transformer's last LayerNorm): "cls" takes
  // token 0 (the class token), "mean" the mean of tokens 1..T-1 (the patch tokens),
  // "cls+mean" both, concatenated ([1, 2C]). Empty: the feature is taken as it is.
  std::string token_pool;
  std::string source_model;  // recorded in the provenance
};

// The ONNX op types lowering accepts (after constant folding), for error messages.
const char* supported_op_types();

Result<ModelBuilder> lower_to_eclr(const Graph& graph, const LowerOptions& options);

}  // namespace edgeclr::convert
