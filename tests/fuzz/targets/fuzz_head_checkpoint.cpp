// Fuzz target: a head checkpoint (.eclh) from bytes, loaded for the sample model, then
// put on an encoder of that model and used once, as an app does after loading one.
// A mutated file that still passes the FlatBuffers verifier gets its checksum (and its
// backbone hash, when the first byte's bit 1 is clear) fixed up, so that the fuzzer
// reaches the head checks behind them.
#include <cstdint>
#include <memory>
#include <vector>

#include "adapt/head_checkpoint.h"
#include "encoder/encoder.h"
#include "model/model_checksum.h"
#include "schema/edgeclr_head_generated.h"
#include "support/sample_models.h"

namespace {

struct Sample {
  std::vector<uint8_t> bytes = edgeclr::testing::sample_fp32_model();
  std::unique_ptr<edgeclr::Model> model = std::move(edgeclr::Model::open_buffer(bytes.data(), bytes.size(), "sample").value());
  std::unique_ptr<edgeclr::Encoder> encoder = std::move(edgeclr::Encoder::create(*model, {}).value());
};

void fix_up(std::vector<uint8_t>* bytes, bool bind_to_model, uint64_t backbone_hash) {
  flatbuffers::Verifier verifier(bytes->data(), bytes->size());
  if (!edgeclr::schema::VerifyHeadCheckpointBuffer(verifier)) return;
  edgeclr::schema::HeadCheckpoint* root = edgeclr::schema::GetMutableHeadCheckpoint(bytes->data());
  if (bind_to_model) {
    root->mutate_backbone_hash(backbone_hash);
    // A mutated file can lay its vtable over the hash's bytes: writing the hash then moves
    // the other fields, so the buffer is verified again before the checksum is touched.
    flatbuffers::Verifier again(bytes->data(), bytes->size());
    if (!edgeclr::schema::VerifyHeadCheckpointBuffer(again)) return;
  }
  const uint8_t* field =
      reinterpret_cast<const flatbuffers::Table*>(root)->GetAddressOf(edgeclr::schema::HeadCheckpoint::VT_CHECKSUM);
  if (field == nullptr) return;
  root->mutate_checksum(edgeclr::compute_file_checksum(bytes->data(), bytes->size(), field, edgeclr::HashKind::kFnv1a64));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Sample* sample = new Sample;  // built once; never freed (the process ends)
  std::vector<uint8_t> bytes(data, data + size);
  if (!bytes.empty() && (bytes[0] & 1) == 0) fix_up(&bytes, (bytes[0] & 2) == 0, sample->model->backbone_hash());
  edgeclr::HeadCheckpointInfo info;
  auto head = edgeclr::load_head_checkpoint_memory(bytes.data(), bytes.size(), "fuzz.eclh", *sample->model, &info);
  if (!head.ok()) return 0;
  if (!sample->encoder->set_head(std::move(head).value()).ok()) return 0;
  std::vector<uint8_t> pixels(16 * 16 * 3, 77);
  const edgeclr::PixelView image{pixels.data(), 16, 16, 16 * 3, edgeclr::PixelFormat::kRGB};
  std::vector<float> embedding(sample->encoder->embedding_dim());
  (void)sample->encoder->encode(&image, 1, nullptr, embedding.data());
  return 0;
}
