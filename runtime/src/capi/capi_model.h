// The C handle behind edgeclr_model, shared by the C API files.
#pragma once

#include <memory>

#include "model/model.h"

struct edgeclr_model {
  std::unique_ptr<edgeclr::Model> impl;
};
