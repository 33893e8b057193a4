// The pairs CSV of an adaptation, parsed without touching any image: one line per
// anchor, `anchor,positive[,negative...]`, image paths relative to the CSV's folder (or
// absolute). Blank lines and lines starting with '#' are skipped; fields are trimmed of
// spaces, tabs and CR; quoting is not supported. Untrusted input: every size is bounded
// (below) before anything is allocated for it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeclr {

inline constexpr size_t kMaxPairsCsvBytes = size_t{16} << 20;  // the whole file
inline constexpr size_t kMaxPairsCsvPairs = 200'000;           // lines that hold a pair
inline constexpr size_t kMaxPairsCsvNegatives = 1000;          // negatives on one line
inline constexpr size_t kMaxPairsCsvFieldBytes = 4096;         // one path (PATH_MAX)
// Paths in the whole file: with the byte bound alone, 8 million one-letter fields
// would cost a quarter of a GB of string headers.
inline constexpr size_t kMaxPairsCsvPaths = 1'000'000;

struct PairsCsvLine {
  size_t line = 0;                 // 1-based line number in the file, for errors
  std::vector<std::string> paths;  // anchor, positive, then the negatives, as written
};

// Parses text[0, size). `csv_path` names the file in errors. Errors (kInvalidArgument)
// read
//   failed to read pairs 'p.csv': line 3: an empty field
Result<std::vector<PairsCsvLine>> parse_pairs_csv(const char* text, size_t size, const std::string& csv_path);

// Where a path of the CSV at `csv_path` points: itself when absolute, else relative to
// the CSV's folder. (Resolved one at a time, not stored resolved: a long folder name
// times a million paths would not fit in memory.)
std::string resolve_pairs_csv_path(const std::string& csv_path, const std::string& path);

// Reads and parses the file at `csv_path` (kIoError when it cannot be read).
Result<std::vector<PairsCsvLine>> read_pairs_csv_file(const std::string& csv_path);

}  // namespace edgeclr
