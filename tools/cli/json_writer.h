// A small streaming JSON writer for `--json` output: objects, arrays, strings
// (escaped), integers, doubles (finite, shortest round-trip) and booleans.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace edgeclr::cli {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(const std::string& name);
  JsonWriter& value(const std::string& s);
  JsonWriter& value(const char* s) { return value(std::string(s)); }
  JsonWriter& value(uint64_t v);
  JsonWriter& value(int64_t v);
  JsonWriter& value(uint32_t v) { return value(uint64_t{v}); }
  JsonWriter& value(int v) { return value(int64_t{v}); }
  JsonWriter& value(double v);  // non-finite becomes null
  JsonWriter& value(float v);   // shortest text that reads back as the same float
  JsonWriter& value(bool v);
  JsonWriter& null();

  const std::string& str() const { return out_; }

 private:
  void before_value();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace edgeclr::cli
