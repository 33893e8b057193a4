#include "support/npy_reader.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

namespace edgeclr::testing {

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy_reader hands out little-endian data as is; it needs a little-endian host"
#endif

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy refuses headers longer than this too (numpy.lib.format._MAX_HEADER_SIZE).
constexpr size_t kMaxHeaderSize = 10000;

struct DtypeInfo {
  const char* name;
  size_t item_size;
};
constexpr DtypeInfo kDtypes[] = {{"<f4", 4}, {"|u1", 1}, {"<i8", 8}};

size_t item_size_of(const std::string& dtype) {
  for (const DtypeInfo& d : kDtypes) {
    if (dtype == d.name) return d.item_size;
  }
  return 0;
}

// A cursor over the header, a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (16, 28, 28, 1), }
// Accepts what numpy writes (and a little more: either quote, spaces anywhere).
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : text_(text) {}

  void skip_spaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool at_end() {
    skip_spaces();
    return pos_ == text_.size();
  }
  bool accept(char c) {
    skip_spaces();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool accept_word(const char* word) {
    skip_spaces();
    const size_t n = std::strlen(word);
    if (text_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }
  bool string_literal(std::string* out) {
    skip_spaces();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return false;
    const char quote = text_[pos_];
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) return false;
    *out = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return true;
  }
  // A non-negative decimal integer that fits in size_t.
  bool unsigned_integer(size_t* out) {
    skip_spaces();
    size_t value = 0;
    const size_t start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const size_t digit = static_cast<size_t>(text_[pos_] - '0');
      if (value > (std::numeric_limits<size_t>::max() - digit) / 10) return false;
      value = value * 10 + digit;
      ++pos_;
    }
    *out = value;
    return pos_ > start;
  }
  // (), (n,), (n, m), (n, m,) ...
  bool shape_tuple(std::vector<size_t>* out) {
    if (!accept('(')) return false;
    out->clear();
    while (!accept(')')) {
      size_t dim = 0;
      if (!unsigned_integer(&dim)) return false;
      out->push_back(dim);
      if (!accept(',')) {
        if (!accept(')')) return false;
        // Python needs the comma for a one-element tuple: (3) is the integer 3.
        return out->size() != 1;
      }
    }
    return true;
  }
  size_t position() const { return pos_; }

 private:
  const std::string& text_;
  size_t pos_ = 0;
};

Status malformed(const std::string& name, const std::string& why) {
  return error(StatusCode::kInvalidArgument, "failed to read npy '" + name + "': " + why);
}

std::string shape_string(const std::vector<size_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

Status parse_header(const std::string& header, const std::string& name, NpyArray* array) {
  HeaderParser p(header);
  if (!p.accept('{')) return malformed(name, "header is not a dict: '" + header + "'");
  bool has_descr = false, has_order = false, has_shape = false, fortran_order = false;
  while (!p.accept('}')) {
    std::string key;
    if (!p.string_literal(&key) || !p.accept(':')) {
      return malformed(name, format("header has no key at character %zu: '%s'", p.position(), header.c_str()));
    }
    if (key == "descr") {
      if (!p.string_literal(&array->dtype)) return malformed(name, "'descr' is not a string: '" + header + "'");
      has_descr = true;
    } else if (key == "fortran_order") {
      if (p.accept_word("True")) {
        fortran_order = true;
      } else if (!p.accept_word("False")) {
        return malformed(name, "'fortran_order' is not True or False: '" + header + "'");
      }
      has_order = true;
    } else if (key == "shape") {
      if (!p.shape_tuple(&array->shape)) return malformed(name, "'shape' is not a tuple of sizes: '" + header + "'");
      has_shape = true;
    } else {
      return malformed(name, "header has unknown key '" + key + "'");
    }
    if (!p.accept(',')) {
      if (!p.accept('}')) return malformed(name, format("header expected ',' or '}' at character %zu: '%s'",
                                                         p.position(), header.c_str()));
      break;
    }
  }
  if (!p.at_end()) return malformed(name, format("header has text after the dict at character %zu", p.position()));
  if (!has_descr || !has_order || !has_shape) {
    return malformed(name, "header lacks " + std::string(!has_descr ? "'descr'" : !has_order ? "'fortran_order'"
                                                                                               : "'shape'"));
  }
  if (item_size_of(array->dtype) == 0) {
    return error(StatusCode::kUnsupported,
                 "failed to read npy '" + name + "': dtype '" + array->dtype + "' unsupported (use <f4, |u1, <i8)");
  }
  if (fortran_order) {
    return error(StatusCode::kUnsupported, "failed to read npy '" + name + "': Fortran order unsupported (shape " +
                                               shape_string(array->shape) + ")");
  }
  return Status::Ok();
}

}  // namespace

