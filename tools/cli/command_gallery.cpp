// edgeclr gallery create|add|remove|info|reproject|export G.db ...: a persistent gallery
// (runtime/src/gallery/) from the command line.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "cli/cli_gallery.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/npy_writer.h"
#include "core/atomic_file.h"
#include "core/output_path.h"
#include "dataset/image_set.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr gallery create G.db --model MODEL [--head HEAD]\n"
    "       edgeclr gallery add G.db IMAGE|DIR... [--model MODEL] [--threads N]\n"
    "       edgeclr gallery remove G.db KEY... [--model MODEL]\n"
    "       edgeclr gallery info G.db [--model MODEL] [--json]\n"
    "       edgeclr gallery reproject G.db --head HEAD [--model MODEL]\n"
    "       edgeclr gallery export G.db --npy FILE --keys FILE [--model MODEL]\n\n"
    "A gallery is one SQLite file of items under keys, each with its backbone feature\n"
    "(half floats) and its embedding, bound to MODEL's backbone and to the head it\n"
    "follows (HEAD's version, or MODEL's own head). Search it with\n"
    "`edgeclr search G.db IMAGE...`. Every add batch and every re-projection is one\n"
    "transaction: a crash leaves the gallery as it was before or after.\n\n"
    "  create     a new, empty gallery (G.db must not exist); records MODEL's and HEAD's\n"
    "             absolute paths so the other commands find them\n"
    "  add        embeds each IMAGE, and every image under each DIR (recursively), and adds\n"
    "             it under its path as the key; files that cannot be decoded are listed\n"
    "             and skipped, the rest are added (in batches of 64, each one transaction)\n"
    "  remove     removes the items of these keys (all must exist), in one transaction\n"
    "  info       the model, head, dimensions and item count\n"
    "  reproject  recomputes every embedding with HEAD (a checkpoint of `edgeclr adapt` for\n"
    "             this backbone) from the stored features, without running the backbone,\n"
    "             and makes the gallery follow HEAD\n"
    "  export     the embeddings as .npy (items x dim, float32) and the keys, one per line,\n"
    "             in the same order: for FAISS, Milvus and other vector engines (a key\n"
    "             with a newline is refused)\n\n"
    "options:\n"
    "  --model MODEL  the model (create; for the others, instead of the recorded path)\n"
    "  --head HEAD    a head checkpoint (.eclh) for create and reproject\n"
    "  --threads N    backbone threads for add (default 1)\n"
    "  --json         info as JSON\n";

// --model, for galleries whose recorded model moved (or that the C API made: it records none).
std::string model_override(Args& args) { return args.options.count("model") ? args.options["model"] : ""; }

int create(Args& args) {
  if (!args.options.count("model")) return usage_error("gallery", "create needs --model MODEL");
  const std::string& path = args.positional[1];
  auto model = Model::open_file(args.options["model"]);
  if (!model.ok()) return fail(model.status().message());
  auto head = gallery_head(*model.value(), head_option(args));
  if (!head.ok()) return fail(head.status().message());
  auto g = Gallery::create(path, *model.value(), std::move(head).value(), absolute_path(args.options["model"]));
  if (!g.ok()) return fail(g.status().message());
  std::printf("created %s (feature %u, embedding %u, head version %llu)\n", path.c_str(), g.value()->feature_dim(),
              g.value()->embedding_dim(), static_cast<unsigned long long>(g.value()->head_version()));
  return kExitOk;
}

