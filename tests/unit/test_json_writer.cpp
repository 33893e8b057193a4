#include <doctest/doctest.h>

#include <limits>

#include "cli/json_writer.h"

using edgeclr::cli::JsonWriter;

TEST_CASE("JsonWriter writes nested objects and arrays with commas in the right places") {
  JsonWriter j;
  j.begin_object().key("a").value(1).key("b").begin_array().value(true).value("x").end_array();
  j.key("c").begin_object().end_object().end_object();
  CHECK(j.str() == R"({"a":1,"b":[true,"x"],"c":{}})");
}

TEST_CASE("JsonWriter escapes strings and turns non-finite numbers into null") {
  JsonWriter j;
  j.begin_array().value(std::string("q\"b\\n\n\x01")).value(std::numeric_limits<double>::infinity()).value(0.5);
  j.end_array();
  CHECK(j.str() == R"(["q\"b\\n\n\u0001",null,0.5])");
}

TEST_CASE("JsonWriter prints floats in their shortest round-trip form") {
  JsonWriter j;
  j.begin_array().value(0.485f).value(1.0f / 3.0f).value(0.1f).end_array();
  CHECK(j.str() == "[0.485,0.33333334,0.1]");  // 1/3 as float needs 8 digits
}
