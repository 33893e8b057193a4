// The feature cache of an adaptation: images (files or pixels) go through the frozen
// backbone once, together with their seeded augmented views, and land in an AdaptSet.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "adapt/adapt_set.h"
#include "adapt/augment.h"
#include "core/status.h"
#include "encoder/encoder.h"

namespace edgeclr {

struct AdaptInputOptions {
  uint32_t views = 8;  // augmented views per image (unlabeled needs >= 2)
  AugmentOptions augment;
  uint64_t seed = 0;   // the views of item i come from a generator seeded with (seed, i)
};

// Bounds on what one adaptation holds, so a huge CSV or folder fails with a message
// rather than running the device out of memory.
inline constexpr uint32_t kMaxAdaptImages = 200'000;
inline constexpr uint32_t kMaxAdaptViews = 64;

class AdaptInputs {
 public:
  // `encoder` must outlive this and is used from the calling thread.
  AdaptInputs(Encoder* encoder, AdaptKind kind, const AdaptInputOptions& options);

  // Encodes the image and its views; returns the item's index. `group` is the user's
  // label (groups) and ignored otherwise.
  Result<uint32_t> add_image(const PixelView& image, int32_t group);
  // Decodes and adds a file; the same path given again (pairs) returns the same item.
  // Decodes at decode_target() or larger.
  Result<uint32_t> add_file(const std::string& path, int32_t group);
  // Twice the size the encoder's preprocessing needs on each side, so that a view
  // cropped to the smallest augmentation area (35%, 0.59 of each side) is still shrunk,
  // not enlarged: large photos decode at a DCT scale instead of full size.
  DecodeTarget decode_target() const;
  // kPairs only: items from add_image/add_file.
  Status add_pair(uint32_t anchor, uint32_t positive, std::vector<uint32_t> negatives);

  // Undoes additions: keeps the first `items` items and `pairs` pairs.
  void truncate(size_t items, size_t pairs);

  const AdaptSet& set() const { return set_; }
  AdaptKind kind() const { return set_.kind(); }

 private:
  Result<uint32_t> add_decoded(const Image& image, int32_t group);

  Encoder* encoder_;
  AdaptInputOptions options_;
  AdaptSet set_;
  std::map<std::string, uint32_t> by_path_;
  std::vector<float> feature_, views_;
  Image view_;
};

// Reads a pairs CSV (its format and bounds: pairs_csv.h). Each image is encoded once.
// All or nothing: on an error nothing of the CSV stays in `inputs`.
// Errors name the file and line: "failed to read pairs 'p.csv': line 3: ...".
Status add_pairs_csv(const std::string& csv_path, AdaptInputs* inputs);

}  // namespace edgeclr
