// A model and a one-thread encoder of the reference model through the C API, closed on
// scope exit: what the C API tests start from.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "edgeclr/edgeclr.h"

namespace edgeclr::testing {

struct CapiHandles {
  edgeclr_model* model = nullptr;
  edgeclr_encoder* encoder = nullptr;
  explicit CapiHandles(const std::string& model_path) {
    REQUIRE(edgeclr_model_open(model_path.c_str(), &model) == EDGECLR_OK);
    REQUIRE(edgeclr_encoder_create(model, 1, 1, &encoder) == EDGECLR_OK);
  }
  ~CapiHandles() {
    edgeclr_encoder_destroy(encoder);
    edgeclr_model_close(model);
  }
};

}  // namespace edgeclr::testing
