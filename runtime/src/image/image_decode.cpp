// Decoding image files: bounded read, format sniffing, JPEG to libjpeg-turbo (scaled,
// jpeg_decode.cpp), the other formats to stb_image after header checks, gray/RGB
// conversion and EXIF orientation. The one place stb_image is compiled.
#include "image/image_decode.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include "image/exif_orientation.h"
#include "image/jpeg_decode.h"

// stb_image, static to this file (no symbol clashes with an app's own copy), only the
// formats edgeclr gives it (JPEG goes to libjpeg-turbo), memory input only.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"  // static: the parts we don't call
#include "stb_image.h"
#pragma GCC diagnostic pop

namespace edgeclr {
namespace {

struct StbFree {
  void operator()(uint8_t* p) const { stbi_image_free(p); }
};
using StbPixels = std::unique_ptr<uint8_t, StbFree>;

enum class FileKind { kUnknown, kJpeg, kPng, kBmp, kPgm, kPpm };

const char* kind_name(FileKind kind) {
  switch (kind) {
    case FileKind::kJpeg: return "JPEG";
    case FileKind::kPng: return "PNG";
    case FileKind::kBmp: return "BMP";
    case FileKind::kPgm: return "PGM";
    case FileKind::kPpm: return "PPM";
    case FileKind::kUnknown: break;
  }
  return "image";
}

// From the first bytes, as stb_image tells the formats apart.
FileKind sniff_kind(const uint8_t* data, size_t size) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return FileKind::kJpeg;
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return FileKind::kPng;
  if (size >= 2 && data[0] == 'B' && data[1] == 'M') return FileKind::kBmp;
  if (size >= 2 && data[0] == 'P' && data[1] == '5') return FileKind::kPgm;
  if (size >= 2 && data[0] == 'P' && data[1] == '6') return FileKind::kPpm;
  return FileKind::kUnknown;
}

std::string first_bytes_hex(const uint8_t* data, size_t size) {
  std::string hex;
  for (size_t i = 0; i < size && i < 4; ++i) hex += format(i ? " %02x" : "%02x", data[i]);
  return hex;
}

// A binary PGM/PPM header as stb_image reads it. stb_image 2.27 checks neither its numbers
// for int overflow nor that the pixel data is all there (it would hand out uninitialised
// bytes), so edgeclr does both.
struct PnmHeader {
  bool numbers_fit = true;  // width, height and maxval have at most 9 digits each
  uint64_t width = 0, height = 0, max_value = 0;
  uint64_t data_offset = 0;  // one whitespace byte after maxval ends the header
};

PnmHeader parse_pnm_header(const uint8_t* data, size_t size) {
  constexpr int kMaxDigits = 9;
  PnmHeader header;
  uint64_t* numbers[3] = {&header.width, &header.height, &header.max_value};
  size_t pos = 2;  // after "P5" / "P6"
  for (uint64_t* number : numbers) {
    while (pos < size && (std::strchr(" \t\n\v\f\r", data[pos]) != nullptr || data[pos] == '#')) {
      if (data[pos] == '#') {
        while (pos < size && data[pos] != '\n' && data[pos] != '\r') ++pos;
      } else {
        ++pos;
      }
    }
    for (int digits = 0; pos < size && data[pos] >= '0' && data[pos] <= '9'; ++pos) {
      if (++digits > kMaxDigits) {
        header.numbers_fit = false;
        return header;
      }
      *number = *number * 10 + (data[pos] - '0');
    }
  }
  header.data_offset = pos + 1;
  return header;
}

// stb_image's reason, printable (one reason is built from a PNG chunk's raw type bytes).
std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  if (reason == nullptr || reason[0] == '\0') return "no reason given";
  std::string text(reason);
  for (char& c : text) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return text;
}

// stb_image is called per format, through its internal per-format entry points (stb_image
// 2.27, Debian's libstb-dev): its public calls try every format in turn, and the
// signature tests of the others would leave their failure reasons ("bad png sig") behind.
void start_stb(stbi__context* context, const uint8_t* data, size_t size) {
  static_assert(kMaxImageFileBytes <= INT_MAX, "stb_image takes an int size");
  stbi__g_failure_reason = nullptr;  // some failures set no reason; don't show a stale one
  stbi__start_mem(context, data, static_cast<int>(size));
}

