#include "cli/cli_encoder.h"

#include "adapt/head_checkpoint.h"

namespace edgeclr::cli {

std::optional<std::string> head_option(const Args& args) {
  const auto it = args.options.find("head");
  if (it == args.options.end()) return std::nullopt;
  return it->second;
}

Result<OpenedEncoder> open_encoder(const std::string& model_path, const std::optional<std::string>& head_path,
                                   const EncoderOptions& options) {
  OpenedEncoder opened;
  auto model = Model::open_file(model_path);
  if (!model.ok()) return model.status();
  opened.model = std::move(model).value();
  std::optional<ProjectionHead> head;
  if (head_path) {
    auto loaded = load_head_checkpoint(*head_path, *opened.model, nullptr);
    if (!loaded.ok()) return loaded.status();
    head = std::move(loaded).value();
  }
  auto encoder = Encoder::create(*opened.model, options);
  if (!encoder.ok()) return encoder.status();
  opened.encoder = std::move(encoder).value();
  if (head) {
    const Status status = opened.encoder->set_head(std::move(*head));
    if (!status.ok()) {
      return error(status.code(), format("failed to use head '%s': %s", head_path->c_str(), status.message().c_str()));
    }
  }
  return opened;
}

}  // namespace edgeclr::cli
