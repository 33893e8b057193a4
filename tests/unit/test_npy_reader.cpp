// read_npy: reads back what write_npy and numpy write; refuses malformed files with a reason.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cli/npy_writer.h"
#include "support/npy_reader.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

// A .npy file as numpy lays it out: magic, version, little-endian header length (2 bytes
// for 1.x, 4 for 2.x), the dict padded with spaces to a 64-byte boundary plus '\n', data.
std::vector<uint8_t> npy_file(const std::string& dict, const std::vector<uint8_t>& data, uint8_t major = 1) {
  const size_t length_size = major == 1 ? 2 : 4;
  std::string header = dict;
  header.append((64 - (6 + 2 + length_size + dict.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> file = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  for (size_t i = 0; i < length_size; ++i) file.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  file.insert(file.end(), header.begin(), header.end());
  file.insert(file.end(), data.begin(), data.end());
  return file;
}

std::string f4_dict(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

// Expects parse_npy to refuse `file` with `code` and a message containing `reason`.
void check_refused(const std::vector<uint8_t>& file, StatusCode code, const std::string& reason) {
  const Result<NpyArray> r = parse_npy(file, "bad.npy");
  REQUIRE_FALSE(r.ok());
  INFO(r.status().message());
  CHECK(r.status().code() == code);
  CHECK(r.status().message().find("failed to read npy 'bad.npy': ") == 0);
  CHECK(r.status().message().find(reason) != std::string::npos);
}

}  // namespace

TEST_CASE("read_npy reads back a float32 matrix written by write_npy") {
  TempDir dir;
  const std::string path = dir.path() + "/m.npy";
  const std::vector<float> values = {1.5f, -2.0f, 0.0f, 3.25e-7f, -1e30f, 42.0f};
  REQUIRE(cli::write_npy(path, values, 2, 3).ok());

  const Result<NpyArray> r = read_npy(path);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->shape == std::vector<size_t>{2, 3});
  CHECK(r->dtype == "<f4");
  CHECK(r->count() == 6);
  REQUIRE(r->bytes.size() == values.size() * sizeof(float));
  REQUIRE(r->f32() != nullptr);
  CHECK(std::memcmp(r->f32(), values.data(), r->bytes.size()) == 0);  // bit-exact
  CHECK(r->u8() == nullptr);
  CHECK(r->i64() == nullptr);
}

TEST_CASE("read_npy reads numpy's layouts: uint8, int64 in format 2.0, 0-d, empty") {
  // Headers as numpy 1.24 writes them (np.lib.format.write_array).
  SUBCASE("uint8 vector, format 1.0") {
    const Result<NpyArray> r =
        parse_npy(npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", {7, 0, 255}), "u8.npy");
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->shape == std::vector<size_t>{3});
    REQUIRE(r->u8() != nullptr);
    CHECK(r->u8()[0] == 7);
    CHECK(r->u8()[2] == 255);
    CHECK(r->f32() == nullptr);
  }
  SUBCASE("int64 vector, format 2.0") {
    const int64_t values[2] = {-2, int64_t{1} << 40};
    std::vector<uint8_t> data(sizeof values);
    std::memcpy(data.data(), values, sizeof values);
    const Result<NpyArray> r =
        parse_npy(npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", data, 2), "i8.npy");
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->shape == std::vector<size_t>{2});
    REQUIRE(r->i64() != nullptr);
    CHECK(r->i64()[0] == -2);
    CHECK(r->i64()[1] == int64_t{1} << 40);
  }
  SUBCASE("0-d float32 holds one element") {
    const float one_and_a_half = 1.5f;
    std::vector<uint8_t> data(4);
    std::memcpy(data.data(), &one_and_a_half, 4);
    const Result<NpyArray> r = parse_npy(npy_file(f4_dict("()"), data), "scalar.npy");
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->shape.empty());
    CHECK(r->count() == 1);
    CHECK(r->f32()[0] == 1.5f);
  }
  SUBCASE("an empty (0, 4) array has no data") {
    const Result<NpyArray> r = parse_npy(npy_file(f4_dict("(0, 4)"), {}), "empty.npy");
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->shape == std::vector<size_t>{0, 4});
    CHECK(r->bytes.empty());
  }
}