int stb_header_info(FileKind kind, const uint8_t* data, size_t size, int* width, int* height, int* components) {
  stbi__context context;
  start_stb(&context, data, size);
  switch (kind) {
    case FileKind::kPng: return stbi__png_info(&context, width, height, components);
    case FileKind::kBmp: return stbi__bmp_info(&context, width, height, components);
    case FileKind::kPgm:
    case FileKind::kPpm: return stbi__pnm_info(&context, width, height, components);
    case FileKind::kJpeg:  // decode_jpeg's
    case FileKind::kUnknown: break;
  }
  return 0;
}

// height x width x channels uint8 (16-bit samples reduced to 8, as stbi_load does), or null.
uint8_t* stb_decode(FileKind kind, const uint8_t* data, size_t size, int channels, int* width, int* height) {
  stbi__context context;
  start_stb(&context, data, size);
  stbi__result_info info;
  std::memset(&info, 0, sizeof info);
  info.bits_per_channel = 8;
  info.channel_order = STBI_ORDER_RGB;
  int stored_channels = 0;
  void* pixels = nullptr;
  switch (kind) {
    case FileKind::kPng: pixels = stbi__png_load(&context, width, height, &stored_channels, channels, &info); break;
    case FileKind::kBmp: pixels = stbi__bmp_load(&context, width, height, &stored_channels, channels, &info); break;
    case FileKind::kPgm:
    case FileKind::kPpm: pixels = stbi__pnm_load(&context, width, height, &stored_channels, channels, &info); break;
    case FileKind::kJpeg:
    case FileKind::kUnknown: break;
  }
  if (pixels != nullptr && info.bits_per_channel == 16) {
    pixels = stbi__convert_16_to_8(static_cast<stbi__uint16*>(pixels), *width, *height, channels);
  }
  return static_cast<uint8_t*>(pixels);
}

Status decode_failure(const std::string& name, StatusCode code, const std::string& why) {
  return error(code, format("failed to decode image '%s': %s", name.c_str(), why.c_str()));
}

