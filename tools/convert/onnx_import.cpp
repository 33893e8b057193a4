#include "convert/onnx_import.h"

#include <onnx/onnx_pb.h>
#include <onnx/defs/schema.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "convert/shape_inference.h"

namespace edgeclr::convert {
namespace {

constexpr size_t kMaxOnnxBytes = size_t{1} << 31;  // protobuf's own limit is 2 GiB

Status fail(const std::string& path, const std::string& why) {
  return error(StatusCode::kInvalidModel, format("failed to convert '%s': %s", path.c_str(), why.c_str()));
}

template <typename T>
std::vector<T> raw_values(const std::string& raw) {
  std::vector<T> out(raw.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), raw.data(), out.size() * sizeof(T));  // little-endian hosts
  return out;
}

// Decodes float, double, int32 and int64 tensors; external data is not supported.
Result<Constant> decode_tensor(const onnx::TensorProto& t) {
  Constant c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  for (int64_t d : c.dims) {
    if (d < 0 || d > (int64_t{1} << 32)) return error(StatusCode::kInvalidModel, format("dimension %lld", (long long)d));
  }
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    return error(StatusCode::kUnsupported, "tensor '" + t.name() + "' keeps its data in an external file");
  }
  const bool raw = t.has_raw_data();
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      c.floats = raw ? raw_values<float>(t.raw_data()) : std::vector<float>(t.float_data().begin(), t.float_data().end());
      break;
    case onnx::TensorProto::DOUBLE: {
      const auto d = raw ? raw_values<double>(t.raw_data())
                         : std::vector<double>(t.double_data().begin(), t.double_data().end());
      c.floats.assign(d.begin(), d.end());
      break;
    }
    case onnx::TensorProto::INT64:
      c.is_float = false;
      c.ints = raw ? raw_values<int64_t>(t.raw_data()) : std::vector<int64_t>(t.int64_data().begin(), t.int64_data().end());
      break;
    case onnx::TensorProto::INT32: {
      c.is_float = false;
      const auto v = raw ? raw_values<int32_t>(t.raw_data())
                         : std::vector<int32_t>(t.int32_data().begin(), t.int32_data().end());
      c.ints.assign(v.begin(), v.end());
      break;
    }
    case onnx::TensorProto::BOOL: {  // one byte each in raw_data, else int32_data
      c.is_float = false;
      c.is_bool = true;
      if (raw) {
        for (char b : t.raw_data()) c.ints.push_back(b != 0);
      } else {
        for (int32_t v : t.int32_data()) c.ints.push_back(v != 0);
      }
      break;
    }
    default:
      return error(StatusCode::kUnsupported,
                   format("tensor '%s' has data type %d; supported: float, double, int32, int64, bool", t.name().c_str(),
                          t.data_type()));
  }
  const size_t have = c.is_float ? c.floats.size() : c.ints.size();
  if (static_cast<int64_t>(have) != c.count()) {
    return error(StatusCode::kInvalidModel, format("tensor '%s' has %zu values for %lld elements", t.name().c_str(),
                                                   have, static_cast<long long>(c.count())));
  }
  return c;
}

Value value_from_type(const onnx::TypeProto& type) {
  Value v;
  if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return v;
  v.shape_known = true;
  for (const auto& dim : type.tensor_type().shape().dim()) {
    v.shape.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
  }
  return v;
}

Result<Attribute> decode_attribute(const onnx::AttributeProto& a) {
  Attribute out;
  switch (a.type()) {
    case onnx::AttributeProto::INT: out.kind = Attribute::Kind::kInt; out.i = a.i(); break;
    case onnx::AttributeProto::FLOAT: out.kind = Attribute::Kind::kFloat; out.f = a.f(); break;
    case onnx::AttributeProto::INTS: out.kind = Attribute::Kind::kInts; out.ints.assign(a.ints().begin(), a.ints().end()); break;
    case onnx::AttributeProto::FLOATS:
      out.kind = Attribute::Kind::kFloats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto::STRING: out.kind = Attribute::Kind::kString; out.s = a.s(); break;
    case onnx::AttributeProto::TENSOR: {
      auto t = decode_tensor(a.t());
      if (!t.ok()) return t.status();
      out.kind = Attribute::Kind::kTensor;
      out.tensor = std::move(t).value();
      break;
    }
    default: break;
  }
  return out;
}

