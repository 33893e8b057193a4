// Pattern rewrites of what exporters spell out for transformers (graph_passes.h):
// LayerNorm as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul/Add] and GELU as
// x * 0.5 * (1 + Erf(x / sqrt(2))) or its tanh approximation become one node each, which lowering maps onto one
// edgeclr operator. Each matched intermediate must be read by the pattern alone.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "convert/graph_passes.h"

namespace edgeclr::convert {
namespace {

class Matcher {
 public:
  explicit Matcher(const Graph& g) : g_(g) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const std::string& out : g.nodes[i].outputs) producer_[out] = i;
    }
  }

  // The node computing `value` when it has type `op`, else null.
  const Node* made_by(const std::string& value, const char* op, size_t* index = nullptr) const {
    const auto it = producer_.find(value);
    if (it == producer_.end() || g_.nodes[it->second].op != op) return nullptr;
    if (index) *index = it->second;
    return &g_.nodes[it->second];
  }
  // `value` is read by exactly `count` nodes and is not the graph output.
  bool read_by(const std::string& value, size_t count) const {
    return g_.output != value && g_.consumers(value).size() == count;
  }
  // The single float value of a one-element constant.
  std::optional<float> scalar(const std::string& value) const {
    const Constant* c = g_.constant(value);
    if (c == nullptr || c->count() != 1) return std::nullopt;
    return c->is_float ? c->floats[0] : float(c->ints[0]);
  }
  // The input of a two-input node that is not `known`.
  static const std::string* other_input(const Node& n, const std::string& known) {
    if (n.inputs.size() != 2) return nullptr;
    if (n.inputs[0] == known) return &n.inputs[1];
    if (n.inputs[1] == known) return &n.inputs[0];
    return nullptr;
  }
  // Nodes reading `value`.
  std::vector<size_t> readers(const std::string& value) const { return g_.consumers(value); }

 private:
  const Graph& g_;
  std::map<std::string, size_t> producer_;
};

bool near(float v, double want) { return std::fabs(double(v) - want) <= 1e-5 * std::max(1.0, std::fabs(want)); }

// ReduceMean over the last axis only, keeping dims.
bool mean_over_last(const Graph& g, const Node& n) {
  if (n.op != "ReduceMean" || n.int_attr("keepdims", 1) == 0) return false;
  std::vector<int64_t> axes = n.ints_attr("axes");
  if (axes.empty() && n.inputs.size() > 1 && g.constant(n.inputs[1])) axes = g.constant(n.inputs[1])->ints;
  const auto rank = int64_t(g.values.at(n.inputs[0]).shape.size());
  return axes.size() == 1 && (axes[0] == -1 || axes[0] == rank - 1);
}

Attribute int_attribute(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}

Attribute float_attribute(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}

// From the Div that ends a spelled-out LayerNorm: the nodes it is made of, or nothing.
struct LayerNormMatch {
  std::vector<size_t> nodes;  // every node of the pattern but the last
  size_t last;                // the node whose output is the LayerNorm's
  std::string x, gamma, beta;
  float epsilon;
};

std::optional<LayerNormMatch> match_layer_norm(const Graph& g, const Matcher& m, size_t div_index) {
  const Node& div = g.nodes[div_index];
  if (div.op != "Div" || div.inputs.size() != 2) return std::nullopt;
  size_t sub_i, sqrt_i, add_i, var_i, pow_i, mean_i;
  const Node* sub = m.made_by(div.inputs[0], "Sub", &sub_i);
  const Node* sqrt = m.made_by(div.inputs[1], "Sqrt", &sqrt_i);
  if (!sub || !sqrt || !m.read_by(sqrt->outputs[0], 1)) return std::nullopt;
  const Node* add = m.made_by(sqrt->inputs[0], "Add", &add_i);
  if (!add || !m.read_by(add->outputs[0], 1)) return std::nullopt;
  const Node* var = m.made_by(add->inputs[0], "ReduceMean", &var_i);
  const std::optional<float> eps = m.scalar(add->inputs[1]);
  if (!var || !eps || !mean_over_last(g, *var) || !m.read_by(var->outputs[0], 1)) return std::nullopt;
  const Node* square = m.made_by(var->inputs[0], "Pow", &pow_i);
  if (square && !(m.scalar(square->inputs[1]) && near(*m.scalar(square->inputs[1]), 2.0))) return std::nullopt;
  if (!square) {
    square = m.made_by(var->inputs[0], "Mul", &pow_i);
    if (!square || square->inputs[0] != square->inputs[1]) return std::nullopt;
  }
  if (square->inputs[0] != sub->outputs[0] || !m.read_by(square->outputs[0], 1)) return std::nullopt;
  if (!m.read_by(sub->outputs[0], square->op == "Mul" ? 2 : 2)) return std::nullopt;  // the square and the Div
  const Node* mean = m.made_by(sub->inputs[1], "ReduceMean", &mean_i);
  if (!mean || !mean_over_last(g, *mean) || mean->inputs[0] != sub->inputs[0] || !m.read_by(mean->outputs[0], 1)) {
    return std::nullopt;
  }
  LayerNormMatch match{{mean_i, sub_i, pow_i, var_i, add_i, sqrt_i}, div_index, sub->inputs[0], "", "", *eps};
  // An affine tail: Mul by a constant of C values, then Add of one.
  const auto dims = g.values.at(match.x).shape;
  const int64_t c = dims.empty() ? -1 : dims.back();
  const auto per_channel = [&](const std::string& v) {
    const Constant* k = g.constant(v);
    return k != nullptr && k->is_float && k->count() == c && (k->dims.size() == 1 || k->dims.back() == c);
  };
  const std::vector<size_t> after_div = m.readers(div.outputs[0]);
  if (m.read_by(div.outputs[0], 1) && g.nodes[after_div[0]].op == "Mul") {
    const Node& mul = g.nodes[after_div[0]];
    const std::string* k = Matcher::other_input(mul, div.outputs[0]);
    if (k && per_channel(*k)) {
      match.gamma = *k;
      match.nodes.push_back(div_index);
      match.last = after_div[0];
      const std::vector<size_t> after_mul = m.readers(mul.outputs[0]);
      if (m.read_by(mul.outputs[0], 1) && g.nodes[after_mul[0]].op == "Add") {
        const std::string* b = Matcher::other_input(g.nodes[after_mul[0]], mul.outputs[0]);
        if (b && per_channel(*b)) {
          match.beta = *b;
          match.nodes.push_back(match.last);
          match.last = after_mul[0];
        }
      }
    }
  }
  return match;
}

