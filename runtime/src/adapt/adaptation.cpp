#include "adapt/adaptation.h"

#include "adapt/head_checkpoint.h"

namespace edgeclr {

Result<AdaptationOutcome> run_adaptation(const Model& model, const AdaptSet& set,
                                         const std::optional<std::string>& head_in, const std::string& head_out,
                                         const AdaptOptions& options, const EpochCallback& on_epoch) {
  const ProjectionHead shipped = ProjectionHead::from_schema(model.head(), model.feature_dim());
  HeadCheckpointInfo info;
  info.backbone_hash = model.backbone_hash();
  ProjectionHead start = shipped;
  if (head_in) {
    auto loaded = load_head_checkpoint(*head_in, model, &info);
    if (!loaded.ok()) return loaded.status();
    start = std::move(loaded).value();
  }
  EDGECLR_RETURN_IF_ERROR(check_head_checkpoint_path(head_out, start));  // before training, not after
  auto result = adapt_head(set, start, shipped, options, on_epoch);
  if (!result.ok()) return result.status();
  AdaptationOutcome outcome;
  outcome.result = std::move(result).value();
  if (!outcome.result.accepted) return outcome;

  const AdaptResult& r = outcome.result;
  info.version += 1;
  info.metrics = {{"validation_loss", r.validation_after.loss},
                  {"validation_accuracy", r.validation_after.accuracy},
                  {"validation_loss_before", r.validation_before.loss},
                  {"validation_accuracy_before", r.validation_before.accuracy},
                  {"alignment", r.space_after.alignment},
                  {"uniformity", r.space_after.uniformity},
                  {"effective_rank", r.space_after.effective_rank}};
  EDGECLR_RETURN_IF_ERROR(save_head_checkpoint(head_out, r.head, info));
  outcome.version = info.version;
  return outcome;
}

}  // namespace edgeclr