Status read_model(const std::string& path, onnx::ModelProto* model) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(StatusCode::kIoError, format("failed to convert '%s': cannot open: %s", path.c_str(), std::strerror(errno)));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  if (data.empty() || data.size() >= kMaxOnnxBytes) return fail(path, format("file has %zu bytes", data.size()));
  if (!model->ParseFromString(data)) return fail(path, "not an ONNX model (protobuf parse failed)");
  return Status::Ok();
}

// The input's dims as the file writes them: numbers, symbolic names, '?' for neither.
std::string dims_text(const onnx::TensorShapeProto& shape) {
  std::string text = "[";
  for (int i = 0; i < shape.dim_size(); ++i) {
    const auto& dim = shape.dim(i);
    text += i ? "," : "";
    text += dim.has_dim_value() ? std::to_string(dim.dim_value()) : dim.has_dim_param() && !dim.dim_param().empty()
                                                                        ? dim.dim_param()
                                                                        : "?";
  }
  return text + "]";
}

bool is_static(const onnx::TensorShapeProto::Dimension& dim) { return dim.has_dim_value() && dim.dim_value() > 0; }

// Binds the image input's symbolic dims (see InputBinding) in the model itself, and drops
// the file's intermediate shape annotations, so that shape inference recomputes every
// shape from the bound input and Shape/Slice/Concat chains become constants.
Status bind_input(onnx::ModelProto* model, const std::string& path, const InputBinding& binding) {
  onnx::GraphProto* g = model->mutable_graph();
  std::set<std::string> initializers;
  for (const auto& init : g->initializer()) initializers.insert(init.name());
  for (auto& in : *g->mutable_input()) {
    if (initializers.count(in.name()) || !in.type().has_tensor_type() || !in.type().tensor_type().has_shape()) continue;
    onnx::TensorShapeProto* shape = in.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() != 4) continue;  // lowering names the problem
    const std::string as_written = dims_text(*shape);
    const uint32_t wanted[4] = {1, binding.channels, binding.height, binding.width};
    const char* give[4] = {"", "--channels N", "--input-size HxW", "--input-size HxW"};
    for (int i = 0; i < 4; ++i) {
      onnx::TensorShapeProto::Dimension* dim = shape->mutable_dim(i);
      if (is_static(*dim)) continue;
      if (wanted[i] == 0) {
        return fail(path, format("the input '%s' has dynamic dims %s: give %s", in.name().c_str(), as_written.c_str(),
                                 give[i]));
      }
      dim->set_dim_value(wanted[i]);  // replaces dim_param (a oneof)
    }
  }
  g->clear_value_info();
  for (auto& out : *g->mutable_output()) {
    if (out.type().has_tensor_type()) out.mutable_type()->mutable_tensor_type()->clear_shape();
  }
  return Status::Ok();
}

onnx::TensorProto encode_tensor(const std::string& name, const Constant& c) {
  onnx::TensorProto t;
  t.set_name(name);
  for (int64_t d : c.dims) t.add_dims(d);
  if (c.is_float) {
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (float v : c.floats) t.add_float_data(v);
  } else if (c.is_bool) {
    t.set_data_type(onnx::TensorProto::BOOL);
    for (int64_t v : c.ints) t.add_int32_data(v != 0);
  } else {
    t.set_data_type(onnx::TensorProto::INT64);
    for (int64_t v : c.ints) t.add_int64_data(v);
  }
  return t;
}

// Makes `folded` values initializers and drops the nodes whose outputs are all folded.
void replace_folded(onnx::ModelProto* model, const std::map<std::string, Constant>& folded) {
  onnx::GraphProto* g = model->mutable_graph();
  std::set<std::string> initializers;
  for (const auto& init : g->initializer()) initializers.insert(init.name());
  for (const auto& [name, c] : folded) {
    if (!initializers.count(name)) *g->add_initializer() = encode_tensor(name, c);
  }
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (const auto& n : g->node()) {
    const bool all_folded = n.output_size() > 0 && std::all_of(n.output().begin(), n.output().end(), [&](const std::string& o) {
      return folded.count(o) != 0;
    });
    if (!all_folded) *kept.Add() = n;
  }
  g->mutable_node()->Swap(&kept);
}

