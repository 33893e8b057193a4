// edgeclr inspect MODEL [--json]
#include <algorithm>
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "edgeclr/edgeclr.h"
#include "backbone/backbone.h"
#include "model/model.h"
#include "model/model_summary.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr inspect MODEL [--json]\n\n"
    "Verifies an .eclr model and shows its input spec, operator counts, parameters,\n"
    "precision, feature and embedding dimensions, file size and backbone hash.\n"
    "A file that fails verification is reported in one line and exits with 1.\n\n"
    "options:\n"
    "  --json   print one JSON object to stdout instead of text. Keys: format_version,\n"
    "           file, file_size, producer, source_model, input {height, width, channels,\n"
    "           color, mean, std, resize, resize_shorter_side}, precision, feature_dim,\n"
    "           embedding_dim, l2_normalize, head_layers, params, backbone_params,\n"
    "           head_params, macs, ops {type: count}, backbone_hash (16 hex digits),\n"
    "           metadata {key: value} (feature_pool: cls, mean or cls+mean when the\n"
    "           feature pools a transformer's tokens), xnnpack (the XNNPACK this edgeclr\n"
    "           links), needs_xnnpack (2022 or 2024: the oldest that runs every operator)\n";

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

std::string floats(const flatbuffers::Vector<float>* v) {
  std::string out = "[";
  for (uint32_t i = 0; v && i < v->size(); ++i) out += (i ? "," : "") + format("%g", v->Get(i));
  return out + "]";
}

const char* resize_name(schema::ResizePolicy policy) {
  return policy == schema::ResizePolicy_SHORTER_SIDE_CROP ? "crop" : "stretch";
}

// The oldest XNNPACK generation that runs every operator as the model stores it.
uint32_t needed_xnnpack(const Model& model) {
  uint32_t needed = 2022;
  for (const schema::Operator* op : *model.backbone().operators()) {
    needed = std::max(needed, fp32_since_xnnpack(*op));
    if (model.tensors()[op->inputs()->Get(0)].dtype == schema::DType_INT8) {
      needed = std::max(needed, int8_since_xnnpack(*op, model.tensors()));
    }
  }
  return needed;
}

std::string metadata_value(const schema::Model& root, const char* key) {
  if (const auto* metadata = root.metadata()) {
    for (const schema::KeyValue* kv : *metadata) {
      if (str(kv->key()) == key) return str(kv->value());
    }
  }
  return "";
}

std::string head_dims(const Model& model) {
  std::string out = std::to_string(model.feature_dim());
  if (const auto* layers = model.head().layers()) {
    for (const schema::DenseLayer* layer : *layers) out += "->" + std::to_string(layer->out_dim());
  }
  return out;
}

void print_json(const Model& model, const ModelSummary& s) {
  const schema::Model& root = model.root();
  const schema::InputSpec& in = model.input_spec();
  JsonWriter j;
  j.begin_object();
  j.key("format_version").value(root.format_version());
  j.key("file").value(model.name());
  j.key("file_size").value(uint64_t{model.file_size()});
  j.key("producer").value(root.provenance() ? str(root.provenance()->producer()) : "");
  j.key("source_model").value(root.provenance() ? str(root.provenance()->source_model()) : "");
  j.key("input").begin_object();
  j.key("height").value(in.height()).key("width").value(in.width()).key("channels").value(in.channels());
  j.key("color").value(in.color() == schema::ColorSpace_GRAY ? "gray" : "rgb");
  j.key("mean").begin_array();
  for (float m : *in.mean()) j.value(m);
  j.end_array().key("std").begin_array();
  for (float d : *in.std()) j.value(d);
  j.end_array();
  j.key("resize").value(resize_name(in.resize())).key("resize_shorter_side").value(in.resize_shorter_side());
  j.end_object();
  j.key("precision").value(s.precision);
  j.key("feature_dim").value(model.feature_dim()).key("embedding_dim").value(model.embedding_dim());
  j.key("l2_normalize").value(model.head().l2_normalize());
  j.key("head_layers").begin_array();
  if (const auto* layers = model.head().layers()) {
    for (const schema::DenseLayer* layer : *layers) {
      j.begin_object().key("in").value(layer->in_dim()).key("out").value(layer->out_dim()).end_object();
    }
  }
  j.end_array();
  j.key("params").value(s.backbone_params + s.head_params);
  j.key("backbone_params").value(s.backbone_params).key("head_params").value(s.head_params);
  j.key("macs").value(s.backbone_macs + s.head_macs);
  j.key("ops").begin_object();
  for (const auto& [name, count] : s.op_counts) j.key(name).value(count);
  j.end_object();
  j.key("backbone_hash").value(hex64(model.backbone_hash()));
  j.key("metadata").begin_object();
  if (const auto* metadata = root.metadata()) {
    for (const schema::KeyValue* kv : *metadata) j.key(str(kv->key())).value(str(kv->value()));
  }
  j.end_object();
  j.key("xnnpack").value(edgeclr_xnnpack_version());
  j.key("needs_xnnpack").value(needed_xnnpack(model));
  j.end_object();
  std::printf("%s\n", j.str().c_str());
}

