#include "convert/graph.h"

#include <cstdint>

namespace edgeclr::convert {

int64_t Constant::count() const {
  int64_t n = 1;
  for (int64_t d : dims) {
    // Dimensions come from files (ONNX initializers): a product past int64 saturates, so
    // it compares unequal to any real value count instead of wrapping (fuzzing found it).
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return INT64_MAX;
  }
  return n;
}

int64_t Node::int_attr(const std::string& key, int64_t fallback) const {
  const auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.i;
}

float Node::float_attr(const std::string& key, float fallback) const {
  const auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.f;
}

std::vector<int64_t> Node::ints_attr(const std::string& key) const {
  const auto it = attributes.find(key);
  return it == attributes.end() ? std::vector<int64_t>{} : it->second.ints;
}

std::string Node::string_attr(const std::string& key, const std::string& fallback) const {
  const auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.s;
}

void Graph::erase_nodes(const std::set<size_t>& indices) {
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!indices.count(i)) kept.push_back(std::move(nodes[i]));
  }
  nodes = std::move(kept);
}

std::vector<size_t> Graph::consumers(const std::string& value) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& in : nodes[i].inputs) {
      if (in == value) {
        out.push_back(i);
        break;
      }
    }
  }
  if (value == output) out.push_back(nodes.size());  // the graph output counts as a reader
  return out;
}

const Constant* Graph::constant(const std::string& value) const {
  const auto it = values.find(value);
  return it == values.end() || !it->second.constant ? nullptr : &*it->second.constant;
}

}  // namespace edgeclr::convert
