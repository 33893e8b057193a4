// A model opened from bytes in memory, keeping the bytes alive as long as the model
// (which may use them in place). For doctest test files.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "model/model.h"

namespace edgeclr::testing {

struct OpenedModel {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;

  explicit OpenedModel(std::vector<uint8_t> b) : bytes(std::move(b)) {
    auto m = Model::open_buffer(bytes.data(), bytes.size(), "sample");
    REQUIRE_MESSAGE(m.ok(), m.status().message());
    model = std::move(m).value();
  }
};

}  // namespace edgeclr::testing