void print_text(const Model& model, const ModelSummary& s) {
  const schema::Model& root = model.root();
  const schema::InputSpec& in = model.input_spec();
  std::printf("model          %s (%zu bytes, format %u)\n", model.name().c_str(), model.file_size(),
              root.format_version());
  if (const auto* p = root.provenance()) {
    std::printf("producer       %s\n", str(p->producer()).c_str());
    std::printf("source         %s\n", str(p->source_model()).c_str());
  }
  std::printf("input          %ux%u %s, NHWC, mean %s std %s, resize %s\n", in.height(), in.width(),
              in.color() == schema::ColorSpace_GRAY ? "gray" : "RGB", floats(in.mean()).c_str(),
              floats(in.std()).c_str(), resize_name(in.resize()));
  std::printf("precision      %s\n", s.precision);
  std::string ops;
  uint32_t total = 0;
  for (const auto& [name, count] : s.op_counts) {
    ops += (ops.empty() ? "" : ", ") + name + " " + std::to_string(count);
    total += count;
  }
  std::printf("operators      %u: %s\n", total, ops.c_str());
  std::printf("params         %llu (backbone %llu, head %llu)\n",
              static_cast<unsigned long long>(s.backbone_params + s.head_params),
              static_cast<unsigned long long>(s.backbone_params), static_cast<unsigned long long>(s.head_params));
  std::printf("MACs/image     %llu (backbone %llu, head %llu)\n",
              static_cast<unsigned long long>(s.backbone_macs + s.head_macs),
              static_cast<unsigned long long>(s.backbone_macs), static_cast<unsigned long long>(s.head_macs));
  const std::string pool = metadata_value(root, "feature_pool");
  std::printf("feature        %u%s\n", model.feature_dim(),
              pool.empty() ? "" : (" (" + pool + " of the tokens of " + metadata_value(root, "feature_output") + ")").c_str());
  std::printf("embedding      %u%s, head %s\n", model.embedding_dim(),
              model.head().l2_normalize() ? " (L2-normalised)" : "", head_dims(model).c_str());
  std::printf("backbone hash  %s\n", hex64(model.backbone_hash()).c_str());
  const uint32_t needed = needed_xnnpack(model);
  const bool runs_here = needed <= xnnpack_info().api;
  std::printf("needs          XNNPACK %u or later; this edgeclr links XNNPACK %s%s\n", needed, edgeclr_xnnpack_version(),
              runs_here ? "" : ": an encoder is refused here");
}

}  // namespace

int run_inspect(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json"}, {}, &args, &error)) return usage_error("inspect", error);
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  if (args.positional.size() != 1) return usage_error("inspect", "expected one MODEL file");
  auto model = Model::open_file(args.positional[0]);
  if (!model.ok()) return fail(model.status().message());
  const ModelSummary summary = summarize(*model.value());
  if (args.has("json")) {
    print_json(*model.value(), summary);
  } else {
    print_text(*model.value(), summary);
  }
  return kExitOk;
}

}  // namespace edgeclr::cli
