// Fuzz target: the pairs CSV parser (what `edgeclr adapt --pairs` and
// edgeclr_adapter_add_pairs_csv read before any image), from memory and from a file.
#include <cstdint>

#include "adapt/pairs_csv.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto lines = edgeclr::parse_pairs_csv(reinterpret_cast<const char*>(data), size, "dir/fuzz.csv");
  if (lines.ok()) {
    for (const edgeclr::PairsCsvLine& line : *lines) {
      // The parser's contract, which the caller indexes by.
      if (line.paths.size() < 2 || line.paths.size() > 2 + edgeclr::kMaxPairsCsvNegatives || line.line == 0) {
        __builtin_trap();
      }
      for (const std::string& path : line.paths) {
        if (path.empty() || path.size() > edgeclr::kMaxPairsCsvFieldBytes) __builtin_trap();
        if (edgeclr::resolve_pairs_csv_path("dir/fuzz.csv", path).size() < path.size()) __builtin_trap();
      }
    }
  }
  const edgeclr::fuzz::MemoryFile file(data, size);
  auto from_file = edgeclr::read_pairs_csv_file(file.path());
  (void)from_file;
  return 0;
}