TEST_CASE("read_npy refuses malformed and unsupported files with the reason") {
  const std::vector<uint8_t> six_floats(24, 0);
  std::vector<uint8_t> good = npy_file(f4_dict("(2, 3)"), six_floats);
  REQUIRE(parse_npy(good, "good.npy").ok());  // each case below breaks one thing of this

  SUBCASE("bad magic") {
    std::vector<uint8_t> file = good;
    file[1] = 'n';
    check_refused(file, StatusCode::kInvalidArgument, "no \\x93NUMPY magic");
  }
  SUBCASE("too short for the magic") { check_refused({0x93, 'N', 'U'}, StatusCode::kInvalidArgument, "magic"); }
  SUBCASE("file ends inside the header length") {
    check_refused(std::vector<uint8_t>(good.begin(), good.begin() + 9), StatusCode::kInvalidArgument,
                  "ends in the header length");
  }
  SUBCASE("header length beyond the end of the file") {
    check_refused(std::vector<uint8_t>(good.begin(), good.begin() + 40), StatusCode::kInvalidArgument,
                  "header length 118, only 30 bytes follow");
  }
  SUBCASE("huge header length") {
    std::vector<uint8_t> file = npy_file(f4_dict("(2, 3)"), six_floats, 2);
    file[8] = 0xff, file[9] = 0xff, file[10] = 0xff, file[11] = 0x7f;  // 4-byte length in 2.0
    check_refused(file, StatusCode::kInvalidArgument, "exceeds");
  }
  SUBCASE("header without the final newline") {
    std::vector<uint8_t> file = good;
    file[10 + 117] = ' ';
    check_refused(file, StatusCode::kInvalidArgument, "newline");
  }
  SUBCASE("format 3.0") {
    std::vector<uint8_t> file = npy_file(f4_dict("(2, 3)"), six_floats, 2);
    file[6] = 3;
    check_refused(file, StatusCode::kUnsupported, "format 3.0 unsupported");
  }
  SUBCASE("not a dict") {
    check_refused(npy_file("[1, 2]", six_floats), StatusCode::kInvalidArgument, "not a dict");
  }
  SUBCASE("missing shape") {
    check_refused(npy_file("{'descr': '<f4', 'fortran_order': False, }", six_floats), StatusCode::kInvalidArgument,
                  "lacks 'shape'");
  }
  SUBCASE("unknown key") {
    check_refused(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", six_floats),
                  StatusCode::kInvalidArgument, "unknown key 'x'");
  }
  SUBCASE("unterminated dict") {
    check_refused(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", six_floats),
                  StatusCode::kInvalidArgument, "header");
  }
  SUBCASE("negative dimension") {
    check_refused(npy_file(f4_dict("(-2, 3)"), six_floats), StatusCode::kInvalidArgument, "not a tuple of sizes");
  }
  SUBCASE("(6) is an integer, not a tuple") {
    check_refused(npy_file(f4_dict("(6)"), six_floats), StatusCode::kInvalidArgument, "not a tuple of sizes");
  }
  SUBCASE("dimension too large for size_t") {
    check_refused(npy_file(f4_dict("(99999999999999999999999,)"), six_floats), StatusCode::kInvalidArgument,
                  "not a tuple of sizes");
  }
  SUBCASE("shape whose byte count overflows") {
    // Each dimension fits in size_t (of this machine: 32-bit on armhf), their product does not.
    const std::string dim = std::to_string(std::numeric_limits<size_t>::max() / 8 + 1);
    check_refused(npy_file(f4_dict("(" + dim + ", 8)"), six_floats), StatusCode::kInvalidArgument, "overflows");
  }
  SUBCASE("one data byte missing") {
    std::vector<uint8_t> file = good;
    file.pop_back();
    check_refused(file, StatusCode::kInvalidArgument, "shape (2, 3) of <f4 needs 24 data bytes, file has 23");
  }
  SUBCASE("one data byte too many") {
    std::vector<uint8_t> file = good;
    file.push_back(0);
    check_refused(file, StatusCode::kInvalidArgument, "needs 24 data bytes, file has 25");
  }
  SUBCASE("big-endian float") {
    check_refused(npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", six_floats),
                  StatusCode::kUnsupported, "dtype '>f4' unsupported");
  }
  SUBCASE("Fortran order") {
    check_refused(npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six_floats),
                  StatusCode::kUnsupported, "Fortran order unsupported (shape (2, 3))");
  }
}

TEST_CASE("read_npy says why a file cannot be read") {
  TempDir dir;
  const Result<NpyArray> missing = read_npy(dir.path() + "/absent.npy");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kIoError);
  CHECK(missing.status().message().find("absent.npy': No such file or directory") != std::string::npos);

  const std::string path = dir.write("truncated.npy", npy_file(f4_dict("(2, 3)"), std::vector<uint8_t>(20, 0)));
  const Result<NpyArray> truncated = read_npy(path);
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.status().code() == StatusCode::kInvalidArgument);
  CHECK(truncated.status().message().find("needs 24 data bytes, file has 20") != std::string::npos);
}
