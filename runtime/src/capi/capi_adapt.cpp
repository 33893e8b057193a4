// C API: on-device adaptation. The adapter wraps AdaptInputs (the feature cache) and
// runs run_adaptation; every entry point is guarded.
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "adapt/adapt_inputs.h"
#include "adapt/adaptation.h"
#include "capi/capi_encoder.h"
#include "capi/capi_guard.h"
#include "edgeclr/edgeclr.h"

struct edgeclr_adapter {
  edgeclr::Encoder* encoder;
  edgeclr::AdaptOptions options;
  edgeclr::AdaptInputs inputs;
  void (*on_epoch)(void*, uint32_t, uint32_t, float, float);
  void* user_data;
};

using edgeclr::capi::guard;
using edgeclr::capi::set_error;

namespace {

edgeclr_status invalid(const char* function, const char* what) {
  return set_error(EDGECLR_INVALID_ARGUMENT, std::string(function) + ": " + what);
}

// A C enum as the integer the caller stored: C code may pass any int, and loading an
// out-of-range value as the enum type is undefined in C++.
template <typename Enum>
int enum_value(const Enum& e) {
  int value = 0;
  static_assert(sizeof(Enum) == sizeof(int), "C enums are int-sized here");
  std::memcpy(&value, &e, sizeof value);
  return value;
}

// The C options as the trainer's, or why they are unusable.
const char* convert_options(const edgeclr_adapt_options& o, int data, edgeclr::AdaptOptions* train,
                            edgeclr::AdaptInputOptions* inputs) {
  const int loss = enum_value(o.loss);
  if (loss < EDGECLR_LOSS_AUTO || loss > EDGECLR_LOSS_SUPCON) return "unknown loss";
  if (o.epochs == 0 || o.epochs > 10000) return "epochs must be 1 to 10000";
  if (o.views > edgeclr::kMaxAdaptViews) return "too many views";
  if (data == EDGECLR_ADAPT_UNLABELED && o.views < 2) return "unlabeled data needs at least 2 views";
  if (!(o.learning_rate > 0 && o.learning_rate <= 1000)) return "learning_rate must be in (0, 1000]";
  if (!(o.temperature > 0 && o.temperature <= 100)) return "temperature must be in (0, 100]";
  if (!(o.holdout > 0 && o.holdout < 1)) return "holdout must be in (0, 1)";
  if (!(o.pull >= 0 && std::isfinite(o.pull))) return "pull must be >= 0";
  train->loss = static_cast<edgeclr::AdaptLoss>(loss);
  train->epochs = o.epochs;
  train->learning_rate = o.learning_rate;
  train->temperature = o.temperature;
  train->holdout = o.holdout;
  train->optimizer.pull = o.pull;
  train->seed = o.seed;
  inputs->views = o.views;
  inputs->seed = o.seed;
  return nullptr;
}

void fill_report(const edgeclr::AdaptationOutcome& outcome, edgeclr_adapt_report* report) {
  const edgeclr::AdaptResult& r = outcome.result;
  *report = edgeclr_adapt_report{};
  report->accepted = r.accepted ? 1 : 0;
  report->epochs_run = r.epochs_run;
  report->best_epoch = r.best_epoch;
  report->version = outcome.version;
  const auto validation = [](const edgeclr::Validation& v) {
    return edgeclr_adapt_validation{static_cast<float>(v.loss), static_cast<float>(v.accuracy)};
  };
  const auto space = [](const edgeclr::SpaceStats& s) {
    return edgeclr_adapt_space{static_cast<float>(s.alignment), static_cast<float>(s.uniformity),
                               static_cast<float>(s.effective_rank)};
  };
  report->validation_before = validation(r.validation_before);
  report->validation_after = validation(r.validation_after);
  report->space_before = space(r.space_before);
  report->space_after = space(r.space_after);
  std::strncpy(report->reason, r.reason.c_str(), sizeof(report->reason) - 1);
}

}  // namespace