// Files of IMAGE and DIR arguments: a folder's images (recursively), or the file itself.
Result<std::vector<std::string>> files_of(const std::vector<std::string>& items, uint32_t channels) {
  std::vector<std::string> files;
  for (const std::string& item : items) {
    struct stat st;
    if (::stat(item.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      files.push_back(item);  // an image file; one that does not decode is reported as skipped
      continue;
    }
    auto set = dataset::ImageSet::open(item, channels);
    if (!set.ok()) return set.status();
    if (!set->from_files()) return error(StatusCode::kInvalidArgument, format("'%s' is not an image or a folder", item.c_str()));
    for (size_t i = 0; i < set->size(); ++i) files.push_back(set->name(i));
  }
  return files;
}

int add(Args& args) {
  uint32_t threads = 1;
  std::string error;
  if (!option_uint(args, "threads", 1, 1, 64, &threads, &error)) return usage_error("gallery", error);
  if (args.positional.size() < 3) return usage_error("gallery", "add needs G.db and at least one IMAGE or DIR");
  auto opened = open_gallery(args.positional[1], model_override(args), threads);
  if (!opened.ok()) return fail(opened.status().message());
  auto files = files_of({args.positional.begin() + 2, args.positional.end()},
                        opened->encoder.model->input_spec().channels());
  if (!files.ok()) return fail(files.status().message());
  // Room for the items (checked before encoding them): each is a half-float feature and
  // a float embedding, written twice (the WAL, then the file), plus SQLite's overhead.
  const Gallery& gallery = *opened->gallery;
  const uint64_t item_bytes = 2 * (uint64_t{gallery.feature_dim()} * 2 + uint64_t{gallery.embedding_dim()} * 4 + 512);
  const Status room = check_output_path(gallery.path(), item_bytes * files->size());
  if (!room.ok()) return fail(room.message());
  AddReport report;
  const Status added = add_files(*opened, files.value(), &report);
  for (const auto& [file, why] : report.skipped) std::fprintf(stderr, "skipped %s: %s\n", file.c_str(), why.c_str());
  if (!added.ok()) return fail(added.message());
  std::printf("added %zu of %zu images to %s (%zu items)\n", report.added, files->size(), args.positional[1].c_str(),
              opened->gallery->count());
  return report.skipped.empty() ? kExitOk : kExitUserError;
}

int remove(Args& args) {
  if (args.positional.size() < 3) return usage_error("gallery", "remove needs G.db and at least one KEY");
  auto opened = open_gallery(args.positional[1], model_override(args), 1);
  if (!opened.ok()) return fail(opened.status().message());
  const Status removed = opened->gallery->remove({args.positional.begin() + 2, args.positional.end()});
  if (!removed.ok()) return fail(removed.message());
  std::printf("removed %zu items from %s (%zu left)\n", args.positional.size() - 2, args.positional[1].c_str(),
              opened->gallery->count());
  return kExitOk;
}

int info(Args& args) {
  const std::string& path = args.positional[1];
  auto opened = open_gallery(path, model_override(args), 1);  // also checks that model and head still match
  if (!opened.ok()) return fail(opened.status().message());
  const std::map<std::string, std::string> meta = opened->gallery->meta();
  if (args.has("json")) {
    JsonWriter j;
    j.begin_object().key("gallery").value(path).key("items").value(uint64_t{opened->gallery->count()});
    for (const auto& [k, v] : meta) j.key(k).value(v);
    std::printf("%s\n", j.end_object().str().c_str());
    return kExitOk;
  }
  std::printf("%-16s %s\n%-16s %zu\n", "gallery", path.c_str(), "items", opened->gallery->count());
  for (const auto& [k, v] : meta) std::printf("%-16s %s\n", k.c_str(), v.c_str());
  return kExitOk;
}

int reproject(Args& args) {
  if (!head_option(args)) return usage_error("gallery", "reproject needs --head HEAD");
  auto opened = open_gallery(args.positional[1], model_override(args), 1);
  if (!opened.ok()) return fail(opened.status().message());
  auto head = gallery_head(*opened->encoder.model, head_option(args));
  if (!head.ok()) return fail(head.status().message());
  const uint64_t from = opened->gallery->head_version();
  const Status done = opened->gallery->reproject(std::move(head).value());
  if (!done.ok()) return fail(done.message());
  std::printf("re-projected %zu items of %s: head version %llu -> %llu\n", opened->gallery->count(),
              args.positional[1].c_str(), static_cast<unsigned long long>(from),
              static_cast<unsigned long long>(opened->gallery->head_version()));
  return kExitOk;
}

int export_embeddings(Args& args) {
  if (!args.options.count("npy") || !args.options.count("keys")) return usage_error("gallery", "export needs --npy and --keys");
  auto opened = open_gallery(args.positional[1], model_override(args), 1);
  if (!opened.ok()) return fail(opened.status().message());
  const std::vector<std::string> keys = opened->gallery->keys();
  const uint32_t dim = opened->gallery->embedding_dim();
  std::vector<float> all(keys.size() * dim), embedding;
  std::string lines;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].find('\n') != std::string::npos) return fail("the key '" + keys[i] + "' has a newline; the keys file cannot hold it");
    const Status read = opened->gallery->item(keys[i], nullptr, &embedding);
    if (!read.ok()) return fail(read.message());
    std::copy(embedding.begin(), embedding.end(), all.begin() + i * dim);
    lines += keys[i] + "\n";
  }
  const Status npy = write_npy(args.options["npy"], all, static_cast<uint32_t>(keys.size()), dim);
  if (!npy.ok()) return fail(npy.message());
  const Status written = write_file_atomically(args.options["keys"], lines.data(), lines.size());
  if (!written.ok()) return fail(written.message());
  std::printf("exported %zu embeddings of %u floats to %s, keys to %s\n", keys.size(), dim, args.options["npy"].c_str(),
              args.options["keys"].c_str());
  return kExitOk;
}

}  // namespace

int run_gallery(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json"}, {"model", "head", "threads", "npy", "keys"}, &args, &error)) {
    return usage_error("gallery", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  if (args.positional.size() < 2) return usage_error("gallery", "expected a subcommand and G.db");
  const std::string& sub = args.positional[0];
  if (sub == "create") return create(args);
  if (sub == "add") return add(args);
  if (sub == "remove") return remove(args);
  if (sub == "info") return info(args);
  if (sub == "reproject") return reproject(args);
  if (sub == "export") return export_embeddings(args);
  return usage_error("gallery", "unknown subcommand '" + sub + "' (create, add, remove, info, reproject, export)");
}

}  // namespace edgeclr::cli
