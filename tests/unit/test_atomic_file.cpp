// write_file_atomically: content lands whole, no temp file is left, failures say why.
#include <doctest/doctest.h>

#include <dirent.h>
#include <fstream>
#include <iterator>

#include "core/atomic_file.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t entries(const std::string& dir) {
  size_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] == '.' ? 0 : 1;
  ::closedir(d);
  return n;
}

}  // namespace

TEST_CASE("a new file and a replaced file hold exactly what was written") {
  TempDir dir;
  const std::string path = dir.path() + "/out.bin";
  REQUIRE(write_file_atomically(path, "first", 5).ok());
  CHECK(read_all(path) == "first");
  REQUIRE(write_file_atomically(path, "second!", 7).ok());
  CHECK(read_all(path) == "second!");
  CHECK(entries(dir.path()) == 1);  // no temp file left behind
}

TEST_CASE("a write into a missing directory fails with the path and the reason") {
  const Status status = write_file_atomically("/nonexistent-dir/out.bin", "x", 1);
  REQUIRE_FALSE(status.ok());
  CHECK(status.code() == StatusCode::kIoError);
  CHECK(status.message().find("failed to write '/nonexistent-dir/out.bin'") == 0);
  CHECK(status.message().find("No such file") != std::string::npos);
}
