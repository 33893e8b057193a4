#include "convert/graph_passes.h"

#include "convert/constant_eval.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace edgeclr::convert {
namespace {

Status node_error(const Node& node, const std::string& why) {
  return error(StatusCode::kUnsupported, format("node '%s' (%s): %s", node.name.c_str(), node.op.c_str(), why.c_str()));
}

// Makes every reader of `from` read `to` instead (and the graph output too).
void rename_uses(Graph& graph, const std::string& from, const std::string& to) {
  for (Node& n : graph.nodes) {
    for (std::string& in : n.inputs) {
      if (in == from) in = to;
    }
  }
  if (graph.output == from) graph.output = to;
}



}  // namespace

Status remove_passthrough(Graph& graph) {
  std::set<size_t> dead;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (n.op != "Identity" && n.op != "Dropout") continue;
    if (n.outputs.size() > 1 && !n.outputs[1].empty() && !graph.consumers(n.outputs[1]).empty()) {
      return node_error(n, "the dropout mask is used; only inference graphs are supported");
    }
    if (n.outputs[0] == graph.output && graph.constant(n.inputs[0]) == nullptr) {
      graph.output = n.inputs[0];
    }
    rename_uses(graph, n.outputs[0], n.inputs[0]);
    dead.insert(i);
  }
  graph.erase_nodes(dead);
  return Status::Ok();
}

Status fold_constants(Graph& graph) {
  std::set<size_t> dead;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    auto folded = evaluate_constant(graph, n);
    if (!folded.ok()) return folded.status();
    if (!folded.value()) continue;
    Value& out = graph.values[n.outputs[0]];
    out.shape = folded.value()->dims;
    out.shape_known = true;
    out.constant = std::move(*folded.value());
    dead.insert(i);
  }
  graph.erase_nodes(dead);
  return Status::Ok();
}

namespace {

// The Conv producing `value`, when that value is read by one node only (not also the
// graph's output) and the conv has constant float weights; else null.
Node* sole_conv_producer(Graph& graph, const std::string& value) {
  const auto producer = std::find_if(graph.nodes.begin(), graph.nodes.end(), [&](const Node& n) {
    return n.op == "Conv" && n.outputs[0] == value;
  });
  if (producer == graph.nodes.end() || graph.consumers(value).size() != 1 || graph.output == value) return nullptr;
  const Constant* w = graph.constant(producer->inputs[1]);
  return w && w->is_float ? &*producer : nullptr;
}

// conv's output channel o becomes k[o] * output + c[o] (weights and bias rescaled, under
// new names); `reader` is the node the rewrite replaces, for errors.
Status fold_affine_into_conv(Graph& graph, Node& conv, const Node& reader, const std::vector<double>& k,
                             const std::vector<double>& c) {
  const Constant* w = graph.constant(conv.inputs[1]);
  const int64_t out_c = w->dims[0];
  Constant weight = *w;
  Constant bias;
  bias.dims = {out_c};
  bias.floats.assign(out_c, 0.0f);
  const Constant* old_bias = conv.inputs.size() > 2 && !conv.inputs[2].empty() ? graph.constant(conv.inputs[2]) : nullptr;
  const int64_t per_out = weight.count() / out_c;
  for (int64_t o = 0; o < out_c; ++o) {
    for (int64_t j = 0; j < per_out; ++j) weight.floats[o * per_out + j] = static_cast<float>(weight.floats[o * per_out + j] * k[o]);
    const double b = old_bias ? old_bias->floats[o] : 0.0;
    bias.floats[o] = static_cast<float>(b * k[o] + c[o]);
  }
  // Named after the conv's output, which is unique in a graph (node names need not be).
  const std::string weight_name = conv.outputs[0] + "/folded_weight";
  const std::string bias_name = conv.outputs[0] + "/folded_bias";
  if (graph.values.count(weight_name) || graph.values.count(bias_name)) {
    return node_error(reader, "cannot fold: '" + weight_name + "' already names a value");
  }
  graph.values[weight_name] = Value{weight.dims, true, weight};
  graph.values[bias_name] = Value{bias.dims, true, bias};
  conv.inputs.resize(3);
  conv.inputs[1] = weight_name;
  conv.inputs[2] = bias_name;
  return Status::Ok();
}

}  // namespace

Status fold_batch_norm(Graph& graph) {
  std::set<size_t> dead;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& bn = graph.nodes[i];
    if (bn.op != "BatchNormalization") continue;
    // Opsets 7-8: spatial = 0 keeps statistics per element ([C,H,W]), not per channel.
    if (bn.int_attr("spatial", 1) != 1) return node_error(bn, "spatial = 0 (statistics per element) is not supported");
    Node* conv = sole_conv_producer(graph, bn.inputs[0]);
    if (!conv) continue;
    const Constant* scale = graph.constant(bn.inputs[1]);
    const Constant* shift = graph.constant(bn.inputs[2]);
    const Constant* mean = graph.constant(bn.inputs[3]);
    const Constant* var = graph.constant(bn.inputs[4]);
    if (!scale || !shift || !mean || !var) continue;
    const int64_t out_c = graph.constant(conv->inputs[1])->dims[0];
    if (scale->count() != out_c || shift->count() != out_c || mean->count() != out_c || var->count() != out_c) {
      return node_error(bn, "parameter count differs from the convolution's output channels");
    }
    const float eps = bn.float_attr("epsilon", 1e-5f);
    std::vector<double> k(out_c), c(out_c);
    for (int64_t o = 0; o < out_c; ++o) {
      k[o] = scale->floats[o] / std::sqrt(double{var->floats[o]} + eps);
      c[o] = shift->floats[o] - mean->floats[o] * k[o];
    }
    EDGECLR_RETURN_IF_ERROR(fold_affine_into_conv(graph, *conv, bn, k, c));
    rename_uses(graph, bn.outputs[0], conv->outputs[0]);
    dead.insert(i);
  }
  graph.erase_nodes(dead);
  return Status::Ok();
}

