#include "convert/int8_pipeline.h"

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>

namespace edgeclr::convert {
namespace {

// A model together with the bytes it reads (open_buffer may use them in place).
struct OwnedModel {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;

  static Result<OwnedModel> open(std::vector<uint8_t> bytes, const std::string& name) {
    OwnedModel m;
    m.bytes = std::move(bytes);
    auto model = Model::open_buffer(m.bytes.data(), m.bytes.size(), name);
    if (!model.ok()) return error(StatusCode::kInternal, model.status().message());
    m.model = std::move(model).value();
    return m;
  }
};

Result<OwnedModel> quantized(const Model& fp32, const Calibration& calibration, const QuantizeOptions& options) {
  auto builder = quantize_model(fp32, calibration, options);
  if (!builder.ok()) return builder.status();
  return OwnedModel::open(builder->finish(), "quantized model");
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

void say(const Int8Options& o, const std::string& line) {
  if (o.log) o.log(line.c_str());
}

// What the search may move to fp32, each a set of operator names: every conv/FC layer
// computed in int8 alone, and every int8 activation tensor written by one, as its
// writer with all its readers (only then does the tensor itself stay fp32: a layer kept
// alone still reads and writes int8 at its boundary).
std::vector<std::vector<std::string>> search_units(const Model& model) {
  const auto& ops = *model.backbone().operators();
  std::map<uint32_t, std::vector<std::string>> readers;
  for (const schema::Operator* op : ops) {
    for (uint32_t t : *op->inputs()) {
      if (op->name() && model.tensors()[op->outputs()->Get(0)].dtype == schema::DType_INT8) {
        readers[t].push_back(op->name()->str());
      }
    }
  }
  std::vector<std::vector<std::string>> units;
  for (const schema::Operator* op : ops) {
    const uint32_t out = op->outputs()->Get(0);
    if (!has_int8_weights(*op, model.tensors()) || !op->name()) continue;
    units.push_back({op->name()->str()});
    if (model.tensors()[out].dtype != schema::DType_INT8) continue;  // input quantized at run time
    const auto r = readers.find(out);
    if (r == readers.end() || r->second.empty()) continue;
    std::vector<std::string> unit = {op->name()->str()};
    unit.insert(unit.end(), r->second.begin(), r->second.end());
    units.push_back(unit);
  }
  return units;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : "+") + n;
  return out;
}

// Greedy search: each step moves to fp32 the unit that raises the mean cosine on
// `ranking` most, until the mean on `holdout` reaches the target, no unit helps, or
// kMaxSteps. The first step tries every unit; later steps (lazy greedy) retry only the
// best kRetry of the previous step's ranking.
Status search_fp32_layers(const Model& fp32, const Calibration& calibration, const EmbeddingProbe& ranking,
                          const EmbeddingProbe& holdout, const Int8Options& o, QuantizeOptions* options,
                          Int8Result* result) {
  constexpr size_t kMaxSteps = Int8Options::kMaxSearchSteps, kRetry = Int8Options::kSearchRetry;
  auto evaluate = [&](const QuantizeOptions& q, const EmbeddingProbe& probe) -> Result<double> {
    auto m = quantized(fp32, calibration, q);
    if (!m.ok()) return m.status();
    auto c = probe.cosines(*m->model);
    if (!c.ok()) return c.status();
    return mean(c.value());
  };
  auto base = quantized(fp32, calibration, *options);
  if (!base.ok()) return base.status();
  std::vector<std::vector<std::string>> units = search_units(*base->model);
  say(o, format("held-out mean cosine below %.4f: searching %zu layers and activations to keep in fp32 "
                "(ranked on %zu calibration images)", o.target_cosine, units.size(), ranking.images()));
  auto current = evaluate(*options, ranking);
  if (!current.ok()) return current.status();
  result->target_reached = false;
  result->search_stop = SearchStop::kStepLimit;
  for (size_t step = 0; step < kMaxSteps; ++step) {
    if (units.empty()) {
      result->search_stop = SearchStop::kNoUnits;
      break;
    }
    std::vector<std::pair<double, size_t>> scored;  // (ranking mean, unit)
    const size_t tries = step == 0 ? units.size() : std::min(kRetry, units.size());
    for (size_t i = 0; i < tries; ++i) {
      QuantizeOptions trial = *options;
      trial.keep_fp32.insert(units[i].begin(), units[i].end());
      auto m = evaluate(trial, ranking);
      if (!m.ok()) return m.status();
      scored.emplace_back(m.value(), i);
      if (o.search_progress) o.search_progress(i + 1, tries);
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    if (scored.front().first <= current.value()) {  // nothing tried helps any more
      result->search_stop = SearchStop::kNoGain;
      break;
    }
    current = scored.front().first;
    const std::vector<std::string> best = units[scored.front().second];
    std::vector<std::vector<std::string>> next;  // the rest, best first
    for (const auto& [score, i] : scored) {
      if (i != scored.front().second) next.push_back(units[i]);
    }
    for (size_t i = tries; i < units.size(); ++i) next.push_back(units[i]);
    units = std::move(next);
    options->keep_fp32.insert(best.begin(), best.end());
    for (const std::string& name : best) {
      if (std::find(result->kept_by_search.begin(), result->kept_by_search.end(), name) == result->kept_by_search.end()) {
        result->kept_by_search.push_back(name);
      }
    }
    auto held = evaluate(*options, holdout);
    if (!held.ok()) return held.status();
    say(o, format("  kept %s in fp32: held-out mean cosine %.5f", joined(best).c_str(), held.value()));
    if (held.value() >= o.target_cosine) {
      result->target_reached = true;
      result->search_stop = SearchStop::kReached;
      break;
    }
  }
  return Status::Ok();
}

}  // namespace

bool has_int8_weights(const schema::Operator& op, const std::vector<TensorInfo>& tensors) {
  return operator_macs(op, tensors) > 0 && tensors[op.inputs()->Get(1)].dtype == schema::DType_INT8;
}

uint64_t operator_macs(const schema::Operator& op, const std::vector<TensorInfo>& tensors) {
  const auto type = op.options_type();
  if (type != schema::OpOptions_Conv2DOptions && type != schema::OpOptions_FullyConnectedOptions) return 0;
  const TensorInfo& w = tensors[op.inputs()->Get(1)];
  const TensorInfo& out = tensors[op.outputs()->Get(0)];
  // Each output element takes one row of the weights: [O, KH, KW, I/groups] or [O, I].
  return out.elements * (w.elements / w.dims[0]);
}

double int8_mac_share(const Model& model, uint64_t* total_macs) {
  uint64_t total = 0, int8 = 0;
  for (const schema::Operator* op : *model.backbone().operators()) {
    const uint64_t macs = operator_macs(*op, model.tensors());
    total += macs;
    if (has_int8_weights(*op, model.tensors())) int8 += macs;
  }
  if (total_macs) *total_macs = total;
  return total ? static_cast<double>(int8) / static_cast<double>(total) : 0.0;
}

namespace {

// Equalizes `fp32` (ranges from `plain` in activations mode), checks on `probe` that the
// rewrite kept the embeddings, and calibrates the result.
Status equalize_and_calibrate(const Model& fp32, const dataset::ImageSet& images, const Int8Options& o,
                              const EmbeddingProbe& probe, OwnedModel* equalized, Calibration* calibration,
                              EqualizeReport* report) {
  auto bytes = equalize_model(fp32, o.equalization == Equalization::kActivations ? calibration : nullptr, report);
  if (!bytes.ok()) return bytes.status();
  auto m = OwnedModel::open(std::move(bytes).value(), "equalized model");
  if (!m.ok()) return m.status();
  *equalized = std::move(m).value();
  // Equalization is an exact rewrite; if the embeddings moved, it is a bug, and the user
  // gets the error instead of a silently different model.
  auto same = probe.cosines(*equalized->model);
  if (!same.ok()) return same.status();
  const double worst = *std::min_element(same->begin(), same->end());
  if (worst < 1.0 - 1e-5) {
    return error(StatusCode::kInternal, format("cross-layer equalization changed the fp32 embeddings (cosine %.7f "
                                               "to the original); convert with --equalize off", worst));
  }
  say(o, format("calibrating the equalized model on %zu images", o.calibration_count));
  auto c = calibrate(*equalized->model, images, 0, o.calibration_count, o.method, o.progress);
  if (!c.ok()) return c.status();
  *calibration = std::move(c).value();
  return Status::Ok();
}

}  // namespace

Result<Int8Result> quantize_to_int8(const Model& fp32, const dataset::ImageSet& images, const Int8Options& o) {
  const size_t count = o.calibration_count, held = o.holdout;
  Int8Result result;
  // Plain int8 first: the "before" of the report, and the activation ranges equalization uses.
  say(o, format("calibrating on %zu images", count));
  auto plain_calibration = calibrate(fp32, images, 0, count, o.method, o.progress);
  if (!plain_calibration.ok()) return plain_calibration.status();
  QuantizeOptions plain_options = o.quantize;
  plain_options.bias_correction = false;
  auto plain = quantized(fp32, plain_calibration.value(), plain_options);
  if (!plain.ok()) return plain.status();
  say(o, format("measuring plain int8 on %zu held-out images", held));
  auto before = measure_fidelity(fp32, *plain->model, images, count, held, o.progress);
  if (!before.ok()) return before.status();
  result.before = std::move(before).value();
  // Every embedding cosine (the target, the ranking, the report) is against the user's
  // fp32 model, never the rewritten one.
  auto holdout = EmbeddingProbe::create(fp32, images, count, held);
  if (!holdout.ok()) return holdout.status();
  auto ranking = EmbeddingProbe::create(fp32, images, 0, std::min(count, o.ranking_images));
  if (!ranking.ok()) return ranking.status();

  const Model* reference = &fp32;  // the model int8 quantizes: the equalized one, if any
  OwnedModel equalized;
  Calibration calibration = std::move(plain_calibration).value();
  if (o.equalization != Equalization::kOff) {
    EDGECLR_RETURN_IF_ERROR(equalize_and_calibrate(fp32, images, o, ranking.value(), &equalized, &calibration,
                                                   &result.equalization));
    reference = equalized.model.get();
  }
  QuantizeOptions options = o.quantize;
  if (o.target_cosine > 0) {
    auto first = quantized(*reference, calibration, options);
    if (!first.ok()) return first.status();
    auto c = holdout->cosines(*first->model);
    if (!c.ok()) return c.status();
    say(o, format("corrected int8: held-out mean cosine %.5f", mean(c.value())));
    if (mean(c.value()) < o.target_cosine) {
      EDGECLR_RETURN_IF_ERROR(
          search_fp32_layers(*reference, calibration, ranking.value(), holdout.value(), o, &options, &result));
    }
  }
  auto final_model = quantized(*reference, calibration, options);
  if (!final_model.ok()) return final_model.status();
  say(o, format("measuring the int8 model on %zu held-out images", held));
  // Per-layer SQNR against the model quantized (equalization rescaled its intermediate
  // tensors); the embedding cosines against the original.
  auto after = measure_fidelity(*reference, *final_model->model, images, count, held, o.progress);
  if (!after.ok()) return after.status();
  result.after = std::move(after).value();
  auto cosines = holdout->cosines(*final_model->model);
  if (!cosines.ok()) return cosines.status();
  result.after.mean_cosine = mean(cosines.value());
  result.after.min_cosine = *std::min_element(cosines->begin(), cosines->end());
  result.int8_mac_share = int8_mac_share(*final_model->model, &result.total_macs);
  result.bytes = std::move(final_model->bytes);
  return result;
}

}  // namespace edgeclr::convert
