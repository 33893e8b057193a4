// Head checkpoints (.eclh): a head adapted on the device, bound to the backbone hash of
// the model it was trained for, with a version counter, the validation metrics it was
// accepted on and a whole-file checksum. Saving is crash-safe (temp file, fsync,
// rename) and keeps the previous checkpoint as PATH.prev for rollback.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/status.h"
#include "head/projection_head.h"
#include "model/model.h"

namespace edgeclr {

inline constexpr uint32_t kHeadFormatVersion = 1;
inline constexpr size_t kMaxHeadCheckpointBytes = size_t{64} << 20;

struct HeadCheckpointInfo {
  uint64_t backbone_hash = 0;
  uint64_t version = 0;
  std::map<std::string, double> metrics;
};

// Writes `head` to `path` atomically; an existing file there is first kept as PATH.prev.
// Temp files that interrupted saves left beside PATH are removed first, so one process
// at a time may save to a given PATH.
Status save_head_checkpoint(const std::string& path, const ProjectionHead& head, const HeadCheckpointInfo& info);

// Checks, before the work that produces it, that a checkpoint of `head` can be saved at
// `path`: the folder exists and is writable, and has room for the checkpoint and the
// .prev copy of the one it replaces (core/output_path.h; its errors).
Status check_head_checkpoint_path(const std::string& path, const ProjectionHead& head);

// Reads and verifies a checkpoint for `model`: identifier, structure, checksum, format
// version, backbone hash equal to the model's, head dimensions chaining from the
// model's feature. Errors read "failed to load head '<path>': <why>".
Result<ProjectionHead> load_head_checkpoint(const std::string& path, const Model& model, HeadCheckpointInfo* info);

// As above, for the bytes of a checkpoint in data[0, size) (not kept); `path` stands
// for the file in errors.
Result<ProjectionHead> load_head_checkpoint_memory(const uint8_t* data, size_t size, const std::string& path,
                                                   const Model& model, HeadCheckpointInfo* info);

}  // namespace edgeclr
