// Fuzz target: an .eclr model from bytes, as Model::open_buffer gets it from an app,
// then what an app does next with a model that verified: summarize it (inspect), build
// an encoder (the XNNPACK graph) and encode one image.
//
// The whole-file checksum would stop nearly every mutation at the door, so a mutated file
// that still passes the FlatBuffers verifier gets its checksum recomputed first: the
// fuzzer then reaches every check behind it. (A wrong checksum's refusal is unit-tested.)
#include <cstdint>
#include <vector>

#include "core/content_hash.h"
#include "encoder/encoder.h"
#include "model/model.h"
#include "model/model_checksum.h"
#include "model/model_summary.h"
#include "schema/edgeclr_generated.h"

namespace {

void fix_checksum(std::vector<uint8_t>* bytes) {
  flatbuffers::Verifier verifier(bytes->data(), bytes->size());
  if (!edgeclr::schema::VerifyModelBuffer(verifier)) return;
  edgeclr::schema::Model* root = edgeclr::schema::GetMutableModel(bytes->data());
  const uint8_t* field = edgeclr::checksum_field(*root);
  if (field == nullptr) return;
  root->mutate_checksum(edgeclr::compute_file_checksum(bytes->data(), bytes->size(), field,
                                                       edgeclr::hash_kind_for_format(root->format_version())));
}

// Small enough to run once per input: fuzzing looks for crashes, not for speed.
bool small_enough_to_run(const edgeclr::Model& model) {
  uint64_t elements = 0;
  for (const edgeclr::TensorInfo& t : model.tensors()) elements += t.elements;
  const auto& spec = model.input_spec();
  return elements <= (1u << 20) && spec.height() * spec.width() <= 64 * 64;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (!bytes.empty() && (bytes[0] & 1) == 0) fix_checksum(&bytes);  // odd first bytes keep the file's own
  auto model = edgeclr::Model::open_buffer(bytes.data(), bytes.size(), "fuzz.eclr");
  if (!model.ok()) return 0;
  (void)edgeclr::summarize(**model);
  if (!small_enough_to_run(**model)) return 0;
  auto encoder = edgeclr::Encoder::create(**model, edgeclr::EncoderOptions{});
  if (!encoder.ok()) return 0;
  const auto& spec = (*model)->input_spec();
  std::vector<uint8_t> pixels(size_t{spec.height()} * spec.width() * 3, 128);
  const edgeclr::PixelView image{pixels.data(), spec.width(), spec.height(), size_t{spec.width()} * 3,
                                 edgeclr::PixelFormat::kRGB};
  std::vector<float> feature((*encoder)->feature_dim()), embedding((*encoder)->embedding_dim());
  (void)(*encoder)->encode(&image, 1, feature.data(), embedding.data());
  return 0;
}
