// A set of images from the command line: a folder (read recursively; the first-level
// subfolder names the label) or an IDX image file as Fashion-MNIST ships it (gzip or
// plain), with an optional IDX label file. Used by convert (calibration) and eval.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "image/image_decode.h"

namespace edgeclr::dataset {

class ImageSet {
 public:
  // `channels`: 1 or 3, the colour images are decoded to. `labels_path` only for IDX.
  static Result<ImageSet> open(const std::string& path, uint32_t channels, const std::string& labels_path = "");

  size_t size() const { return count_; }
  // The image at `index` (< size()), decoded (files: at least `target`'s size, see
  // DecodeTarget; JPEGs scaled in the DCT domain when that is smaller).
  Result<Image> image(size_t index) const;
  void set_decode_target(const DecodeTarget& target) { target_ = target; }
  // -1 when the set has no labels.
  int32_t label(size_t index) const { return labels_.empty() ? -1 : labels_[index]; }
  bool has_labels() const { return !labels_.empty(); }
  bool from_files() const { return !files_.empty(); }  // a folder, not an IDX file
  const std::vector<std::string>& class_names() const { return class_names_; }
  std::string name(size_t index) const;  // file path, or "path[index]" for IDX
  const std::vector<std::string>& skipped() const { return skipped_; }  // non-image files

 private:
  std::string path_;
  uint32_t channels_ = 1;
  DecodeTarget target_;  // full size unless set
  size_t count_ = 0;
  // IDX: all pixels in memory, rows x cols each.
  std::vector<uint8_t> idx_pixels_;
  uint32_t rows_ = 0, cols_ = 0;
  // Folder: one file per image.
  std::vector<std::string> files_;
  std::vector<int32_t> labels_;
  std::vector<std::string> class_names_;
  std::vector<std::string> skipped_;
};

// Largest IDX data read (after gunzip), checked while reading and against the header.
inline constexpr size_t kMaxIdxBytes = size_t{1} << 30;

// Reads an IDX file (ubyte data, 1 to 3 dimensions), gzip-compressed or not.
// `dims` receives the dimensions; their product is the data's size, at most kMaxIdxBytes.
Status read_idx(const std::string& path, std::vector<uint8_t>* data, std::vector<uint32_t>* dims);

}  // namespace edgeclr::dataset