uint32_t read_le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The pixel bytes a BMP that stb_image reads as rows needs after its data offset (rows
// padded to 4 bytes), and the bytes the file has there; both 0 for RLE files (which
// stb_image refuses) and unusual bit depths. stb_image 2.27 fills a BMP that ends early with
// zeros, so a 58-byte file could claim 47 megapixels and cost a full decode (a slow unit
// of fuzzing); like PGM/PPM, the data must be there.
void bmp_pixel_bytes(const uint8_t* data, size_t size, uint64_t width, uint64_t height, uint64_t* needed,
                     uint64_t* present) {
  *needed = *present = 0;
  if (size < 30) return;
  const uint32_t offset = read_le(data + 10, 4), info_size = read_le(data + 14, 4);
  const bool core = info_size == 12;  // OS/2 BITMAPCOREHEADER: 16-bit fields, no compression
  if (!core && size < 34) return;
  const uint32_t bits = read_le(data + (core ? 24 : 28), 2);
  const uint32_t compression = core ? 0 : read_le(data + 30, 4);
  // stb_image 2.27 refuses RLE (1, 2) and reads every other compression value as
  // uncompressed rows, so those must hold their pixels too.
  if (compression == 1 || compression == 2 || bits == 0 || bits > 32) return;
  const uint64_t row_bytes = (width * bits + 31) / 32 * 4;
  *needed = row_bytes * height;
  *present = offset < size ? size - offset : 0;
}

struct HeaderInfo {
  int width = 0, height = 0;
  int components = 0;  // channels the file stores, 1..4, alpha included
};

// The checks that need no decoding: format, header, dimensions, PGM/PPM data length.
Status check_header(const uint8_t* data, size_t size, const std::string& name, FileKind kind, HeaderInfo* header) {
  const auto invalid = [&](const std::string& why) { return decode_failure(name, StatusCode::kInvalidArgument, why); };
  if (kind == FileKind::kUnknown) {
    return invalid(format("not a JPEG, PNG, BMP or binary PGM/PPM file (starts with %s)",
                          first_bytes_hex(data, size).c_str()));
  }
  const bool pnm = kind == FileKind::kPgm || kind == FileKind::kPpm;
  const PnmHeader pnm_header = pnm ? parse_pnm_header(data, size) : PnmHeader{};
  if (!pnm_header.numbers_fit) return invalid(format("corrupt %s header (a number over 9 digits)", kind_name(kind)));
  const auto check_size = [&](uint64_t width, uint64_t height) {
    if (width == 0 || height == 0) {
      return invalid(format("%llux%llu pixels, expected at least 1x1", static_cast<unsigned long long>(width),
                            static_cast<unsigned long long>(height)));
    }
    if (width * height > kMaxImagePixels) {
      return invalid(format("%llux%llu pixels, the limit is %llu", static_cast<unsigned long long>(width),
                            static_cast<unsigned long long>(height), static_cast<unsigned long long>(kMaxImagePixels)));
    }
    return Status::Ok();
  };
  // Our own reading of a PNM header first: stb_image 2.30 (Debian 13) refuses a zero side
  // itself, with a vaguer reason.
  if (pnm) EDGECLR_RETURN_IF_ERROR(check_size(pnm_header.width, pnm_header.height));
  int& width = header->width;
  int& height = header->height;
  if (!stb_header_info(kind, data, size, &width, &height, &header->components)) {
    return invalid(format("corrupt or unsupported %s (stb_image: %s)", kind_name(kind), stb_reason().c_str()));
  }
  if (width <= 0 || height <= 0) return invalid(format("%dx%d pixels, expected at least 1x1", width, height));
  EDGECLR_RETURN_IF_ERROR(check_size(uint64_t(width), uint64_t(height)));
  uint64_t needed = 0, present = 0;
  if (pnm) {
    needed = uint64_t(width) * height * header->components * (pnm_header.max_value > 255 ? 2 : 1);
    present = pnm_header.data_offset < size ? size - pnm_header.data_offset : 0;
  } else if (kind == FileKind::kBmp) {
    bmp_pixel_bytes(data, size, uint64_t(width), uint64_t(height), &needed, &present);
  }
  if (present < needed) {
    return invalid(format("truncated %s (%llu bytes of pixels, expected %llu)", kind_name(kind),
                          static_cast<unsigned long long>(present), static_cast<unsigned long long>(needed)));
  }
  return Status::Ok();
}

void rgb_to_gray_in_place(uint8_t* pixels, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    pixels[i] = luma_bt601(pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]);
  }
}

// How much of a file decode_image_file reads before it knows the format: a JPEG's SOI,
// APP0 and APP1 (EXIF, at most 64 KB) segments.
constexpr size_t kJpegHeadBytes = size_t{128} << 10;

// A regular file of 1 to kMaxImageFileBytes bytes, opened. Errors: "<why>" only.
Status open_bounded_file(const std::string& path, std::FILE** file, uint64_t* size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error(StatusCode::kIoError, format("cannot open: %s", std::strerror(errno)));
  struct stat st;
  const int stat_errno = ::fstat(fd, &st) != 0 ? errno : 0;
  const auto refuse = [fd](StatusCode code, const std::string& why) {
    ::close(fd);
    return error(code, why);
  };
  if (stat_errno != 0) return refuse(StatusCode::kIoError, format("cannot stat: %s", std::strerror(stat_errno)));
  if (!S_ISREG(st.st_mode)) return refuse(StatusCode::kIoError, "not a regular file");
  *size = static_cast<uint64_t>(st.st_size);
  if (*size == 0) return refuse(StatusCode::kInvalidArgument, "file is empty");
  if (*size > kMaxImageFileBytes) {
    return refuse(StatusCode::kInvalidArgument, format("file has %llu bytes, the limit is %zu",
                                                       static_cast<unsigned long long>(*size), kMaxImageFileBytes));
  }
  *file = ::fdopen(fd, "rb");
  if (*file == nullptr) return refuse(StatusCode::kOutOfMemory, "cannot open a stream on it");
  return Status::Ok();
}