// GELU: x * 0.5 * (1 + f(x)), f = Erf(x / sqrt 2) or Tanh(sqrt(2 / pi) (x + 0.044715 x^3)),
// in any order of its Muls and their operands.
struct GeluMatch {
  std::vector<size_t> nodes;
  size_t last;
  std::string x;
  bool tanh;
};

// The scalar operand of a two-input `op` node that reads `value` and a constant near
// `want`, by index; nullopt otherwise.
std::optional<size_t> scaled_by(const Graph& g, const Matcher& m, const std::string& value, const char* op,
                                double want) {
  if (!m.read_by(value, 1)) return std::nullopt;
  const size_t i = m.readers(value)[0];
  const Node& n = g.nodes[i];
  const std::string* k = Matcher::other_input(n, value);
  if (n.op != op || !k || !m.scalar(*k) || !near(*m.scalar(*k), want)) return std::nullopt;
  return i;
}

// x^3 as Pow(x, 3), Mul(x, Mul(x, x)) or Mul(Mul(x, x), x): the nodes, by index.
std::optional<std::vector<size_t>> cube_of(const Matcher& m, const std::string& value, const std::string& x) {
  size_t i, j;
  if (const Node* pow = m.made_by(value, "Pow", &i)) {
    if (pow->inputs[0] == x && m.scalar(pow->inputs[1]) && near(*m.scalar(pow->inputs[1]), 3.0)) {
      return std::vector<size_t>{i};
    }
    return std::nullopt;
  }
  const Node* mul = m.made_by(value, "Mul", &i);
  if (!mul) return std::nullopt;
  const std::string* sq = Matcher::other_input(*mul, x);
  const Node* square = sq ? m.made_by(*sq, "Mul", &j) : nullptr;
  if (!square || square->inputs[0] != x || square->inputs[1] != x || !m.read_by(square->outputs[0], 1)) {
    return std::nullopt;
  }
  return std::vector<size_t>{j, i};
}

// The part that computes f(x) up to the Erf or Tanh at `core`: its nodes and x.
std::optional<std::pair<std::vector<size_t>, std::string>> gelu_core(const Graph& g, const Matcher& m, size_t core) {
  const Node& f = g.nodes[core];
  size_t scale_i;
  if (f.op == "Erf") {
    const Node* scale = m.made_by(f.inputs[0], "Div", &scale_i);  // x / sqrt 2
    if (scale && m.scalar(scale->inputs[1]) && near(*m.scalar(scale->inputs[1]), std::sqrt(2.0)) &&
        m.read_by(scale->outputs[0], 1)) {
      return std::make_pair(std::vector<size_t>{scale_i}, scale->inputs[0]);
    }
    scale = m.made_by(f.inputs[0], "Mul", &scale_i);  // x * (1 / sqrt 2), either order
    if (!scale || !m.read_by(scale->outputs[0], 1)) return std::nullopt;
    const int k = m.scalar(scale->inputs[0]) ? 0 : 1;
    if (!m.scalar(scale->inputs[size_t(k)]) || !near(*m.scalar(scale->inputs[size_t(k)]), 1 / std::sqrt(2.0))) {
      return std::nullopt;
    }
    return std::make_pair(std::vector<size_t>{scale_i}, scale->inputs[size_t(1 - k)]);
  }
  // Tanh(Mul(sqrt(2/pi), Add(x, Mul(0.044715, x^3)))), operands in either order.
  const Node* scale = m.made_by(f.inputs[0], "Mul", &scale_i);
  if (!scale || !m.read_by(scale->outputs[0], 1)) return std::nullopt;
  const bool first_is_k = m.scalar(scale->inputs[0]).has_value();
  const std::string& k = scale->inputs[first_is_k ? 0 : 1];
  const std::string& inner_value = scale->inputs[first_is_k ? 1 : 0];
  if (!m.scalar(k) || !near(*m.scalar(k), std::sqrt(2.0 / M_PI))) return std::nullopt;
  size_t add_i, cubic_i;
  const Node* add = m.made_by(inner_value, "Add", &add_i);
  if (!add || !m.read_by(add->outputs[0], 1)) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const std::string& x = add->inputs[side];
    const Node* cubic = m.made_by(add->inputs[1 - side], "Mul", &cubic_i);
    if (!cubic || !m.read_by(cubic->outputs[0], 1)) continue;
    const bool c_first = m.scalar(cubic->inputs[0]).has_value();
    const std::string& c = cubic->inputs[c_first ? 0 : 1];
    if (!m.scalar(c) || !near(*m.scalar(c), 0.044715)) continue;
    const auto cube = cube_of(m, cubic->inputs[c_first ? 1 : 0], x);
    if (!cube || !m.read_by(cubic->inputs[c_first ? 1 : 0], 1)) continue;
    std::vector<size_t> nodes = *cube;
    nodes.insert(nodes.end(), {cubic_i, add_i, scale_i});
    return std::make_pair(nodes, x);
  }
  return std::nullopt;
}

