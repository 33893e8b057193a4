#include "adapt/adapt_inputs.h"

#include <algorithm>
#include <iterator>

#include "adapt/pairs_csv.h"
#include "image/image_decode.h"

namespace edgeclr {
namespace {

// Copies a caller's pixels into a packed gray or RGB image (what augmentation takes).
Image to_image(const PixelView& view, uint32_t channels) {
  Image image;
  image.width = view.width;
  image.height = view.height;
  image.channels = channels;
  image.pixels.resize(size_t{view.width} * view.height * channels);
  const uint32_t bpp = bytes_per_pixel(view.format);
  for (uint32_t y = 0; y < view.height; ++y) {
    const uint8_t* row = view.data + y * view.stride_bytes;
    for (uint32_t x = 0; x < view.width; ++x) {
      const uint8_t* p = row + size_t{x} * bpp;
      uint8_t rgb[3] = {p[0], p[0], p[0]};
      if (view.format == PixelFormat::kRGB || view.format == PixelFormat::kRGBA) rgb[1] = p[1], rgb[2] = p[2];
      if (view.format == PixelFormat::kBGRA) rgb[0] = p[2], rgb[1] = p[1], rgb[2] = p[0];
      uint8_t* out = image.pixels.data() + (size_t{y} * view.width + x) * channels;
      if (channels == 1) {
        out[0] = view.format == PixelFormat::kGray ? p[0] : luma_bt601(rgb[0], rgb[1], rgb[2]);
      } else {
        out[0] = rgb[0], out[1] = rgb[1], out[2] = rgb[2];
      }
    }
  }
  return image;
}

}  // namespace

AdaptInputs::AdaptInputs(Encoder* encoder, AdaptKind kind, const AdaptInputOptions& options)
    : encoder_(encoder), options_(options), set_(kind, encoder->feature_dim()) {
  feature_.resize(encoder->feature_dim());
  // More views than allowed are refused by add_image; do not allocate for them here.
  views_.resize(size_t{std::min(options.views, kMaxAdaptViews)} * encoder->feature_dim());
}

Result<uint32_t> AdaptInputs::add_image(const PixelView& image, int32_t group) {
  if (image.data == nullptr || image.width == 0 || image.height == 0 || bytes_per_pixel(image.format) == 0 ||
      image.stride_bytes < size_t{image.width} * bytes_per_pixel(image.format) ||
      uint64_t{image.width} * image.height > kMaxImagePixels) {
    return error(StatusCode::kInvalidArgument, "failed to add image: null, empty, too large or bad stride");
  }
  return add_decoded(to_image(image, encoder_->model().input_spec().channels()), group);
}

Result<uint32_t> AdaptInputs::add_file(const std::string& path, int32_t group) {
  if (set_.kind() == AdaptKind::kPairs) {
    const auto known = by_path_.find(path);
    if (known != by_path_.end()) return known->second;
  }
  auto image = decode_image_file(path, encoder_->model().input_spec().channels(), decode_target());
  if (!image.ok()) return image.status();
  auto item = add_decoded(*image, group);
  if (item.ok() && set_.kind() == AdaptKind::kPairs) by_path_[path] = *item;
  return item;
}

DecodeTarget AdaptInputs::decode_target() const {
  const DecodeTarget model = encoder_->decode_target();
  return DecodeTarget{2 * model.min_width, 2 * model.min_height, 2 * model.min_shorter_side};
}

Result<uint32_t> AdaptInputs::add_decoded(const Image& image, int32_t group) {
  if (set_.items().size() >= kMaxAdaptImages) {
    return error(StatusCode::kInvalidArgument, format("failed to add image: more than %u images", kMaxAdaptImages));
  }
  if (options_.views > kMaxAdaptViews) {
    return error(StatusCode::kInvalidArgument, format("failed to add image: at most %u views", kMaxAdaptViews));
  }
  const PixelView original = image.view();
  EDGECLR_RETURN_IF_ERROR(encoder_->encode(&original, 1, feature_.data(), nullptr));
  const schema::InputSpec& spec = encoder_->model().input_spec();
  const uint64_t item = set_.items().size();
  Rng rng(options_.seed ^ (0x9e3779b97f4a7c15ull * (item + 1)));
  for (uint32_t v = 0; v < options_.views; ++v) {
    augment_image(image, options_.augment, spec.width(), spec.height(), &rng, &view_);
    const PixelView view = view_.view();
    EDGECLR_RETURN_IF_ERROR(encoder_->encode(&view, 1, views_.data() + size_t{v} * set_.feature_dim(), nullptr));
  }
  return set_.add_item(feature_.data(), views_.data(), options_.views, group);
}

Status AdaptInputs::add_pair(uint32_t anchor, uint32_t positive, std::vector<uint32_t> negatives) {
  const size_t n = set_.items().size();
  bool ok = set_.kind() == AdaptKind::kPairs && anchor < n && positive < n && anchor != positive;
  for (uint32_t item : negatives) ok = ok && item < n && item != anchor && item != positive;
  if (!ok) {
    return error(StatusCode::kInvalidArgument,
                 "failed to add pair: not a pairs set, an unknown image, or one image in two roles");
  }
  set_.add_pair(anchor, positive, std::move(negatives));
  return Status::Ok();
}

void AdaptInputs::truncate(size_t items, size_t pairs) {
  set_.truncate(items, pairs);
  for (auto it = by_path_.begin(); it != by_path_.end();) it = it->second >= items ? by_path_.erase(it) : std::next(it);
}

namespace {

// add_pairs_csv without the undo.
Status read_pairs_csv(const std::string& csv_path, AdaptInputs* inputs) {
  auto lines = read_pairs_csv_file(csv_path);
  if (!lines.ok()) return lines.status();
  for (const PairsCsvLine& line : *lines) {
    const auto fail = [&](const std::string& why) {
      return error(StatusCode::kInvalidArgument, format("failed to read pairs '%s': line %zu: %s", csv_path.c_str(),
                                                        line.line, why.c_str()));
    };
    std::vector<uint32_t> items;
    for (const std::string& path : line.paths) {
      auto item = inputs->add_file(resolve_pairs_csv_path(csv_path, path), 0);
      if (!item.ok()) return fail(item.status().message());
      items.push_back(*item);
    }
    if (items[0] == items[1]) return fail("the anchor is its own positive");
    const Status added = inputs->add_pair(items[0], items[1], std::vector<uint32_t>(items.begin() + 2, items.end()));
    if (!added.ok()) return fail(added.message());
  }
  return Status::Ok();
}

}  // namespace

Status add_pairs_csv(const std::string& csv_path, AdaptInputs* inputs) {
  const size_t items = inputs->set().items().size(), pairs = inputs->set().pairs().size();
  const Status status = read_pairs_csv(csv_path, inputs);
  if (!status.ok()) inputs->truncate(items, pairs);
  return status;
}

}  // namespace edgeclr
