#include "convert/graph_passes.h"

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

void erase_nodes(Graph& graph, const std::set<size_t>& dead) {
  std::vector<Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!dead.count(i)) kept.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(kept);
}

bool all_constant(const Graph& graph, const Node& node) {
  for (const std::string& in : node.inputs) {
    if (!in.empty() && graph.constant(in) == nullptr) return false;
  }
  return true;
}

Constant ints_constant(std::vector<int64_t> values) {
  Constant c;
  c.is_float = false;
  c.dims = {static_cast<int64_t>(values.size())};
  c.ints = std::move(values);
  return c;
}

std::vector<int64_t> as_ints(const Constant& c) {
  if (!c.is_float) return c.ints;
  return std::vector<int64_t>(c.floats.begin(), c.floats.end());
}

// Axes of Unsqueeze/Squeeze: an attribute before opset 13, an input from 13 on.
std::vector<int64_t> axes_of(const Graph& graph, const Node& node) {
  if (node.has("axes")) return node.ints_attr("axes");
  if (node.inputs.size() > 1 && graph.constant(node.inputs[1])) return as_ints(*graph.constant(node.inputs[1]));
  return {};
}

// Elementwise arithmetic of two constants, equal shapes or one a single value.
std::optional<Constant> fold_arithmetic(const Node& node, const Constant& a, const Constant& b) {
  if (a.count() != b.count() && a.count() != 1 && b.count() != 1) return std::nullopt;
  Constant out = a.count() >= b.count() ? a : b;
  const bool is_float = a.is_float || b.is_float;
  out.is_float = is_float;
  const int64_t n = std::max(a.count(), b.count());
  out.floats.assign(is_float ? n : 0, 0.0f);
  out.ints.assign(is_float ? 0 : n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const double x = a.is_float ? a.floats[a.count() == 1 ? 0 : i] : double(a.ints[a.count() == 1 ? 0 : i]);
    const double y = b.is_float ? b.floats[b.count() == 1 ? 0 : i] : double(b.ints[b.count() == 1 ? 0 : i]);
    double r = 0;
    if (node.op == "Add") r = x + y;
    else if (node.op == "Sub") r = x - y;
    else if (node.op == "Mul") r = x * y;
    else if (node.op == "Div") r = is_float ? x / y : (y == 0 ? 0 : std::trunc(x / y));
    if (is_float) out.floats[i] = static_cast<float>(r);
    else out.ints[i] = static_cast<int64_t>(r);
  }
  return out;
}

// Slice of a 1-D constant (the shape vectors of Shape -> Slice chains): starts, ends,
// axes and steps from inputs (opset 10 on) or attributes (before). nullopt otherwise.
std::optional<Constant> fold_slice(const Graph& graph, const Node& node, const Constant& a) {
  if (a.dims.size() != 1) return std::nullopt;
  const auto list = [&](size_t input, const char* attribute) -> std::optional<std::vector<int64_t>> {
    if (node.has(attribute)) return node.ints_attr(attribute);
    if (node.inputs.size() <= input || node.inputs[input].empty()) return std::vector<int64_t>{};
    const Constant* c = graph.constant(node.inputs[input]);
    if (!c) return std::nullopt;
    return as_ints(*c);
  };
  const auto starts = list(1, "starts"), ends = list(2, "ends"), axes = list(3, "axes"), steps = list(4, "steps");
  if (!starts || !ends || !axes || !steps || starts->size() != 1 || ends->size() != 1) return std::nullopt;
  if ((!axes->empty() && (axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -1)))) return std::nullopt;
  const int64_t n = a.count(), step = steps->empty() ? 1 : (*steps)[0];
  if (step == 0) return std::nullopt;
  // ONNX clamps starts and ends into the dimension (INT64_MAX means "to the end").
  const auto clamp_index = [&](int64_t v, int64_t lo, int64_t hi) {
    if (v < 0) v += n;
    return std::max(lo, std::min(hi, v));
  };
  const int64_t begin = step > 0 ? clamp_index((*starts)[0], 0, n) : clamp_index((*starts)[0], -1, n - 1);
  const int64_t end = step > 0 ? clamp_index((*ends)[0], 0, n) : clamp_index((*ends)[0], -1, n - 1);
  Constant c = a;
  c.floats.clear();
  c.ints.clear();
  for (int64_t i = begin; step > 0 ? i < end : i > end; i += step) {
    if (a.is_float) c.floats.push_back(a.floats[i]); else c.ints.push_back(a.ints[i]);
  }
  c.dims = {static_cast<int64_t>(a.is_float ? c.floats.size() : c.ints.size())};
  return c;
}

// Range(start, limit, delta) of scalar constants, at most 2^20 values.
std::optional<Constant> fold_range(const Constant& start, const Constant& limit, const Constant& delta) {
  if (start.count() != 1 || limit.count() != 1 || delta.count() != 1) return std::nullopt;
  const bool is_float = start.is_float;
  const double s = is_float ? start.floats[0] : double(start.ints[0]);
  const double l = limit.is_float ? limit.floats[0] : double(limit.ints[0]);
  const double d = delta.is_float ? delta.floats[0] : double(delta.ints[0]);
  if (d == 0) return std::nullopt;
  const double count = std::max(0.0, std::ceil((l - s) / d));
  if (count > (1 << 20)) return std::nullopt;
  Constant c;
  c.is_float = is_float;
  for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) {
    if (is_float) c.floats.push_back(static_cast<float>(s + i * d)); else c.ints.push_back(static_cast<int64_t>(s + i * d));
  }
  c.dims = {static_cast<int64_t>(count)};
  return c;
}

