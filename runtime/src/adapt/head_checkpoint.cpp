#include "adapt/head_checkpoint.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "core/atomic_file.h"
#include "core/output_path.h"
#include "model/model_checksum.h"
#include "model/model_verify.h"
#include "schema/edgeclr_head_generated.h"

namespace edgeclr {
namespace {

const uint8_t* checkpoint_checksum_field(const schema::HeadCheckpoint& root) {
  return reinterpret_cast<const flatbuffers::Table&>(root).GetAddressOf(schema::HeadCheckpoint::VT_CHECKSUM);
}

// Removes PATH.tmp.* and PATH.prev.tmp.*: temp files of saves that a crash or a kill
// interrupted (write_file_atomically names them so). Each is a whole checkpoint, and on
// a device nothing else would ever delete them.
void remove_stale_temp_files(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    for (const std::string& prefix : {base + ".tmp.", base + ".prev.tmp."}) {
      if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
        ::unlink((dir + "/" + name).c_str());
      }
    }
  }
  ::closedir(d);
}

Status load_error(const std::string& path, const std::string& why, StatusCode code = StatusCode::kInvalidModel) {
  return error(code, format("failed to load head '%s': %s", path.c_str(), why.c_str()));
}

std::vector<uint8_t> serialize(const ProjectionHead& head, const HeadCheckpointInfo& info) {
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  fbb.ForceDefaults(true);  // the checksum field must exist to be patched
  std::vector<flatbuffers::Offset<schema::DenseLayer>> layers;
  for (const DenseLayer& l : head.layers()) {
    layers.push_back(schema::CreateDenseLayerDirect(fbb, l.in_dim, l.out_dim, &l.weight, &l.bias, l.activation));
  }
  const auto head_table = schema::CreateHeadDirect(fbb, &layers, head.embedding_dim(), head.l2_normalize());
  std::vector<flatbuffers::Offset<schema::Metric>> metrics;
  for (const auto& [name, value] : info.metrics) metrics.push_back(schema::CreateMetricDirect(fbb, name.c_str(), value));
  const auto root = schema::CreateHeadCheckpointDirect(fbb, kHeadFormatVersion, info.backbone_hash, info.version,
                                                       head_table, &metrics, 0);
  schema::FinishHeadCheckpointBuffer(fbb, root);
  std::vector<uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  schema::HeadCheckpoint* mutable_root = schema::GetMutableHeadCheckpoint(bytes.data());
  mutable_root->mutate_checksum(
      compute_file_checksum(bytes.data(), bytes.size(), checkpoint_checksum_field(*mutable_root), HashKind::kFnv1a64));
  return bytes;
}

bool read_file(const std::string& path, std::vector<uint8_t>* out, std::string* why) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *why = "no such file";
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxHeadCheckpointBytes) {
    *why = format("file has %lld bytes, the limit is %zu", static_cast<long long>(st.st_size), kMaxHeadCheckpointBytes);
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  out->assign(std::istreambuf_iterator<char>(in), {});
  return true;
}

}  // namespace

Status check_head_checkpoint_path(const std::string& path, const ProjectionHead& head) {
  uint64_t floats = 0;
  for (const DenseLayer& l : head.layers()) floats += l.weight.size() + l.bias.size();
  constexpr uint64_t kOverhead = 4096;  // tables, metrics, alignment
  struct stat st;
  const uint64_t previous = ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return check_output_path(path, floats * sizeof(float) + kOverhead + previous);
}

Status save_head_checkpoint(const std::string& path, const ProjectionHead& head, const HeadCheckpointInfo& info) {
  const std::vector<uint8_t> bytes = serialize(head, info);
  remove_stale_temp_files(path);
  std::vector<uint8_t> previous;
  std::string why;
  if (read_file(path, &previous, &why)) {
    // Keep the current checkpoint for rollback first: whatever happens next, PATH holds
    // the old or the new version.
    EDGECLR_RETURN_IF_ERROR(write_file_atomically(path + ".prev", previous.data(), previous.size()));
  }
  return write_file_atomically(path, bytes.data(), bytes.size());
}

Result<ProjectionHead> load_head_checkpoint(const std::string& path, const Model& model, HeadCheckpointInfo* info) {
  std::vector<uint8_t> bytes;
  std::string why;
  if (!read_file(path, &bytes, &why)) return load_error(path, why, StatusCode::kIoError);
  return load_head_checkpoint_memory(bytes.data(), bytes.size(), path, model, info);
}

Result<ProjectionHead> load_head_checkpoint_memory(const uint8_t* data, size_t size, const std::string& path,
                                                   const Model& model, HeadCheckpointInfo* info) {
  if (size > kMaxHeadCheckpointBytes) {
    return load_error(path, format("%zu bytes, the limit is %zu", size, kMaxHeadCheckpointBytes));
  }
  if (size < 8 || !schema::HeadCheckpointBufferHasIdentifier(data)) {
    return load_error(path, "not an edgeclr head checkpoint (file identifier is not 'ECLH')");
  }
  flatbuffers::Verifier verifier(data, size);
  if (!schema::VerifyHeadCheckpointBuffer(verifier)) return load_error(path, "corrupt file: FlatBuffers verification failed");
  const schema::HeadCheckpoint& root = *schema::GetHeadCheckpoint(data);
  if (root.format_version() == 0 || root.format_version() > kHeadFormatVersion) {
    return load_error(path, format("format version %u, this build reads 1 to %u", root.format_version(), kHeadFormatVersion),
                      StatusCode::kUnsupported);
  }
  const uint8_t* field = checkpoint_checksum_field(root);
  if (field == nullptr || compute_file_checksum(data, size, field, HashKind::kFnv1a64) != root.checksum()) {
    return load_error(path, "checksum mismatch (corrupt or edited)");
  }
  if (root.backbone_hash() != model.backbone_hash()) {
    return load_error(path, format("trained on backbone %016llx, but '%s' has backbone %016llx",
                                   static_cast<unsigned long long>(root.backbone_hash()), model.name().c_str(),
                                   static_cast<unsigned long long>(model.backbone_hash())));
  }
  if (root.head() == nullptr) return load_error(path, "no head");
  uint32_t embedding_dim = 0;
  const Status head_ok = check_head(*root.head(), model.feature_dim(), &embedding_dim);
  if (!head_ok.ok()) return load_error(path, head_ok.message());
  if (info != nullptr) {
    info->backbone_hash = root.backbone_hash();
    info->version = root.version();
    info->metrics.clear();
    if (root.metrics()) {
      for (const schema::Metric* m : *root.metrics()) info->metrics[m->name() ? m->name()->str() : ""] = m->value();
    }
  }
  return ProjectionHead::from_schema(*root.head(), model.feature_dim());
}

}  // namespace edgeclr
