// libjpeg compression to memory for the tests (jpeg_mem_dest), with scan scripts built
// here for the many-scans case.
#include "support/jpeg_writer.h"

#include <cstdio>
#include <cstdlib>

#include <jpeglib.h>

namespace edgeclr::testing {
namespace {

int input_components(JpegColor color) {
  switch (color) {
    case JpegColor::kGray: return 1;
    case JpegColor::kYCbCr: return 3;
    case JpegColor::kCmyk:
    case JpegColor::kYcck: return 4;
  }
  return 0;
}

// DC of all components in one scan, then every AC coefficient of every component alone:
// a first scan keeping `refinements` bits back, then one scan per bit.
std::vector<jpeg_scan_info> refinement_script(int components, int refinements) {
  std::vector<jpeg_scan_info> scans;
  jpeg_scan_info dc{};
  dc.comps_in_scan = components;
  for (int c = 0; c < components; ++c) dc.component_index[c] = c;
  scans.push_back(dc);
  for (int c = 0; c < components; ++c) {
    for (int k = 1; k < 64; ++k) {
      for (int bit = refinements; bit >= 0; --bit) {
        jpeg_scan_info ac{};
        ac.comps_in_scan = 1;
        ac.component_index[0] = c;
        ac.Ss = ac.Se = k;
        ac.Ah = bit == refinements ? 0 : bit + 1;
        ac.Al = bit;
        scans.push_back(ac);
      }
    }
  }
  return scans;
}

}  // namespace

std::vector<uint8_t> write_jpeg(const std::vector<uint8_t>& pixels, int width, int height,
                                const JpegWriteOptions& options) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr errors;
  cinfo.err = jpeg_std_error(&errors);  // error_exit prints and exits: the test fails loudly
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  const int components = input_components(options.color);
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  if (options.color == JpegColor::kYcck) jpeg_set_colorspace(&cinfo, JCS_YCCK);
  jpeg_set_quality(&cinfo, options.quality, TRUE);
  if (!options.subsample) {
    for (int c = 0; c < cinfo.num_components; ++c) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
  }
  std::vector<jpeg_scan_info> script;
  if (options.ac_refinements > 0) {
    script = refinement_script(cinfo.num_components, options.ac_refinements);
    cinfo.scan_info = script.data();
    cinfo.num_scans = static_cast<int>(script.size());
  } else if (options.progressive) {
    jpeg_simple_progression(&cinfo);
  }
  jpeg_start_compress(&cinfo, TRUE);
  const size_t row_bytes = static_cast<size_t>(width) * components;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels.data() + row_bytes * cinfo.next_scanline);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

}  // namespace edgeclr::testing