Status fold_hard_sigmoid(Graph& graph) {
  for (Node& n : graph.nodes) {
    if (n.op != "HardSigmoid" || n.inputs.size() != 1) continue;
    Node* conv = sole_conv_producer(graph, n.inputs[0]);
    if (!conv) continue;
    const int64_t out_c = graph.constant(conv->inputs[1])->dims[0];
    const std::vector<double> k(out_c, n.float_attr("alpha", 0.2f)), c(out_c, n.float_attr("beta", 0.5f));
    EDGECLR_RETURN_IF_ERROR(fold_affine_into_conv(graph, *conv, n, k, c));
    n.op = "Clip";  // max(0, min(1, .)): opset 6's attribute form, which lowering reads at any opset
    n.attributes.clear();
    n.attributes["min"].kind = Attribute::Kind::kFloat;
    n.attributes["min"].f = 0.0f;
    n.attributes["max"].kind = Attribute::Kind::kFloat;
    n.attributes["max"].f = 1.0f;
  }
  return Status::Ok();
}

}  // namespace edgeclr::convert

namespace edgeclr::convert {

Status rewrite_constant_division(Graph& graph) {
  for (Node& n : graph.nodes) {
    if (n.op == "Reciprocal" && n.inputs.size() == 1) {  // 1 / x: a Div with a constant first
      Value one;
      one.shape_known = true;
      one.constant = Constant{};
      one.constant->floats = {1.0f};
      graph.values[n.name + ".one"] = std::move(one);
      n.inputs = {n.name + ".one", n.inputs[0]};
      n.op = "Div";
      continue;
    }
    if ((n.op != "Div" && n.op != "Sub") || n.inputs.size() != 2) continue;
    const Constant* c = graph.constant(n.inputs[1]);
    if (c == nullptr || graph.constant(n.inputs[0]) != nullptr || !c->is_float) continue;
    Constant rewritten = *c;
    for (float& v : rewritten.floats) {
      const float original = v;
      v = n.op == "Div" ? 1.0f / original : -original;
      if (!std::isfinite(original) || !std::isfinite(v) || (n.op == "Div" && v == 0.0f)) {
        return node_error(n, format("%s by the constant %g", n.op == "Div" ? "divides" : "subtracts", original));
      }
    }
    const std::string name = n.name + (n.op == "Div" ? ".reciprocal" : ".negated");
    Value value;
    value.shape = rewritten.dims;
    value.shape_known = true;
    value.constant = std::move(rewritten);
    graph.values[name] = std::move(value);
    n.inputs[1] = name;
    n.op = n.op == "Div" ? "Mul" : "Add";
  }
  return Status::Ok();
}

Status fuse_hard_swish(Graph& graph) {
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& out : graph.nodes[i].outputs) producer[out] = i;
  }
  const auto is_hard_swish_gate = [&](const std::string& value, const std::string& x) -> std::optional<size_t> {
    const auto it = producer.find(value);
    if (it == producer.end()) return std::nullopt;
    const Node& h = graph.nodes[it->second];
    const bool gate = h.op == "HardSigmoid" && h.inputs.size() == 1 && h.inputs[0] == x &&
                      std::fabs(h.float_attr("alpha", 0.2f) - 1.0f / 6) <= 1e-6f &&
                      h.float_attr("beta", 0.5f) == 0.5f && graph.consumers(value).size() == 1 && graph.output != value;
    return gate ? std::optional<size_t>(it->second) : std::nullopt;
  };
  std::set<size_t> dead;
  for (Node& n : graph.nodes) {
    if (n.op != "Mul" || n.inputs.size() != 2) continue;
    for (int k = 0; k < 2; ++k) {
      const std::string& x = n.inputs[1 - k];
      const std::optional<size_t> gate = is_hard_swish_gate(n.inputs[k], x);
      if (!gate || dead.count(*gate)) continue;
      dead.insert(*gate);
      n.op = "HardSwish";
      n.inputs = {x};
      break;
    }
  }
  graph.erase_nodes(dead);
  return Status::Ok();
}

Status drop_classifier_activation(Graph& graph, std::vector<std::string>* notes) {
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const Node& n = graph.nodes[i];
    if (n.outputs.empty() || n.outputs[0] != graph.output) continue;
    if (n.op != "Softmax" && n.op != "LogSoftmax" && n.op != "ArgMax") return Status::Ok();
    const auto producer = std::find_if(graph.nodes.begin(), graph.nodes.end(), [&](const Node& p) {
      return !p.outputs.empty() && p.outputs[0] == n.inputs[0];
    });
    if (producer == graph.nodes.end() ||
        (producer->op != "Gemm" && producer->op != "MatMul" && producer->op != "Add")) {
      return Status::Ok();  // lowering refuses it with the node named
    }
    if (notes != nullptr) {
      notes->push_back(format("dropped the trailing %s '%s': the embedding is the head's output before a "
                              "classifier's activation", n.op.c_str(), n.name.c_str()));
    }
    graph.output = n.inputs[0];
    graph.erase_nodes({i});
    return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace edgeclr::convert