// Appends up to `count` more bytes of `file` to `bytes`; fewer when the file ends (it
// shrank while being read: decode what is there). Errors: "<why>" only.
Status read_more(std::FILE* file, size_t count, std::vector<uint8_t>* bytes) {
  const size_t start = bytes->size();
  bytes->resize(start + count);
  const size_t got = std::fread(bytes->data() + start, 1, count, file);
  bytes->resize(start + got);
  if (got < count && std::ferror(file)) return error(StatusCode::kIoError, format("cannot read: %s", std::strerror(errno)));
  return Status::Ok();
}

class StreamCloser {
 public:
  explicit StreamCloser(std::FILE* file) : file_(file) {}
  ~StreamCloser() { std::fclose(file_); }
  StreamCloser(const StreamCloser&) = delete;
  StreamCloser& operator=(const StreamCloser&) = delete;

 private:
  std::FILE* file_;
};

// The upright image of `stored` (width x height x channels as the file stores it).
Image upright_image(std::vector<uint8_t> stored, uint32_t width, uint32_t height, uint32_t channels,
                    uint32_t orientation) {
  Image image;
  image.channels = channels;
  if (orientation == kOrientationUpright) {
    image.width = width;
    image.height = height;
    image.pixels = std::move(stored);
    return image;
  }
  const bool swap = orientation_swaps_sides(orientation);
  image.width = swap ? height : width;
  image.height = swap ? width : height;
  image.pixels.resize(stored.size());
  apply_orientation(stored.data(), width, height, channels, orientation, image.pixels.data());
  return image;
}

// A JPEG with EXIF `orientation`, upright; `decode(stored_target, &pixels, &w, &h)` decodes
// it (from memory or from a stream) in its stored orientation.
template <typename Decode>
Result<Image> upright_jpeg(uint32_t orientation, const std::string& name, uint32_t channels,
                           const DecodeTarget& target, Decode decode) {
  const bool swap = orientation_swaps_sides(orientation);  // the target is upright, the file is not
  const JpegScaleTarget stored_target{swap ? target.min_height : target.min_width,
                                      swap ? target.min_width : target.min_height, target.min_shorter_side};
  std::vector<uint8_t> stored;
  uint32_t width = 0, height = 0;
  const Status decoded = decode(stored_target, &stored, &width, &height);
  if (!decoded.ok()) return decode_failure(name, decoded.code(), decoded.message());
  return upright_image(std::move(stored), width, height, channels, orientation);
}

Result<Image> decode_jpeg_image(const uint8_t* data, size_t size, const std::string& name, uint32_t channels,
                                const DecodeTarget& target) {
  return upright_jpeg(jpeg_exif_orientation(data, size), name, channels, target,
                      [&](const JpegScaleTarget& stored_target, std::vector<uint8_t>* pixels, uint32_t* w, uint32_t* h) {
                        return decode_jpeg(data, size, channels, stored_target, pixels, w, h);
                      });
}

