// The converter's intermediate representation of an ONNX graph: just what edgeclr maps,
// with constants decoded and shapes from ONNX shape inference. Layout is ONNX's (NCHW);
// lowering turns it into edgeclr's NHWC.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace edgeclr::convert {

// A constant tensor: floats (any ONNX float type) or integers (any ONNX integer type, and
// bool as 0 and 1).
struct Constant {
  std::vector<int64_t> dims;
  bool is_float = true;
  bool is_bool = false;  // integers that are ONNX bool
  std::vector<float> floats;
  std::vector<int64_t> ints;

  int64_t count() const;
};

struct Value {
  std::vector<int64_t> shape;  // -1 for a dimension shape inference left unknown
  bool shape_known = false;
  std::optional<Constant> constant;
};

struct Attribute {
  enum class Kind { kInt, kFloat, kInts, kFloats, kString, kTensor, kOther } kind = Kind::kOther;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::string s;
  std::optional<Constant> tensor;
};

struct Node {
  std::string op;    // ONNX op_type
  std::string name;  // node name, or its first output when unnamed
  std::vector<std::string> inputs;   // "" for an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attributes;

  bool has(const std::string& attribute) const { return attributes.count(attribute) != 0; }
  int64_t int_attr(const std::string& key, int64_t fallback) const;
  float float_attr(const std::string& key, float fallback) const;
  std::vector<int64_t> ints_attr(const std::string& key) const;
  std::string string_attr(const std::string& key, const std::string& fallback) const;
};

struct Graph {
  std::vector<Node> nodes;  // topologically ordered, as ONNX requires
  std::map<std::string, Value> values;
  std::string input;   // the one graph input that is not an initializer
  std::string output;  // the first graph output
  int64_t opset = 0;   // of the default domain
  std::map<std::string, std::string> metadata;  // metadata_props

  // Removes the nodes at `indices` (into nodes), keeping the order of the rest.
  void erase_nodes(const std::set<size_t>& indices);

  // Nodes reading `value`, by index into nodes.
  std::vector<size_t> consumers(const std::string& value) const;
  const Constant* constant(const std::string& value) const;
};

}  // namespace edgeclr::convert
