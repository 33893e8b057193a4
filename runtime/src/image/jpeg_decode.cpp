// JPEG decoding with libjpeg-turbo's libjpeg API (Debian's libjpeg62-turbo-dev).
//
// libjpeg reports fatal errors through error_exit, which must not return; it longjmps
// back into the one function below that calls libjpeg (run_libjpeg). That function and
// libjpeg's own frames hold only trivially destructible objects, so the jump skips no
// destructor; everything with a destructor lives in the callers.
#include "image/jpeg_decode.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <cstring>

#include <jerror.h>
#include <jpeglib.h>

#include "image/pixel_view.h"

namespace edgeclr {
namespace {

// A progressive file may hold any number of scans, each a pass over the whole
// coefficient buffer: a crafted file with thousands of them takes minutes to decode.
// Real encoders write about 10 (libjpeg's default script) and at most a few dozen.
constexpr int kMaxScans = 500;

// The decoded image is at least this many times the target: the DCT-domain scaling (a
// box filter on 8x8-aligned blocks, chroma from coarser blocks) followed by preprocess's
// area resize then stays close to one area resize of the whole image. Measured with the
// photo model on a 12 MP and a 17.9 MP photo (embedding cosine to a full decode): 1/8
// scale, 1.7x the target: 0.976-0.990; 1/4 scale, 3.4x: 0.997-0.998.
constexpr uint32_t kScaleMargin = 2;

struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg sees this struct as a jpeg_error_mgr
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jump_with_message(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

void on_error_exit(j_common_ptr cinfo) { jump_with_message(cinfo); }

// Warnings (level -1) that mean pixels are missing are errors here: libjpeg would fill
// the rest of the image with gray and carry on. Other warnings (extraneous bytes
// between markers, odd APPn segments) leave the image whole. Trace messages are dropped.
void on_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) jump_with_message(cinfo);
  cinfo->err->num_warnings++;
}

void on_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  const auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->input_scan_number > kMaxScans) {
    auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
    std::snprintf(errors->message, sizeof errors->message, "more than %d progressive scans", kMaxScans);
    std::longjmp(errors->jump, 1);
  }
}

// A stdio source with a 64 KB buffer: libjpeg's own (jpeg_stdio_src) reads 4 KB at a
// time, and its Huffman decoder leaves its fast path whenever fewer than a few KB are
// buffered, which cost about 2 ms on a 12 MP photo.
constexpr size_t kStreamBufferBytes = size_t{64} << 10;

struct StreamSource {
  jpeg_source_mgr pub;  // first: libjpeg sees this struct as a jpeg_source_mgr
  std::FILE* file;
  JOCTET* buffer;
};

void stream_init(j_decompress_ptr) {}
void stream_term(j_decompress_ptr) {}

boolean stream_fill(j_decompress_ptr cinfo) {
  auto* src = reinterpret_cast<StreamSource*>(cinfo->src);
  size_t got = std::fread(src->buffer, 1, kStreamBufferBytes, src->file);
  if (got == 0) {  // as libjpeg's sources do: warn (an error here) and end the data
    WARNMS(cinfo, JWRN_JPEG_EOF);
    src->buffer[0] = 0xFF;
    src->buffer[1] = JPEG_EOI;
    got = 2;
  }
  src->pub.next_input_byte = src->buffer;
  src->pub.bytes_in_buffer = got;
  return TRUE;
}

void stream_skip(j_decompress_ptr cinfo, long count) {
  auto* src = reinterpret_cast<StreamSource*>(cinfo->src);
  while (count > static_cast<long>(src->pub.bytes_in_buffer)) {
    count -= static_cast<long>(src->pub.bytes_in_buffer);
    stream_fill(cinfo);
  }
  if (count > 0) {
    src->pub.next_input_byte += count;
    src->pub.bytes_in_buffer -= static_cast<size_t>(count);
  }
}

// Memory from libjpeg's permanent pool: freed by jpeg_destroy_decompress.
void use_stream_source(j_decompress_ptr cinfo, std::FILE* file) {
  const auto common = reinterpret_cast<j_common_ptr>(cinfo);
  auto* src = static_cast<StreamSource*>((*cinfo->mem->alloc_small)(common, JPOOL_PERMANENT, sizeof(StreamSource)));
  src->buffer = static_cast<JOCTET*>((*cinfo->mem->alloc_large)(common, JPOOL_PERMANENT, kStreamBufferBytes));
  src->file = file;
  src->pub.init_source = stream_init;
  src->pub.fill_input_buffer = stream_fill;
  src->pub.skip_input_data = stream_skip;
  src->pub.resync_to_restart = jpeg_resync_to_restart;
  src->pub.term_source = stream_term;
  src->pub.bytes_in_buffer = 0;
  src->pub.next_input_byte = nullptr;
  cinfo->src = &src->pub;
}