Result<Image> decode_with_stb(const uint8_t* data, size_t size, const std::string& name, FileKind kind,
                              uint32_t channels) {
  const auto invalid = [&](const std::string& why) { return decode_failure(name, StatusCode::kInvalidArgument, why); };
  HeaderInfo header;
  EDGECLR_RETURN_IF_ERROR(check_header(data, size, name, kind, &header));

  // Gray files decode straight to 1 channel; colour ones to RGB, then to gray with our
  // luma weights when asked (stb_image's own weights differ). PGM/PPM files decode in
  // their own channels: stb_image 2.27 converts the channels of a 16-bit one as if it
  // were 8-bit, reading past its buffer (found by fuzzing), so gray is widened here.
  const bool pnm = kind == FileKind::kPgm || kind == FileKind::kPpm;
  const int stb_channels = pnm ? header.components : (channels == 3 || header.components >= 3) ? 3 : 1;
  int width = 0, height = 0;
  StbPixels decoded(stb_decode(kind, data, size, stb_channels, &width, &height));
  if (!decoded) {
    const std::string reason = stb_reason();
    if (reason == "outofmem") {
      return decode_failure(name, StatusCode::kOutOfMemory, format("out of memory (%s)", kind_name(kind)));
    }
    return invalid(format("corrupt or unsupported %s (stb_image: %s)", kind_name(kind), reason.c_str()));
  }
  if (width != header.width || height != header.height) {  // the pixel limit was checked on the header
    return invalid(format("corrupt %s: header says %dx%d pixels, the data %dx%d", kind_name(kind), header.width,
                          header.height, width, height));
  }
  const size_t pixel_count = size_t(width) * size_t(height);
  if (stb_channels == 3 && channels == 1) rgb_to_gray_in_place(decoded.get(), pixel_count);
  std::vector<uint8_t> pixels;
  if (stb_channels == 1 && channels == 3) {
    pixels.resize(pixel_count * 3);
    for (size_t i = 0; i < pixel_count; ++i) pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = decoded.get()[i];
  } else {
    pixels.assign(decoded.get(), decoded.get() + pixel_count * channels);
  }
  decoded.reset();
  return upright_image(std::move(pixels), static_cast<uint32_t>(width), static_cast<uint32_t>(height), channels,
                       kOrientationUpright);
}

Status check_channels(const std::string& name, uint32_t channels) {
  if (channels == 1 || channels == 3) return Status::Ok();
  return decode_failure(name, StatusCode::kInvalidArgument, format("channels %u, expected 1 (gray) or 3 (RGB)", channels));
}

}  // namespace

Result<Image> decode_image_memory(const uint8_t* data, size_t size, const std::string& name, uint32_t channels,
                                  const DecodeTarget& target) {
  const auto invalid = [&](const std::string& why) { return decode_failure(name, StatusCode::kInvalidArgument, why); };
  EDGECLR_RETURN_IF_ERROR(check_channels(name, channels));
  if (data == nullptr || size == 0) return invalid("no data (0 bytes)");
  if (size > kMaxImageFileBytes) return invalid(format("%zu bytes, the limit is %zu", size, kMaxImageFileBytes));
  const FileKind kind = sniff_kind(data, size);
  if (kind == FileKind::kJpeg) return decode_jpeg_image(data, size, name, channels, target);
  return decode_with_stb(data, size, name, kind, channels);
}

Result<Image> decode_image_file(const std::string& path, uint32_t channels, const DecodeTarget& target) {
  EDGECLR_RETURN_IF_ERROR(check_channels(path, channels));
  const auto read_failure = [&](const Status& status) {
    return error(status.code(), format("failed to read image '%s': %s", path.c_str(), status.message().c_str()));
  };
  std::FILE* file = nullptr;
  uint64_t size = 0;
  const Status opened = open_bounded_file(path, &file, &size);
  if (!opened.ok()) return read_failure(opened);
  const StreamCloser closer(file);
  // The first bytes tell the format and hold a JPEG's EXIF block (APP1 segments are at
  // most 64 KB and come first); a JPEG is then decoded from the stream, so the
  // compressed photo is never in memory whole. Other formats are read whole for stb.
  std::vector<uint8_t> bytes;
  Status read = read_more(file, static_cast<size_t>(std::min<uint64_t>(size, kJpegHeadBytes)), &bytes);
  if (!read.ok()) return read_failure(read);
  if (sniff_kind(bytes.data(), bytes.size()) == FileKind::kJpeg) {
    if (std::fseek(file, 0, SEEK_SET) != 0) return read_failure(error(StatusCode::kIoError, "cannot seek"));
    return upright_jpeg(jpeg_exif_orientation(bytes.data(), bytes.size()), path, channels, target,
                        [&](const JpegScaleTarget& stored_target, std::vector<uint8_t>* pixels, uint32_t* w, uint32_t* h) {
                          return decode_jpeg_stream(file, channels, stored_target, pixels, w, h);
                        });
  }
  read = read_more(file, static_cast<size_t>(size) - bytes.size(), &bytes);
  if (!read.ok()) return read_failure(read);
  return decode_image_memory(bytes.data(), bytes.size(), path, channels, target);
}

}  // namespace edgeclr
