// Embeds an image set with an encoder, in batches, showing progress on stderr.
#pragma once

#include <string>
#include <vector>

#include "dataset/image_set.h"
#include "encoder/encoder.h"
#include "eval/space_metrics.h"

namespace edgeclr::eval {

// The first min(limit, size) images of `set`: unit-length rows (embeddings, or features
// when `feature`) and their labels (-1 when the set has none). `what` names the set in
// the progress lines.
Status embed_set(Encoder& encoder, const dataset::ImageSet& set, size_t limit, bool feature, const char* what,
                 Vectors* out, std::vector<int32_t>* labels);

}  // namespace edgeclr::eval