uint32_t scaled(uint32_t size, uint32_t numerator) {
  return static_cast<uint32_t>((uint64_t{size} * numerator + 7) / 8);  // libjpeg's jdiv_round_up
}

// CMYK (or YCCK decoded to CMYK) to RGB, one row. `inverted`: Adobe's files store
// 255 - ink, and say so with an APP14 marker.
void cmyk_row_to_rgb(const uint8_t* cmyk, uint32_t width, bool inverted, uint8_t* rgb) {
  for (uint32_t x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const uint32_t k = inverted ? cmyk[3] : 255u - cmyk[3];
    for (int c = 0; c < 3; ++c) {
      const uint32_t ink_free = inverted ? cmyk[c] : 255u - cmyk[c];
      rgb[c] = static_cast<uint8_t>((ink_free * k + 127) / 255);
    }
  }
}

void rgb_row_to_gray(uint8_t* row, uint32_t width) {
  for (uint32_t x = 0; x < width; ++x) row[x] = luma_bt601(row[3 * x], row[3 * x + 1], row[3 * x + 2]);
}

// What one decode asks of libjpeg and what it gives back. Plain data only (see the top).
struct DecodeJob {
  const uint8_t* data;  // the file in memory, or
  size_t size;
  std::FILE* file;      // the file as a stream (when not null)
  bool header_only;
  uint32_t channels;  // 1 or 3
  JpegScaleTarget target;
  std::vector<uint8_t>* pixels;  // resized once the output size is known
  // Out:
  JpegHeader header;
  uint32_t width, height;
  char failure[JMSG_LENGTH_MAX + 64];  // set when run_libjpeg returns false
  bool out_of_memory;
};

// Decodes the pixel rows into job->pixels; cinfo is started. False with job->failure set.
bool read_rows(jpeg_decompress_struct* cinfo, DecodeJob* job, bool cmyk) {
  const uint32_t width = cinfo->output_width;
  const size_t row_bytes = size_t{width} * job->channels;
  JSAMPARRAY cmyk_row = nullptr;
  if (cmyk) {  // libjpeg's pool: freed by jpeg_destroy_decompress, also after a longjmp
    cmyk_row = (*cinfo->mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(cinfo), JPOOL_IMAGE, width * 4, 1);
  }
  while (cinfo->output_scanline < cinfo->output_height) {
    uint8_t* row = job->pixels->data() + row_bytes * cinfo->output_scanline;
    if (cmyk) {
      if (jpeg_read_scanlines(cinfo, cmyk_row, 1) != 1) break;
      if (job->channels == 3) {
        cmyk_row_to_rgb(cmyk_row[0], width, cinfo->saw_Adobe_marker, row);
      } else {
        cmyk_row_to_rgb(cmyk_row[0], width, cinfo->saw_Adobe_marker, cmyk_row[0]);
        rgb_row_to_gray(cmyk_row[0], width);
        std::memcpy(row, cmyk_row[0], width);
      }
    } else {
      JSAMPROW rows[1] = {row};
      if (jpeg_read_scanlines(cinfo, rows, 1) != 1) break;
    }
  }
  if (cinfo->output_scanline != cinfo->output_height) {
    std::snprintf(job->failure, sizeof job->failure, "decoding stopped at row %u of %u", cinfo->output_scanline,
                  cinfo->output_height);
    return false;
  }
  return true;
}

// After jpeg_create_decompress: header, checks, scale, pixels. False with job->failure set.
bool decode_created(jpeg_decompress_struct* cinfo, DecodeJob* job) {
  if (job->file != nullptr) {
    use_stream_source(cinfo, job->file);
  } else {
    jpeg_mem_src(cinfo, job->data, static_cast<unsigned long>(job->size));
  }
  jpeg_read_header(cinfo, TRUE);
  job->header = JpegHeader{cinfo->image_width, cinfo->image_height, static_cast<uint32_t>(cinfo->num_components),
                           jpeg_has_multiple_scans(cinfo) != 0};
  if (job->header_only) return true;
  const uint64_t pixel_count = uint64_t{cinfo->image_width} * cinfo->image_height;
  if (pixel_count == 0 || pixel_count > kMaxImagePixels) {
    std::snprintf(job->failure, sizeof job->failure, "%ux%u pixels, expected at least 1x1", cinfo->image_width,
                  cinfo->image_height);  // run_job words the over-limit case itself
    return false;
  }
  const bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = cmyk ? JCS_CMYK : job->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo->scale_num = jpeg_scale_numerator(cinfo->image_width, cinfo->image_height, job->target);
  cinfo->scale_denom = 8;
  jpeg_calc_output_dimensions(cinfo);
  job->width = cinfo->output_width;
  job->height = cinfo->output_height;
  job->pixels->resize(size_t{job->width} * job->height * job->channels);
  jpeg_start_decompress(cinfo);
  if (!read_rows(cinfo, job, cmyk)) return false;
  jpeg_finish_decompress(cinfo);
  return true;
}

