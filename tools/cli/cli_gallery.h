// Opening a gallery from the command line: the gallery file records the model's and the
// head's paths (gallery create), so commands need only G.db.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/cli_encoder.h"
#include "gallery/gallery.h"

namespace edgeclr::cli {

struct OpenedGallery {
  OpenedEncoder encoder;             // the gallery's model, with the head it follows
  std::unique_ptr<Gallery> gallery;  // declared after: it refers to the model
};

// `path` made absolute (against the current directory), for recording in a gallery.
std::string absolute_path(const std::string& path);

// The head a gallery should follow: the checkpoint `head_path` (its version, its
// absolute path as the source), or the model's own head (version 0).
Result<GalleryHead> gallery_head(const Model& model, const std::optional<std::string>& head_path);

// Opens gallery `path` with the model it records (or `model_override`) and the head it
// follows, and an encoder with that head and `threads`.
Result<OpenedGallery> open_gallery(const std::string& path, const std::string& model_override, uint32_t threads);

// True when `path` is an SQLite file (its first 16 bytes), i.e. a gallery to search.
bool is_gallery_file(const std::string& path);

struct AddReport {
  size_t added = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // file, why
};

// Embeds `files` and adds them under their paths in batches of 64 (each one
// transaction), with a progress line on stderr. Files that fail to decode are skipped
// and listed in the report; an error adding a batch stops (those before it stay).
Status add_files(OpenedGallery& g, const std::vector<std::string>& files, AddReport* report);

}  // namespace edgeclr::cli