extern "C" {

void edgeclr_adapt_options_default(edgeclr_adapt_options* options) {
  if (options == nullptr) return;
  const edgeclr::AdaptOptions train;
  const edgeclr::AdaptInputOptions inputs;
  *options = edgeclr_adapt_options{};
  options->loss = EDGECLR_LOSS_AUTO;
  options->epochs = train.epochs;
  options->views = inputs.views;
  options->learning_rate = train.learning_rate;
  options->temperature = train.temperature;
  options->holdout = train.holdout;
  options->pull = train.optimizer.pull;
  options->seed = train.seed;
}

edgeclr_status edgeclr_adapter_create(edgeclr_encoder* encoder, edgeclr_adapt_data data,
                                      const edgeclr_adapt_options* options, edgeclr_adapter** out) {
  return guard([&] {
    if (out == nullptr) return invalid("edgeclr_adapter_create", "out is NULL");
    *out = nullptr;
    if (encoder == nullptr) return invalid("edgeclr_adapter_create", "encoder is NULL");
    const int kind_value = enum_value(data);
    if (kind_value < EDGECLR_ADAPT_PAIRS || kind_value > EDGECLR_ADAPT_UNLABELED) {
      return invalid("edgeclr_adapter_create", "unknown data kind");
    }
    edgeclr_adapt_options o;
    edgeclr_adapt_options_default(&o);
    if (options != nullptr) o = *options;
    edgeclr::AdaptOptions train;
    edgeclr::AdaptInputOptions inputs;
    if (const char* why = convert_options(o, kind_value, &train, &inputs)) return invalid("edgeclr_adapter_create", why);
    const auto kind = kind_value == EDGECLR_ADAPT_PAIRS    ? edgeclr::AdaptKind::kPairs
                      : kind_value == EDGECLR_ADAPT_GROUPS ? edgeclr::AdaptKind::kGroups
                                                           : edgeclr::AdaptKind::kUnlabeled;
    *out = new edgeclr_adapter{encoder->impl.get(), train, edgeclr::AdaptInputs(encoder->impl.get(), kind, inputs),
                               o.on_epoch, o.user_data};
    return EDGECLR_OK;
  });
}

void edgeclr_adapter_destroy(edgeclr_adapter* adapter) { delete adapter; }

edgeclr_status edgeclr_adapter_add_image(edgeclr_adapter* adapter, const edgeclr_image* image, int32_t group,
                                         uint32_t* item) {
  return guard([&] {
    if (adapter == nullptr || image == nullptr) return invalid("edgeclr_adapter_add_image", "adapter or image is NULL");
    // Same layout (checked in capi_encoder.cpp).
    const auto& view = *reinterpret_cast<const edgeclr::PixelView*>(image);
    auto added = adapter->inputs.add_image(view, group);
    if (!added.ok()) return set_error(added.status());
    if (item != nullptr) *item = *added;
    return EDGECLR_OK;
  });
}

edgeclr_status edgeclr_adapter_add_file(edgeclr_adapter* adapter, const char* path, int32_t group, uint32_t* item) {
  return guard([&] {
    if (adapter == nullptr || path == nullptr) return invalid("edgeclr_adapter_add_file", "adapter or path is NULL");
    auto added = adapter->inputs.add_file(path, group);
    if (!added.ok()) return set_error(added.status());
    if (item != nullptr) *item = *added;
    return EDGECLR_OK;
  });
}

edgeclr_status edgeclr_adapter_add_pair(edgeclr_adapter* adapter, uint32_t anchor, uint32_t positive,
                                        const uint32_t* negatives, uint32_t negative_count) {
  return guard([&] {
    if (adapter == nullptr || (negatives == nullptr && negative_count > 0)) {
      return invalid("edgeclr_adapter_add_pair", "adapter or negatives is NULL");
    }
    std::vector<uint32_t> n(negatives, negatives + negative_count);
    const edgeclr::Status added = adapter->inputs.add_pair(anchor, positive, std::move(n));
    return added.ok() ? EDGECLR_OK : set_error(added);
  });
}

edgeclr_status edgeclr_adapter_add_pairs_csv(edgeclr_adapter* adapter, const char* path) {
  return guard([&] {
    if (adapter == nullptr || path == nullptr) return invalid("edgeclr_adapter_add_pairs_csv", "adapter or path is NULL");
    if (adapter->inputs.kind() != edgeclr::AdaptKind::kPairs) return invalid("edgeclr_adapter_add_pairs_csv", "not a PAIRS adapter");
    const edgeclr::Status added = edgeclr::add_pairs_csv(path, &adapter->inputs);
    return added.ok() ? EDGECLR_OK : set_error(added);
  });
}

edgeclr_status edgeclr_adapter_run(edgeclr_adapter* adapter, const char* head_in, const char* head_out,
                                   edgeclr_adapt_report* report) {
  return guard([&] {
    if (adapter == nullptr || head_out == nullptr) return invalid("edgeclr_adapter_run", "adapter or head_out is NULL");
    edgeclr::EpochCallback on_epoch;
    if (adapter->on_epoch != nullptr) {
      on_epoch = [adapter](const edgeclr::EpochReport& e, uint32_t max_epochs) {
        adapter->on_epoch(adapter->user_data, e.epoch, max_epochs, static_cast<float>(e.train_loss),
                          static_cast<float>(e.validation.loss));
      };
    }
    std::optional<std::string> in;
    if (head_in != nullptr) in = head_in;
    auto outcome = edgeclr::run_adaptation(adapter->encoder->model(), adapter->inputs.set(), in, head_out,
                                           adapter->options, on_epoch);
    if (!outcome.ok()) return set_error(outcome.status());
    if (report != nullptr) fill_report(*outcome, report);
    return EDGECLR_OK;
  });
}

}  // extern "C"
