// Opening what an encoding command needs: the model, an encoder for it and, when the
// user gives --head, an adapted head checkpoint (.eclh) in place of the model's head.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli/cli_common.h"
#include "core/status.h"
#include "encoder/encoder.h"
#include "model/model.h"

namespace edgeclr::cli {

struct OpenedEncoder {
  std::unique_ptr<Model> model;      // declared first: the encoder refers to it
  std::unique_ptr<Encoder> encoder;
};

// The value of --head, or none when it was not given.
std::optional<std::string> head_option(const Args& args);

// Opens `model_path`, loads and verifies the head checkpoint `head_path` (when given)
// against it, creates an encoder with `options`, then gives it that head. The head is
// checked before the encoder is made, so a bad head fails fast. Errors are one line
// naming the model or head file.
Result<OpenedEncoder> open_encoder(const std::string& model_path, const std::optional<std::string>& head_path,
                                   const EncoderOptions& options);

}  // namespace edgeclr::cli