size_t NpyArray::count() const {
  size_t n = 1;
  for (size_t d : shape) n *= d;
  return n;
}

size_t NpyArray::item_size() const { return item_size_of(dtype); }

const float* NpyArray::f32() const {
  return dtype == "<f4" ? reinterpret_cast<const float*>(bytes.data()) : nullptr;
}

const uint8_t* NpyArray::u8() const { return dtype == "|u1" ? bytes.data() : nullptr; }

const int64_t* NpyArray::i64() const {
  return dtype == "<i8" ? reinterpret_cast<const int64_t*>(bytes.data()) : nullptr;
}

Result<NpyArray> parse_npy(const std::vector<uint8_t>& file, const std::string& name) {
  // magic (6), version (2), header length (2 bytes in 1.0, 4 in 2.0), header.
  if (file.size() < kMagicSize + 2 || std::memcmp(file.data(), kMagic, kMagicSize) != 0) {
    return malformed(name, format("no \\x93NUMPY magic (%zu bytes)", file.size()));
  }
  const unsigned major = file[6], minor = file[7];
  if (major != 1 && major != 2) {
    return error(StatusCode::kUnsupported,
                 format("failed to read npy '%s': format %u.%u unsupported (use 1.0 or 2.0)", name.c_str(), major, minor));
  }
  const size_t length_size = major == 1 ? 2 : 4;
  const size_t header_start = kMagicSize + 2 + length_size;
  if (file.size() < header_start) {
    return malformed(name, format("file ends in the header length (%zu bytes)", file.size()));
  }
  size_t header_size = 0;
  for (size_t i = 0; i < length_size; ++i) header_size |= static_cast<size_t>(file[kMagicSize + 2 + i]) << (8 * i);
  if (header_size > kMaxHeaderSize) {
    return malformed(name, format("header length %zu exceeds %zu", header_size, kMaxHeaderSize));
  }
  if (file.size() - header_start < header_size) {
    return malformed(name, format("header length %zu, only %zu bytes follow", header_size, file.size() - header_start));
  }
  const std::string header(reinterpret_cast<const char*>(file.data()) + header_start, header_size);
  if (header.empty() || header.back() != '\n') return malformed(name, "header does not end with a newline");

  NpyArray array;
  EDGECLR_RETURN_IF_ERROR(parse_header(header, name, &array));

  size_t needed = array.item_size();
  for (size_t d : array.shape) {
    if (d != 0 && needed > std::numeric_limits<size_t>::max() / d) {
      return malformed(name, "shape " + shape_string(array.shape) + " overflows size_t bytes");
    }
    needed *= d;
  }
  const size_t data_start = header_start + header_size;
  const size_t available = file.size() - data_start;
  if (available != needed) {
    return malformed(name, format("shape %s of %s needs %zu data bytes, file has %zu", shape_string(array.shape).c_str(),
                                  array.dtype.c_str(), needed, available));
  }
  array.bytes.assign(file.begin() + static_cast<std::ptrdiff_t>(data_start), file.end());
  return array;
}

Result<NpyArray> read_npy(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return error(StatusCode::kIoError, "failed to read npy '" + path + "': " + std::strerror(errno));
  }
  std::vector<uint8_t> file;
  uint8_t chunk[65536];
  size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) file.insert(file.end(), chunk, chunk + n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return error(StatusCode::kIoError, "failed to read npy '" + path + "': read error");
  return parse_npy(file, path);
}

}  // namespace edgeclr::testing
