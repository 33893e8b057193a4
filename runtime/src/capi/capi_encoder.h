// The C handle behind edgeclr_encoder, shared by the C API files.
#pragma once

#include <memory>

#include "encoder/encoder.h"

struct edgeclr_encoder {
  std::unique_ptr<edgeclr::Encoder> impl;
};