// Every libjpeg call happens below this frame, between setjmp and jpeg_destroy_decompress.
// No local here changes after setjmp, so none is clobbered by the jump.
bool run_libjpeg(DecodeJob* job) {
  jpeg_decompress_struct cinfo;
  ErrorManager errors;
  cinfo.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = on_error_exit;
  errors.pub.emit_message = on_emit_message;
  jpeg_progress_mgr progress;
  progress.progress_monitor = on_progress;
  if (setjmp(errors.jump)) {
    job->out_of_memory = errors.pub.msg_code == JERR_OUT_OF_MEMORY;
    std::snprintf(job->failure, sizeof job->failure, "corrupt or unsupported JPEG (libjpeg: %s)", errors.message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  const bool ok = decode_created(&cinfo, job);
  jpeg_destroy_decompress(&cinfo);
  return ok;
}

Status run_job(DecodeJob* job) {
  job->failure[0] = '\0';
  job->out_of_memory = false;
  if (run_libjpeg(job)) return Status::Ok();
  const uint64_t pixel_count = uint64_t{job->header.width} * job->header.height;
  if (pixel_count > kMaxImagePixels) {
    return error(StatusCode::kInvalidArgument, format("%ux%u pixels, the limit is %llu", job->header.width,
                                                      job->header.height,
                                                      static_cast<unsigned long long>(kMaxImagePixels)));
  }
  return error(job->out_of_memory ? StatusCode::kOutOfMemory : StatusCode::kInvalidArgument, job->failure);
}

// Decodes with the job's source (memory or stream) into *pixels.
Status run_decode(DecodeJob* job, uint32_t channels, const JpegScaleTarget& target, std::vector<uint8_t>* pixels,
                  uint32_t* width, uint32_t* height) {
  if (channels != 1 && channels != 3) {
    return error(StatusCode::kInvalidArgument, format("channels %u, expected 1 or 3", channels));
  }
  job->channels = channels;
  job->target = target;
  job->pixels = pixels;
  EDGECLR_RETURN_IF_ERROR(run_job(job));
  *width = job->width;
  *height = job->height;
  return Status::Ok();
}

}  // namespace

uint32_t jpeg_scale_numerator(uint32_t width, uint32_t height, const JpegScaleTarget& target) {
  if (target.min_width == 0 && target.min_height == 0 && target.min_shorter_side == 0) return 8;  // full size
  const uint64_t min_w = uint64_t{kScaleMargin} * target.min_width, min_h = uint64_t{kScaleMargin} * target.min_height;
  const uint64_t min_shorter = uint64_t{kScaleMargin} * target.min_shorter_side;
  for (uint32_t m = 1; m < 8; ++m) {
    const uint32_t w = scaled(width, m), h = scaled(height, m);
    if (w >= min_w && h >= min_h && std::min(w, h) >= min_shorter) return m;
  }
  return 8;
}

Status read_jpeg_header(const uint8_t* data, size_t size, JpegHeader* header) {
  DecodeJob job{};
  job.data = data;
  job.size = size;
  job.header_only = true;
  EDGECLR_RETURN_IF_ERROR(run_job(&job));
  *header = job.header;
  return Status::Ok();
}

Status decode_jpeg(const uint8_t* data, size_t size, uint32_t channels, const JpegScaleTarget& target,
                   std::vector<uint8_t>* pixels, uint32_t* width, uint32_t* height) {
  DecodeJob job{};
  job.data = data;
  job.size = size;
  return run_decode(&job, channels, target, pixels, width, height);
}

Status decode_jpeg_stream(std::FILE* file, uint32_t channels, const JpegScaleTarget& target,
                          std::vector<uint8_t>* pixels, uint32_t* width, uint32_t* height) {
  DecodeJob job{};
  job.file = file;
  return run_decode(&job, channels, target, pixels, width, height);
}

}  // namespace edgeclr
