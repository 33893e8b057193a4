// One adaptation from start to saved file, as the CLI and the C API run it: the
// starting head (the model's own, or a checkpoint), training with its guards, and the
// checkpoint written only when the new head is accepted.
#pragma once

#include <optional>
#include <string>

#include "adapt/adapt_set.h"
#include "adapt/adapt_trainer.h"
#include "core/status.h"
#include "model/model.h"

namespace edgeclr {

struct AdaptationOutcome {
  AdaptResult result;
  uint64_t version = 0;  // of the head written; 0 when rejected
};

// Starts from `head_in` (verified against `model`) or the model's own head, pulls
// towards the model's own head, and on acceptance saves to `head_out` (version
// head_in's + 1, the validation and space figures as metrics; the old file kept as
// head_out.prev). Errors: the head_in file, the set too small, or the save failing.
Result<AdaptationOutcome> run_adaptation(const Model& model, const AdaptSet& set,
                                         const std::optional<std::string>& head_in, const std::string& head_out,
                                         const AdaptOptions& options, const EpochCallback& on_epoch = nullptr);

}  // namespace edgeclr