// ONNX 1.12's shape inference divides by some attributes without checking them (a Conv
// with strides [2, 0] stopped the process with SIGFPE inside libonnx; found by fuzzing).
// Inference now runs in a child process (shape_inference.h), where that is a crash
// reported as an error; these attributes are still checked first, in every node of the
// graph and of its subgraphs, for an error that names the node and the attribute.
Status check_divisors(const onnx::GraphProto& graph, const std::string& path) {
  static const std::set<std::string> kPositive = {"strides", "dilations", "kernel_shape", "group", "blocksize"};
  for (int n = 0; n < graph.node_size(); ++n) {
    const onnx::NodeProto& node = graph.node(n);
    for (const onnx::AttributeProto& a : node.attribute()) {
      const bool listed = kPositive.count(a.name()) != 0;
      const bool bad = listed && ((a.type() == onnx::AttributeProto::INT && a.i() <= 0) ||
                                  std::any_of(a.ints().begin(), a.ints().end(), [](int64_t v) { return v <= 0; }));
      if (bad) {
        return fail(path, format("node %d '%s' (%s): attribute %s must be positive", n, node.name().c_str(),
                                 node.op_type().c_str(), a.name().c_str()));
      }
      if (a.has_g()) EDGECLR_RETURN_IF_ERROR(check_divisors(a.g(), path));
      for (const onnx::GraphProto& sub : a.graphs()) EDGECLR_RETURN_IF_ERROR(check_divisors(sub, path));
    }
  }
  return Status::Ok();
}

// Einsum as exporters write batched matrix products ('bhid,bhjd->bhij', 'bhij,bhjd->bhid':
// attention in MaxViT and others): a shared batch prefix, then [i, k] x [k, j] or
// [j, k]. Rewritten before shape inference into MatMul (with a Transpose of the second
// operand for [j, k]), whose shapes ONNX infers (ONNX 1.12 infers only an Einsum's rank).
// Other equations stay Einsum, which lowering names as unsupported.
void rewrite_einsum_as_matmul(onnx::GraphProto* g) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (const onnx::NodeProto& n : g->node()) {
    std::string eq;
    for (const auto& a : n.attribute()) {
      if (a.name() == "equation") eq = a.s();
    }
    eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
    const size_t comma = eq.find(','), arrow = eq.find("->");
    bool ok = n.op_type() == "Einsum" && n.input_size() == 2 && comma != std::string::npos && arrow != std::string::npos &&
              eq.find('.') == std::string::npos && comma < arrow;
    std::string a, b, c;
    if (ok) {
      a = eq.substr(0, comma);
      b = eq.substr(comma + 1, arrow - comma - 1);
      c = eq.substr(arrow + 2);
      const size_t r = a.size();
      ok = r >= 3 && b.size() == r && c.size() == r && a.substr(0, r - 2) == b.substr(0, r - 2) &&
           a.substr(0, r - 2) == c.substr(0, r - 2) && c[r - 2] == a[r - 2] && a[r - 2] != a[r - 1];
      const bool plain = ok && b[r - 2] == a[r - 1] && c[r - 1] == b[r - 1];
      const bool transposed = ok && b[r - 1] == a[r - 1] && c[r - 1] == b[r - 2];
      ok = ok && (plain || transposed) && c[r - 1] != a[r - 1];
      if (ok && transposed) {
        onnx::NodeProto* t = nodes.Add();
        t->set_op_type("Transpose");
        t->set_name(n.name() + "/transpose_b");
        t->add_input(n.input(1));
        t->add_output(n.output(0) + "/b_transposed");
        onnx::AttributeProto* perm = t->add_attribute();
        perm->set_name("perm");
        perm->set_type(onnx::AttributeProto::INTS);
        for (size_t i = 0; i < r; ++i) perm->add_ints(int64_t(i == r - 2 ? r - 1 : i == r - 1 ? r - 2 : i));
        b = n.output(0) + "/b_transposed";
      } else if (ok) {
        b = n.input(1);
      }
    }
    if (!ok) {
      *nodes.Add() = n;
      continue;
    }
    onnx::NodeProto* m = nodes.Add();
    m->set_op_type("MatMul");
    m->set_name(n.name());
    m->add_input(n.input(0));
    m->add_input(b);
    m->add_output(n.output(0));
  }
  g->mutable_node()->Swap(&nodes);
}

}  // namespace

