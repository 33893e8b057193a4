#include "adapt/pairs_csv.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

namespace edgeclr {
namespace {

Status csv_error(const std::string& csv_path, size_t line, const std::string& why,
                 StatusCode code = StatusCode::kInvalidArgument) {
  const std::string where = line ? format("line %zu: ", line) : "";
  return error(code, "failed to read pairs '" + csv_path + "': " + where + why);
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// [begin, end) without the blanks at either end.
void trim(const char** begin, const char** end) {
  while (*begin < *end && is_blank(**begin)) ++*begin;
  while (*end > *begin && is_blank((*end)[-1])) --*end;
}


// One non-blank, non-comment line [begin, end) into `out`, given `paths` read so far in
// the file; the error's text on failure.
bool parse_line(const char* begin, const char* end, size_t paths, PairsCsvLine* out, std::string* why) {
  size_t fields = 1;
  for (const char* p = begin; p < end; ++p) fields += *p == ',';
  if (fields < 2) {
    *why = "expected anchor,positive[,negative...], found 1 field";
    return false;
  }
  if (fields - 2 > kMaxPairsCsvNegatives) {
    *why = format("%zu negatives, the limit is %zu", fields - 2, kMaxPairsCsvNegatives);
    return false;
  }
  if (paths + fields > kMaxPairsCsvPaths) {
    *why = format("more than %zu paths in the file", kMaxPairsCsvPaths);
    return false;
  }
  out->paths.reserve(fields);
  for (const char* field = begin;;) {
    const char* stop = static_cast<const char*>(std::memchr(field, ',', static_cast<size_t>(end - field)));
    const bool last_field = stop == nullptr;
    if (last_field) stop = end;
    const char* first = field;
    const char* last = stop;
    trim(&first, &last);
    const size_t length = static_cast<size_t>(last - first);
    if (length == 0) *why = "an empty field";
    else if (*first == '"') *why = "quoted fields are not supported";
    else if (std::memchr(first, '\0', length) != nullptr) *why = "a NUL byte in a field";
    else if (length > kMaxPairsCsvFieldBytes) *why = format("a field of %zu bytes, the limit is %zu", length, kMaxPairsCsvFieldBytes);
    if (!why->empty()) return false;
    out->paths.emplace_back(first, length);
    if (last_field) break;
    field = stop + 1;  // after a comma: at most `end`
  }
  if (out->paths[0] == out->paths[1]) {
    *why = "the anchor is its own positive";
    return false;
  }
  return true;
}

}  // namespace

Result<std::vector<PairsCsvLine>> parse_pairs_csv(const char* text, size_t size, const std::string& csv_path) {
  if (size > kMaxPairsCsvBytes) return csv_error(csv_path, 0, format("%zu bytes, the limit is %zu", size, kMaxPairsCsvBytes));
  std::vector<PairsCsvLine> lines;
  const char* const end = text + size;
  size_t number = 0, paths = 0;
  for (const char* begin = text; begin < end;) {
    const char* newline = static_cast<const char*>(std::memchr(begin, '\n', static_cast<size_t>(end - begin)));
    const char* stop = newline != nullptr ? newline : end;
    ++number;
    const char* first = begin;
    const char* last = stop;
    trim(&first, &last);
    begin = newline != nullptr ? newline + 1 : end;  // never past `end`
    if (first == last || *first == '#') continue;
    if (lines.size() == kMaxPairsCsvPairs) {
      return csv_error(csv_path, number, format("more than %zu pairs", kMaxPairsCsvPairs));
    }
    PairsCsvLine line;
    line.line = number;
    std::string why;
    if (!parse_line(first, last, paths, &line, &why)) return csv_error(csv_path, number, why);
    paths += line.paths.size();
    lines.push_back(std::move(line));
  }
  if (lines.empty()) return csv_error(csv_path, 0, "no pairs");
  return lines;
}

std::string resolve_pairs_csv_path(const std::string& csv_path, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  const size_t slash = csv_path.find_last_of('/');
  return slash == std::string::npos ? path : csv_path.substr(0, slash + 1) + path;
}

Result<std::vector<PairsCsvLine>> read_pairs_csv_file(const std::string& csv_path) {
  std::FILE* file = std::fopen(csv_path.c_str(), "rb");
  if (file == nullptr) return csv_error(csv_path, 0, "cannot open it", StatusCode::kIoError);
  struct stat st;
  std::string why;
  if (::fstat(fileno(file), &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "cannot read it (a folder?)";
  } else if (static_cast<uint64_t>(st.st_size) > kMaxPairsCsvBytes) {
    why = format("%lld bytes, the limit is %zu", static_cast<long long>(st.st_size), kMaxPairsCsvBytes);
  }
  std::string text;
  if (why.empty()) {
    text.resize(static_cast<size_t>(st.st_size));
    // A file that grows after fstat is read up to its size then; one that shrinks, short.
    text.resize(std::fread(&text[0], 1, text.size(), file));
    if (std::ferror(file)) why = "read error";
  }
  std::fclose(file);
  if (!why.empty()) return csv_error(csv_path, 0, why, why == "read error" ? StatusCode::kIoError : StatusCode::kInvalidArgument);
  return parse_pairs_csv(text.data(), text.size(), csv_path);
}

}  // namespace edgeclr