// The folded value of `node`, or nullopt when it is not foldable.
Result<std::optional<Constant>> evaluate(const Graph& graph, const Node& node) {
  if (node.op == "Constant") {
    if (node.has("value") && node.attributes.at("value").tensor) return std::optional<Constant>(*node.attributes.at("value").tensor);
    if (node.has("value_ints")) return std::optional<Constant>(ints_constant(node.ints_attr("value_ints")));
    if (node.has("value_int")) return std::optional<Constant>(ints_constant({node.int_attr("value_int", 0)}));
    if (node.has("value_float")) {
      Constant c;
      c.floats = {node.float_attr("value_float", 0)};
      return std::optional<Constant>(c);
    }
    return node_error(node, "only tensor, int(s) and float values are supported");
  }
  if (node.op == "Shape") {
    const Value& in = graph.values.at(node.inputs[0]);
    if (!in.shape_known) return std::optional<Constant>();
    for (int64_t d : in.shape) {
      if (d < 0) return std::optional<Constant>();
    }
    return std::optional<Constant>(ints_constant(in.shape));
  }
  if (!all_constant(graph, node)) return std::optional<Constant>();
  const Constant& a = *graph.constant(node.inputs[0]);
  if (node.op == "Cast") {
    Constant c = a;
    const int64_t to = node.int_attr("to", 1);
    const bool to_float = to == 1 || to == 10 || to == 11;
    if (to_float && !a.is_float) c.floats.assign(a.ints.begin(), a.ints.end());
    if (!to_float && a.is_float) c.ints.assign(a.floats.begin(), a.floats.end());
    c.is_float = to_float;
    if (to_float) c.ints.clear(); else c.floats.clear();
    return std::optional<Constant>(c);
  }
  if (node.op == "Unsqueeze" || node.op == "Squeeze") {
    Constant c = a;
    std::vector<int64_t> axes = axes_of(graph, node);
    if (node.op == "Unsqueeze") {
      const int64_t rank = static_cast<int64_t>(a.dims.size() + axes.size());
      for (int64_t& axis : axes) axis = axis < 0 ? axis + rank : axis;
      std::sort(axes.begin(), axes.end());
      for (int64_t axis : axes) c.dims.insert(c.dims.begin() + std::min<int64_t>(axis, c.dims.size()), 1);
    } else {
      const auto rank = static_cast<int64_t>(a.dims.size());
      std::vector<int64_t> dims;
      for (int64_t i = 0; i < rank; ++i) {
        const bool listed = std::any_of(axes.begin(), axes.end(), [&](int64_t axis) {
          return (axis < 0 ? axis + rank : axis) == i;
        });
        if (axes.empty() ? a.dims[i] != 1 : !listed) dims.push_back(a.dims[i]);
      }
      c.dims = dims;
    }
    return std::optional<Constant>(c);
  }
  if (node.op == "Gather" && a.dims.size() == 1 && node.int_attr("axis", 0) == 0) {
    const Constant& idx = *graph.constant(node.inputs[1]);
    Constant c = a;
    c.dims = idx.dims;
    c.floats.clear();
    c.ints.clear();
    for (int64_t i : as_ints(idx)) {
      const int64_t k = i < 0 ? i + a.count() : i;
      if (k < 0 || k >= a.count()) return node_error(node, "index out of range");
      if (a.is_float) c.floats.push_back(a.floats[k]); else c.ints.push_back(a.ints[k]);
    }
    return std::optional<Constant>(c);
  }
  if (node.op == "Concat" && a.dims.size() == 1) {
    Constant c = a;
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      const Constant& b = *graph.constant(node.inputs[i]);
      if (b.dims.size() != 1 || b.is_float != a.is_float) return std::optional<Constant>();
      c.floats.insert(c.floats.end(), b.floats.begin(), b.floats.end());
      c.ints.insert(c.ints.end(), b.ints.begin(), b.ints.end());
    }
    c.dims = {static_cast<int64_t>(c.is_float ? c.floats.size() : c.ints.size())};
    return std::optional<Constant>(c);
  }
  if ((node.op == "Add" || node.op == "Sub" || node.op == "Mul" || node.op == "Div") && node.inputs.size() == 2) {
    return fold_arithmetic(node, a, *graph.constant(node.inputs[1]));
  }
  if (node.op == "Slice") return fold_slice(graph, node, a);
  if (node.op == "Range" && node.inputs.size() == 3) {
    return fold_range(a, *graph.constant(node.inputs[1]), *graph.constant(node.inputs[2]));
  }
  return std::optional<Constant>();
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
  erase_nodes(graph, dead);
  return Status::Ok();
}

Status fold_constants(Graph& graph) {
  std::set<size_t> dead;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    auto folded = evaluate(graph, n);
    if (!folded.ok()) return folded.status();
    if (!folded.value()) continue;
    Value& out = graph.values[n.outputs[0]];
    out.shape = folded.value()->dims;
    out.shape_known = true;
    out.constant = std::move(*folded.value());
    dead.insert(i);
  }
  erase_nodes(graph, dead);
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
  erase_nodes(graph, dead);
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
  erase_nodes(graph, dead);
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
    erase_nodes(graph, {i});
    return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace edgeclr::convert
