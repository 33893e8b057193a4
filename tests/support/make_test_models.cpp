// edgeclr-test-models DIR: writes the sample models to DIR/good/ and the corpus of
// broken ones to DIR/bad/, for the CLI tests and `make demo`.
#include <cstdio>
#include <string>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "support/bad_models.h"
#include "support/sample_models.h"

using namespace edgeclr;
using namespace edgeclr::testing;

namespace {

bool write(const std::string& path, const std::vector<uint8_t>& bytes) {
  const Status status = write_file_atomically(path, bytes.data(), bytes.size());
  if (!status.ok()) std::fprintf(stderr, "edgeclr-test-models: %s\n", status.message().c_str());
  return status.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: edgeclr-test-models DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  ::mkdir(dir.c_str(), 0755);
  ::mkdir((dir + "/good").c_str(), 0755);
  ::mkdir((dir + "/bad").c_str(), 0755);
  const auto fp32 = sample_fp32_model();
  bool ok = write(dir + "/good/sample-fp32.eclr", fp32) && write(dir + "/good/sample-int8.eclr", sample_int8_model());
  std::vector<BadModel> corpus = semantic_bad_models();
  for (auto& bad : truncated_models(fp32)) corpus.push_back(std::move(bad));
  for (auto& bad : byte_flipped_models(fp32, 40)) corpus.push_back(std::move(bad));
  corpus.push_back(BadModel{"empty", {}, ""});
  corpus.push_back(BadModel{"not_a_model", std::vector<uint8_t>(1000, 'x'), ""});
  for (const BadModel& bad : corpus) ok = ok && write(dir + "/bad/" + bad.name + ".eclr", bad.bytes);
  if (!ok) return 1;
  std::printf("wrote 2 models to %s/good and %zu broken ones to %s/bad\n", dir.c_str(), corpus.size(), dir.c_str());
  return 0;
}