std::optional<GeluMatch> match_gelu(const Graph& g, const Matcher& m, size_t core_index) {
  const auto core = gelu_core(g, m, core_index);
  if (!core) return std::nullopt;
  const std::string& x = core->second;
  const Node& f = g.nodes[core_index];
  const std::optional<size_t> plus_i = scaled_by(g, m, f.outputs[0], "Add", 1.0);
  if (!plus_i) return std::nullopt;
  const Node& plus = g.nodes[*plus_i];
  if (!m.read_by(plus.outputs[0], 1)) return std::nullopt;
  const size_t mul1_i = m.readers(plus.outputs[0])[0];
  const Node& mul1 = g.nodes[mul1_i];
  const std::string* other = Matcher::other_input(mul1, plus.outputs[0]);
  if (mul1.op != "Mul" || !other) return std::nullopt;
  GeluMatch match{core->first, mul1_i, x, f.op == "Tanh"};
  match.nodes.insert(match.nodes.end(), {core_index, *plus_i});
  if (*other == x) {  // (x * (1 + f)) * 0.5
    const std::optional<size_t> half_i = scaled_by(g, m, mul1.outputs[0], "Mul", 0.5);
    if (!half_i) return std::nullopt;
    match.nodes.push_back(mul1_i);
    match.last = *half_i;
    return match;
  }
  size_t half_i;  // (x * 0.5) * (1 + f)
  const Node* half = m.made_by(*other, "Mul", &half_i);
  if (!half || !m.read_by(half->outputs[0], 1)) return std::nullopt;
  const std::string* k = Matcher::other_input(*half, x);
  if (!k || !m.scalar(*k) || !near(*m.scalar(*k), 0.5)) return std::nullopt;
  match.nodes.push_back(half_i);
  return match;
}

// Turns node `last` into the fused node and drops `dead`.
void replace_with(Graph& g, const std::vector<size_t>& dead, size_t last, Node fused) {
  fused.name = g.nodes[last].name;
  fused.outputs = {g.nodes[last].outputs[0]};
  g.nodes[last] = std::move(fused);
  std::set<size_t> drop(dead.begin(), dead.end());
  drop.erase(last);
  g.erase_nodes(drop);
}

}  // namespace

Status fuse_layer_norm(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (graph.nodes[i].op != "Div") continue;
    const Matcher m(graph);
    const std::optional<LayerNormMatch> match = match_layer_norm(graph, m, i);
    if (!match) continue;
    Node fused;
    fused.op = "LayerNormalization";
    fused.inputs = {match->x, match->gamma, match->beta};
    while (!fused.inputs.empty() && fused.inputs.back().empty()) fused.inputs.pop_back();
    fused.attributes["axis"] = int_attribute(-1);
    fused.attributes["epsilon"] = float_attribute(match->epsilon);
    replace_with(graph, match->nodes, match->last, std::move(fused));
    i = 0;  // indices moved; patterns do not overlap, so starting over finds the rest
  }
  return Status::Ok();
}

Status fuse_gelu(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (graph.nodes[i].op != "Erf" && graph.nodes[i].op != "Tanh") continue;
    const Matcher m(graph);
    const std::optional<GeluMatch> match = match_gelu(graph, m, i);
    if (!match) continue;
    Node fused;
    fused.op = "Gelu";
    fused.inputs = {match->x};
    Attribute approximate;
    approximate.kind = Attribute::Kind::kString;
    approximate.s = match->tanh ? "tanh" : "none";
    fused.attributes["approximate"] = approximate;
    replace_with(graph, match->nodes, match->last, std::move(fused));
    i = 0;
  }
  return Status::Ok();
}

}  // namespace edgeclr::convert
