// check_output_path / check_output_folder: where a result will be written is checked
// before the work, with messages that name the path and say what is wrong.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstdint>
#include <string>

#include "core/output_path.h"
#include "support/temp_dir.h"

using namespace edgeclr;
using namespace edgeclr::testing;

TEST_CASE("output path: a writable folder passes; a missing folder, a file for a folder and a folder for a file do not") {
  const TempDir dir;
  CHECK(check_output_path(dir.path() + "/new.eclh").ok());
  CHECK(check_output_path(dir.path() + "/new.eclh", 1000).ok());
  CHECK(check_output_folder(dir.path() + "/cache").ok());  // made later, under a writable parent
  CHECK(check_output_folder(dir.path()).ok());

  const Status missing = check_output_path(dir.path() + "/no/such/h.eclh");
  CHECK(missing.code() == StatusCode::kIoError);
  CHECK(missing.message() ==
        "cannot write '" + dir.path() + "/no/such/h.eclh': folder '" + dir.path() + "/no/such' does not exist");

  const std::string file = dir.write("file", {1, 2, 3});
  CHECK(check_output_path(file + "/x.npy").message() == "cannot write '" + file + "/x.npy': '" + file + "' is not a folder");
  CHECK(check_output_path(dir.path()).message() == "cannot write '" + dir.path() + "': it is a folder");
  CHECK(check_output_folder(file).message() == "cannot write '" + file + "': it is not a folder");
  CHECK(check_output_folder(file + "/cache/").message().find("is not a folder") != std::string::npos);
  CHECK(check_output_path("").code() == StatusCode::kIoError);
  CHECK(check_output_path("relative-name.eclh").ok());  // the current folder
}

TEST_CASE("output path: more bytes than the file system has free is refused, with both figures") {
  const TempDir dir;
  struct statvfs fs;
  REQUIRE(::statvfs(dir.path().c_str(), &fs) == 0);
  const uint64_t available = uint64_t{fs.f_bavail} * fs.f_frsize;
  CHECK(check_output_path(dir.path() + "/ok.bin", available / 2).ok());
  const Status full = check_output_path(dir.path() + "/big.bin", available + (uint64_t{1} << 40));
  CHECK(full.code() == StatusCode::kIoError);
  CHECK(full.message().find("cannot write '" + dir.path() + "/big.bin': needs ") == 0);
  CHECK(full.message().find("the file system of '" + dir.path() + "' has ") != std::string::npos);
  CHECK_FALSE(check_output_folder(dir.path() + "/cache", available + (uint64_t{1} << 40)).ok());
}
