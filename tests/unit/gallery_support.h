// Real embeddings for the gallery tests: the reference model's features of Fashion-MNIST
// test images, and its head.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "dataset/image_set.h"
#include "encoder/encoder.h"
#include "gallery/gallery.h"

namespace edgeclr::testing {

inline const std::string kSource = EDGECLR_SOURCE_DIR;

// The reference model and the features of the first `n` Fashion-MNIST test images.
struct RealFeatures {
  std::unique_ptr<Model> model;
  std::vector<float> features;  // n x feature_dim
  size_t n = 0;

  explicit RealFeatures(size_t count) : n(count) {
    auto m = Model::open_file(kSource + "/models/fashion/fashion-fp32.eclr");
    REQUIRE_MESSAGE(m.ok(), m.status().message());
    model = std::move(m).value();
    auto images = dataset::ImageSet::open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", 1);
    REQUIRE_MESSAGE(images.ok(), images.status().message());
    auto encoder = Encoder::create(*model, EncoderOptions{});
    REQUIRE(encoder.ok());
    features.resize(n * model->feature_dim());
    for (size_t i = 0; i < n; ++i) {
      auto image = images->image(i);
      REQUIRE(image.ok());
      const PixelView view = image->view();
      REQUIRE(encoder.value()->encode(&view, 1, features.data() + i * model->feature_dim(), nullptr).ok());
    }
  }
  GalleryHead own_head() const { return GalleryHead{ProjectionHead::from_schema(model->head(), model->feature_dim()), 0, ""}; }
  const float* feature(size_t i) const { return features.data() + i * model->feature_dim(); }
};

inline std::vector<float> embed(const ProjectionHead& head, const float* feature) {
  std::vector<float> out(head.embedding_dim()), scratch(head.scratch_floats(1));
  head.forward(feature, 1, out.data(), scratch.data());
  return out;
}

}  // namespace edgeclr::testing