Result<Constant> read_tensor_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(StatusCode::kIoError, format("failed to read tensor '%s': cannot open", path.c_str()));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  onnx::TensorProto tensor;
  if (!tensor.ParseFromString(bytes.str())) {
    return error(StatusCode::kInvalidArgument, format("failed to read tensor '%s': not a TensorProto", path.c_str()));
  }
  auto c = decode_tensor(tensor);
  if (!c.ok()) return error(c.status().code(), format("failed to read tensor '%s': %s", path.c_str(), c.status().message().c_str()));
  return c;
}

int64_t max_opset() {
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  const auto it = ranges.find(onnx::ONNX_DOMAIN);
  const int64_t known = it == ranges.end() ? kMinOpset : it->second.second;
  return std::min<int64_t>(known, kMaxLoweredOpset);
}

Result<Graph> import_onnx(const std::string& path, const InputBinding& binding,
                          const std::map<std::string, Constant>* folded) {
  onnx::ModelProto model;
  EDGECLR_RETURN_IF_ERROR(read_model(path, &model));
  EDGECLR_RETURN_IF_ERROR(bind_input(&model, path, binding));
  if (folded) replace_folded(&model, *folded);
  Graph graph;
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") graph.opset = opset.version();
  }
  if (graph.opset < kMinOpset || graph.opset > max_opset()) {
    return fail(path, format("opset %lld, supported: %lld to %lld", static_cast<long long>(graph.opset),
                             static_cast<long long>(kMinOpset), static_cast<long long>(max_opset())));
  }
  EDGECLR_RETURN_IF_ERROR(check_divisors(model.graph(), path));
  rewrite_einsum_as_matmul(model.mutable_graph());
  EDGECLR_RETURN_IF_ERROR(infer_shapes_isolated(&model, path));
  const onnx::GraphProto& g = model.graph();
  for (const auto& kv : model.metadata_props()) graph.metadata[kv.key()] = kv.value();
  for (const auto& init : g.initializer()) {
    auto c = decode_tensor(init);
    if (!c.ok()) return fail(path, c.status().message());
    Value v;
    v.shape = c->dims;
    v.shape_known = true;
    v.constant = std::move(c).value();
    graph.values[init.name()] = std::move(v);
  }
  for (const auto& vi : g.value_info()) graph.values.emplace(vi.name(), value_from_type(vi.type()));
  for (const auto& out : g.output()) graph.values.emplace(out.name(), value_from_type(out.type()));
  for (const auto& in : g.input()) {
    if (graph.values.count(in.name()) && graph.values[in.name()].constant) continue;  // an initializer
    if (!graph.input.empty()) return fail(path, "the graph has more than one input; an encoder takes one image");
    graph.input = in.name();
    graph.values[in.name()] = value_from_type(in.type());
  }
  if (graph.input.empty() || g.output_size() == 0) return fail(path, "the graph needs one input and an output");
  graph.output = g.output(0).name();
  for (const auto& n : g.node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") {
      return fail(path, format("node '%s' (%s) is in domain '%s'; only the default ONNX domain is supported",
                               n.name().c_str(), n.op_type().c_str(), n.domain().c_str()));
    }
    Node node;
    node.op = n.op_type();
    node.name = n.name().empty() ? (n.output_size() ? n.output(0) : n.op_type()) : n.name();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    for (const auto& a : n.attribute()) {
      auto attr = decode_attribute(a);
      if (!attr.ok()) return fail(path, format("node '%s' (%s): %s", node.name.c_str(), node.op.c_str(), attr.status().message().c_str()));
      node.attributes[a.name()] = std::move(attr).value();
    }
    for (const std::string& out : node.outputs) graph.values.emplace(out, Value{});
    graph.nodes.push_back(std::move(node));
  }
  return graph;
}

}  // namespace edgeclr::convert
