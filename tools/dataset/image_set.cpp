#include "dataset/image_set.h"

#include <zlib.h>

#include <algorithm>
#include <dirent.h>
#include <sys/stat.h>

namespace edgeclr::dataset {
namespace {

constexpr size_t kMaxIdxHeaderBytes = 4 + 4 * 3;  // magic and three dimensions

Status idx_error(const std::string& path, const std::string& why) {
  return error(StatusCode::kInvalidArgument, format("failed to read IDX file '%s': %s", path.c_str(), why.c_str()));
}

// gzip or plain: zlib's gz* functions read both.
Status read_maybe_gzip(const std::string& path, std::vector<uint8_t>* out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return error(StatusCode::kIoError, format("failed to read '%s': cannot open", path.c_str()));
  uint8_t chunk[1 << 16];
  int n = 0;
  while ((n = gzread(f, chunk, sizeof(chunk))) > 0) {
    if (out->size() + static_cast<size_t>(n) > kMaxIdxBytes + kMaxIdxHeaderBytes) {  // checked before growing
      gzclose(f);
      return idx_error(path, "more than 1 GiB of data");
    }
    out->insert(out->end(), chunk, chunk + n);
  }
  const bool failed = n < 0;
  gzclose(f);
  return failed ? idx_error(path, "corrupt gzip data") : Status::Ok();
}

bool is_image_name(const std::string& name) {
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  for (const char* e : {"jpg", "jpeg", "png", "bmp", "pgm", "ppm"}) {
    if (ext == e) return true;
  }
  return false;
}

// Files under `dir`, recursively, sorted; `label` is the first-level folder name.
void list_files(const std::string& dir, const std::string& label, int depth,
                std::vector<std::pair<std::string, std::string>>* files, std::vector<std::string>* skipped) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth < 16) list_files(path, depth == 0 ? name : label, depth + 1, files, skipped);
    } else if (is_image_name(name)) {
      files->emplace_back(path, label);
    } else {
      skipped->push_back(path);
    }
  }
}

}  // namespace

Status read_idx(const std::string& path, std::vector<uint8_t>* data, std::vector<uint32_t>* dims) {
  std::vector<uint8_t> bytes;
  EDGECLR_RETURN_IF_ERROR(read_maybe_gzip(path, &bytes));
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08) {
    return idx_error(path, "not an IDX file of unsigned bytes (magic 00 00 08 ..)");
  }
  const uint32_t rank = bytes[3];
  if (rank < 1 || rank > 3 || bytes.size() < 4 + 4 * rank) return idx_error(path, format("rank %u", rank));
  uint64_t count = 1;
  dims->clear();
  for (uint32_t i = 0; i < rank; ++i) {
    const uint8_t* p = &bytes[4 + 4 * i];
    const uint32_t d = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    dims->push_back(d);
    // Both factors are at most 2^30 while the product stays within the data bound, so
    // the product never wraps (dims of 2^32 x 2^32 would otherwise count 0 bytes).
    count = d > kMaxIdxBytes || count > kMaxIdxBytes ? kMaxIdxBytes + 1 : count * d;
  }
  if (count > kMaxIdxBytes) return idx_error(path, "header says more than 1 GiB of data");
  const size_t header = 4 + 4 * rank;
  if (count != bytes.size() - header) {
    return idx_error(path, format("header says %llu bytes of data, the file has %zu", (unsigned long long)count,
                                  bytes.size() - header));
  }
  data->assign(bytes.begin() + header, bytes.end());
  return Status::Ok();
}

Result<ImageSet> ImageSet::open(const std::string& path, uint32_t channels, const std::string& labels_path) {
  ImageSet set;
  set.path_ = path;
  set.channels_ = channels;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return error(StatusCode::kIoError, format("failed to open image set '%s': no such file or folder", path.c_str()));
  }
  if (S_ISDIR(st.st_mode)) {
    std::vector<std::pair<std::string, std::string>> files;
    list_files(path, "", 0, &files, &set.skipped_);
    for (const auto& f : files) {
      if (!f.second.empty() && std::find(set.class_names_.begin(), set.class_names_.end(), f.second) == set.class_names_.end()) {
        set.class_names_.push_back(f.second);
      }
    }
    std::sort(set.class_names_.begin(), set.class_names_.end());
    const bool labelled = !set.class_names_.empty() &&
                          std::all_of(files.begin(), files.end(), [](const auto& f) { return !f.second.empty(); });
    for (const auto& f : files) {
      set.files_.push_back(f.first);
      if (labelled) {
        set.labels_.push_back(static_cast<int32_t>(
            std::find(set.class_names_.begin(), set.class_names_.end(), f.second) - set.class_names_.begin()));
      }
    }
    if (!labelled) set.class_names_.clear();
    set.count_ = set.files_.size();
    if (set.count_ == 0) return error(StatusCode::kInvalidArgument, format("failed to open image set '%s': no images in it", path.c_str()));
    return set;
  }
  std::vector<uint32_t> dims;
  EDGECLR_RETURN_IF_ERROR(read_idx(path, &set.idx_pixels_, &dims));
  if (dims.size() != 3) return idx_error(path, "images need 3 dimensions (count, rows, cols)");
  if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0) {
    return idx_error(path, format("%u images of %ux%u pixels: none to read", dims[0], dims[1], dims[2]));
  }
  if (uint64_t{dims[1]} * dims[2] > kMaxImagePixels) {
    return idx_error(path, format("images of %ux%u pixels, the limit is %llu", dims[1], dims[2],
                                  static_cast<unsigned long long>(kMaxImagePixels)));
  }
  set.count_ = dims[0];
  set.rows_ = dims[1];
  set.cols_ = dims[2];
  if (!labels_path.empty()) {
    std::vector<uint8_t> labels;
    std::vector<uint32_t> ldims;
    EDGECLR_RETURN_IF_ERROR(read_idx(labels_path, &labels, &ldims));
    if (ldims.size() != 1 || ldims[0] != set.count_) {
      return idx_error(labels_path, format("%u labels for %zu images", ldims.empty() ? 0 : ldims[0], set.count_));
    }
    set.labels_.assign(labels.begin(), labels.end());
  }
  return set;
}

Result<Image> ImageSet::image(size_t index) const {
  if (files_.empty()) {
    Image image;
    image.width = cols_;
    image.height = rows_;
    image.channels = channels_;
    const uint8_t* src = &idx_pixels_[index * rows_ * cols_];
    image.pixels.resize(size_t{rows_} * cols_ * channels_);
    for (size_t i = 0; i < size_t{rows_} * cols_; ++i) {
      for (uint32_t c = 0; c < channels_; ++c) image.pixels[i * channels_ + c] = src[i];
    }
    return image;
  }
  return decode_image_file(files_[index], channels_, target_);
}

std::string ImageSet::name(size_t index) const {
  return files_.empty() ? path_ + "[" + std::to_string(index) + "]" : files_[index];
}

}  // namespace edgeclr::dataset
