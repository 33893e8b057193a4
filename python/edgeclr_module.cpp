// The `edgeclr` Python module (its native part, edgeclr._edgeclr): the C++ runtime for
// servers and notebooks, so that they get the device's embeddings bit for bit. Thin:
// every call is one the CLI or the C API makes too (open_encoder, open_gallery,
// add_files, adapt_report), wrapped to take and give NumPy arrays.
//
// Errors: edgeclr.Error (a RuntimeError) with the runtime's one-line message and its
// code as .code; wrong Python types or shapes: TypeError / ValueError.
// Threads: the GIL is released while encoding, searching, adding and adapting; one
// Encoder or Gallery is used by one Python thread at a time (as in C++), several may
// share one Model.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapt/head_checkpoint.h"
#include "cli/cli_encoder.h"
#include "cli/cli_gallery.h"
#include "cli/commands.h"
#include "edgeclr/edgeclr.h"
#include "encoder/encoder.h"
#include "gallery/gallery.h"
#include "model/model.h"
#include "model/model_checksum.h"
#include "model/model_summary.h"

namespace py = pybind11;
using namespace edgeclr;

namespace {

PyObject* g_error = nullptr;  // edgeclr.Error, made at import

const char* code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kInvalidModel: return "invalid_model";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kIoError: return "io_error";
    case StatusCode::kOutOfMemory: return "out_of_memory";
    case StatusCode::kInternal: return "internal";
  }
  return "internal";
}

// Raises edgeclr.Error(message) with .code set.
[[noreturn]] void raise(const Status& status) {
  py::object error = py::reinterpret_borrow<py::object>(g_error)(status.message());
  error.attr("code") = code_name(status.code());
  PyErr_SetObject(g_error, error.ptr());
  throw py::error_already_set();
}

void check(const Status& status) {
  if (!status.ok()) raise(status);
}

template <typename T>
T take(Result<T> result) {
  if (!result.ok()) raise(result.status());
  return std::move(result).value();
}

// A path argument: str, bytes or os.PathLike, as the file system's bytes (os.fsencode),
// so that pathlib.Path works and non-UTF-8 names reach the file.
std::string path_arg(const py::handle& path) {
  return py::bytes(py::module_::import("os").attr("fsencode")(path)).cast<std::string>();
}

std::optional<std::string> optional_path(const py::object& path) {
  if (path.is_none()) return std::nullopt;
  return path_arg(path);
}

std::string hex64(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

// A model file, shared by encoders and galleries (each keeps it alive).
struct PyModel {
  std::string path;
  std::unique_ptr<Model> model;
};

std::shared_ptr<PyModel> open_model(const py::object& path_object) {
  const std::string path = path_arg(path_object);
  auto model = take(Model::open_file(path));
  return std::make_shared<PyModel>(PyModel{path, std::move(model)});
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The input spec with the names and values `edgeclr inspect --json` gives.
py::dict input_spec(const Model& model) {
  const schema::InputSpec& spec = model.input_spec();
  py::dict d;
  d["height"] = spec.height();
  d["width"] = spec.width();
  d["channels"] = spec.channels();
  d["color"] = lower(schema::EnumNameColorSpace(spec.color()));
  d["resize"] = spec.resize() == schema::ResizePolicy_SHORTER_SIDE_CROP ? "crop" : "stretch";  // the CLI's words
  d["resize_shorter_side"] = spec.resize_shorter_side();
  std::vector<float> mean, std_dev;
  if (spec.mean()) mean.assign(spec.mean()->begin(), spec.mean()->end());
  if (spec.std()) std_dev.assign(spec.std()->begin(), spec.std()->end());
  d["mean"] = mean;
  d["std"] = std_dev;
  return d;
}

// Images given to encode(): a uint8 array (H, W, C) or (N, H, W, C) with C 1 (gray),
// 3 (RGB) or 4 (RGBA), or a sequence of file paths.
struct Images {
  py::array_t<uint8_t, py::array::c_style> pixels;  // when an array was given
  std::vector<std::string> files;                  // when paths were given
  uint32_t count = 0, height = 0, width = 0, channels = 0;
};

Images read_images(const py::object& images) {
  Images in;
  if (py::isinstance<py::array>(images)) {
    py::array array = py::reinterpret_borrow<py::array>(images);
    if (array.dtype().kind() != 'u' || array.dtype().itemsize() != 1) {
      throw py::type_error("edgeclr: images must be uint8 (got dtype " + std::string(py::str(array.dtype())) + ")");
    }
    in.pixels = py::array_t<uint8_t, py::array::c_style>::ensure(array);
    const auto ndim = in.pixels.ndim();
    if (ndim != 3 && ndim != 4) throw py::value_error("edgeclr: images must be (H, W, C) or (N, H, W, C)");
    const ssize_t* shape = in.pixels.shape();
    const ssize_t offset = ndim == 4 ? 1 : 0;
    in.count = ndim == 4 ? static_cast<uint32_t>(shape[0]) : 1;
    in.height = static_cast<uint32_t>(shape[offset]);
    in.width = static_cast<uint32_t>(shape[offset + 1]);
    in.channels = static_cast<uint32_t>(shape[offset + 2]);
    if (in.channels != 1 && in.channels != 3 && in.channels != 4) {
      throw py::value_error("edgeclr: images need 1 (gray), 3 (RGB) or 4 (RGBA) channels, not " +
                            std::to_string(in.channels));
    }
    return in;
  }
  if (py::isinstance<py::str>(images)) throw py::type_error("edgeclr: give a list of paths, not one string");
  for (const py::handle item : images) in.files.push_back(path_arg(item));
  in.count = static_cast<uint32_t>(in.files.size());
  return in;
}

PixelView view_of(const Images& in, uint32_t i) {
  const size_t stride = size_t{in.width} * in.channels;
  const PixelFormat format = in.channels == 1 ? PixelFormat::kGray : in.channels == 3 ? PixelFormat::kRGB : PixelFormat::kRGBA;
  return PixelView{in.pixels.data() + size_t{i} * in.height * stride, in.width, in.height, stride, format};
}

// Encodes every image into out (count x dim), the GIL released; per-image calls, so the
// result is the CLI's (embed) bit for bit.
Status encode_into(Encoder& encoder, const Images& in, bool features, float* out) {
  const size_t dim = features ? encoder.feature_dim() : encoder.embedding_dim();
  for (uint32_t i = 0; i < in.count; ++i) {
    float* row = out + i * dim;
    Status s;
    if (in.files.empty()) {
      const PixelView view = view_of(in, i);
      s = encoder.encode(&view, 1, features ? row : nullptr, features ? nullptr : row);
    } else {
      s = encoder.encode_file(in.files[i], features ? row : nullptr, features ? nullptr : row);
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// An encoder is used by one thread at a time (encoder.h); Python threads run it with the
// GIL released, so each Python object serialises its own calls with `busy`.
struct PyEncoder {
  std::shared_ptr<PyModel> model;    // declared first: destroyed after the encoder that refers to it
  std::unique_ptr<Encoder> encoder;
  std::mutex busy;
};

// As open_encoder (cli_encoder.h) does, on the shared model: the head checked first.
std::shared_ptr<PyEncoder> make_encoder(std::shared_ptr<PyModel> model, uint32_t threads, uint32_t batch,
                                        const py::object& head_path) {
  if (!model) throw py::type_error("edgeclr.Encoder: model is None");
  const std::optional<std::string> head = optional_path(head_path);
  std::optional<ProjectionHead> adapted;
  if (head) adapted = take(load_head_checkpoint(*head, *model->model, nullptr));
  auto encoder = take(Encoder::create(*model->model, EncoderOptions{threads, batch}));
  if (adapted) check(encoder->set_head(std::move(*adapted)));
  auto py_encoder = std::make_shared<PyEncoder>();
  py_encoder->model = std::move(model);
  py_encoder->encoder = std::move(encoder);
  return py_encoder;
}

py::array_t<float> encode_with(Encoder& encoder, std::mutex& busy, const py::object& images, bool features) {
  const Images in = read_images(images);
  const size_t dim = features ? encoder.feature_dim() : encoder.embedding_dim();
  py::array_t<float> out({static_cast<py::ssize_t>(in.count), static_cast<py::ssize_t>(dim)});
  float* data = out.mutable_data();
  Status status;
  {
    py::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> one_at_a_time(busy);
    status = encode_into(encoder, in, features, data);
  }
  check(status);
  return out;
}

// A gallery with the encoder of its model and head (cli_gallery.h); `busy` as PyEncoder's.
struct PyGallery {
  cli::OpenedGallery opened;
  std::mutex busy;
};

std::shared_ptr<PyGallery> gallery_open(const py::object& path, const py::object& model_override, uint32_t threads) {
  const std::string model = model_override.is_none() ? std::string() : path_arg(model_override);
  auto gallery = std::make_shared<PyGallery>();
  gallery->opened = take(cli::open_gallery(path_arg(path), model, threads));
  return gallery;
}

std::shared_ptr<PyGallery> gallery_create(const py::object& path, const py::object& model_path,
                                          const py::object& head, uint32_t threads) {
  const std::string model_file = path_arg(model_path);
  {
    auto model = take(Model::open_file(model_file));
    auto gallery_head = take(cli::gallery_head(*model, optional_path(head)));
    take(Gallery::create(path_arg(path), *model, std::move(gallery_head), cli::absolute_path(model_file)));
  }
  return gallery_open(path, py::none(), threads);
}

// Queries (dim,) or (Q, dim) float32 -> a list of (key, score) per query.
std::vector<std::vector<std::pair<std::string, float>>> search(PyGallery& self, const py::array& queries_in,
                                                                size_t k, const std::string& prefix) {
  const auto queries = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(queries_in);
  const Gallery& gallery = *self.opened.gallery;
  const size_t dim = gallery.embedding_dim();
  if (!queries || (queries.ndim() != 1 && queries.ndim() != 2) || queries.shape(queries.ndim() - 1) != static_cast<py::ssize_t>(dim)) {
    throw py::value_error("edgeclr: queries must be (" + std::to_string(dim) + ",) or (Q, " + std::to_string(dim) + ") floats");
  }
  const size_t count = queries.ndim() == 1 ? 1 : static_cast<size_t>(queries.shape(0));
  std::vector<std::vector<std::pair<std::string, float>>> results(count);
  Status status;
  {
    py::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> one_at_a_time(self.busy);
    std::vector<GalleryMatch> matches;
    for (size_t q = 0; q < count && status.ok(); ++q) {
      status = gallery.search(queries.data() + q * dim, k, prefix, &matches);
      for (const GalleryMatch& m : matches) results[q].emplace_back(m.key, m.score);
    }
  }
  check(status);
  return results;
}

py::dict add_files(PyGallery& self, const py::iterable& file_objects) {
  std::vector<std::string> files;
  for (const py::handle f : file_objects) files.push_back(path_arg(f));
  cli::AddReport report;
  Status status;
  {
    py::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> one_at_a_time(self.busy);
    status = cli::add_files(self.opened, files, &report);
  }
  check(status);
  py::dict d;
  d["added"] = report.added;
  d["skipped"] = report.skipped;
  return d;
}

void add_features(PyGallery& self, const std::vector<std::string>& keys, const py::array& features_in) {
  const auto features = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(features_in);
  const Gallery& gallery = *self.opened.gallery;
  if (!features || features.ndim() != 2 || features.shape(0) != static_cast<py::ssize_t>(keys.size()) ||
      features.shape(1) != static_cast<py::ssize_t>(gallery.feature_dim())) {
    throw py::value_error("edgeclr: features must be (len(keys), " + std::to_string(gallery.feature_dim()) + ") floats");
  }
  Status status;
  {
    py::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> one_at_a_time(self.busy);
    status = self.opened.gallery->add_features(keys, features.data());
  }
  check(status);
}

// (embeddings (N, dim) as stored, keys), in row order: what `edgeclr gallery export` writes.
std::pair<py::array_t<float>, std::vector<std::string>> gallery_export(PyGallery& self) {
  std::lock_guard<std::mutex> one_at_a_time(self.busy);  // short: the GIL stays held
  const Gallery& gallery = *self.opened.gallery;
  const std::vector<std::string> keys = gallery.keys();
  const size_t dim = gallery.embedding_dim();
  py::array_t<float> out({static_cast<py::ssize_t>(keys.size()), static_cast<py::ssize_t>(dim)});
  float* data = out.mutable_data();
  std::vector<float> embedding;
  for (size_t i = 0; i < keys.size(); ++i) {
    check(gallery.item(keys[i], nullptr, &embedding));
    std::copy(embedding.begin(), embedding.end(), data + i * dim);
  }
  return {out, keys};
}

void reproject(PyGallery& self, const py::object& head_path) {
  auto head = take(cli::gallery_head(*self.opened.encoder.model, path_arg(head_path)));
  ProjectionHead encoder_head = head.head;  // the gallery's encoder follows it too
  Status status;
  {
    py::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> one_at_a_time(self.busy);
    status = self.opened.gallery->reproject(std::move(head));
    // Same model, same feature width: set_head cannot fail once reproject has accepted the head.
    if (status.ok()) status = self.opened.encoder.encoder->set_head(std::move(encoder_head));
  }
  check(status);
}

py::object adapt(const std::vector<std::string>& args) {
  Result<std::string> report = error(StatusCode::kInternal, "not run");
  {
    py::gil_scoped_release unlocked;
    report = cli::adapt_report(args);
  }
  return py::module_::import("json").attr("loads")(take(std::move(report)));
}

}  // namespace

PYBIND11_MODULE(_edgeclr, m) {
  m.doc() = "edgeclr's C++ runtime (see the edgeclr package for the documented API)";
  g_error = PyErr_NewException("edgeclr.Error", PyExc_RuntimeError, nullptr);
  m.attr("Error") = py::reinterpret_borrow<py::object>(g_error);
  m.attr("__version__") = edgeclr_version();
  m.attr("xnnpack_version") = edgeclr_xnnpack_version();
  m.attr("format_version") = edgeclr_format_version();

  py::class_<PyModel, std::shared_ptr<PyModel>>(m, "Model")
      .def(py::init(&open_model), py::arg("path"))
      .def_readonly("path", &PyModel::path)
      .def_property_readonly("feature_dim", [](const PyModel& s) { return s.model->feature_dim(); })
      .def_property_readonly("embedding_dim", [](const PyModel& s) { return s.model->embedding_dim(); })
      .def_property_readonly("input", [](const PyModel& s) { return input_spec(*s.model); })
      .def_property_readonly("backbone_hash", [](const PyModel& s) { return hex64(s.model->backbone_hash()); })
      .def_property_readonly("checksum", [](const PyModel& s) { return hex64(s.model->root().checksum()); })
      .def_property_readonly("file_size", [](const PyModel& s) { return s.model->file_size(); })
      .def_property_readonly("format_version", [](const PyModel& s) { return s.model->root().format_version(); })
      .def_property_readonly("precision", [](const PyModel& s) { return std::string(summarize(*s.model).precision); })
      .def("__repr__", [](const PyModel& s) {
        return "<edgeclr.Model '" + s.path + "' " + summarize(*s.model).precision + ", feature " +
               std::to_string(s.model->feature_dim()) + ", embedding " + std::to_string(s.model->embedding_dim()) + ">";
      });

  py::class_<PyEncoder, std::shared_ptr<PyEncoder>>(m, "Encoder")
      .def(py::init(&make_encoder), py::arg("model").none(false), py::arg("threads") = 1, py::arg("batch") = 1,
           py::arg("head") = py::none())
      .def("encode", [](PyEncoder& s, const py::object& images, bool features) {
             return encode_with(*s.encoder, s.busy, images, features);
           }, py::arg("images"), py::arg("features") = false)
      .def_property_readonly("model", [](const PyEncoder& s) { return s.model; })
      .def_property_readonly("feature_dim", [](const PyEncoder& s) { return s.encoder->feature_dim(); })
      .def_property_readonly("embedding_dim", [](const PyEncoder& s) { return s.encoder->embedding_dim(); })
      .def_property_readonly("threads", [](const PyEncoder& s) { return s.encoder->threads(); })
      .def_property_readonly("batch", [](const PyEncoder& s) { return s.encoder->batch(); });

  py::class_<PyGallery, std::shared_ptr<PyGallery>>(m, "Gallery")
      .def_static("create", &gallery_create, py::arg("path"), py::arg("model"), py::arg("head") = py::none(),
                  py::arg("threads") = 1)
      .def_static("open", &gallery_open, py::arg("path"), py::arg("model") = py::none(), py::arg("threads") = 1)
      .def("add", &add_files, py::arg("files"))
      .def("add_features", &add_features, py::arg("keys"), py::arg("features"))
      .def("search", &search, py::arg("queries"), py::arg("k") = 10, py::arg("prefix") = "")
      .def("embed", [](PyGallery& s, const py::object& images) {
             return encode_with(*s.opened.encoder.encoder, s.busy, images, false);
           }, py::arg("images"))
      .def("reproject", &reproject, py::arg("head"))
      .def("export", &gallery_export)
      .def("keys", [](const PyGallery& s) { return s.opened.gallery->keys(); })
      .def("__len__", [](const PyGallery& s) { return s.opened.gallery->count(); })
      .def_property_readonly("path", [](const PyGallery& s) { return s.opened.gallery->path(); })
      .def_property_readonly("meta", [](const PyGallery& s) { return s.opened.gallery->meta(); })
      .def_property_readonly("head_version", [](const PyGallery& s) { return s.opened.gallery->head_version(); })
      .def_property_readonly("feature_dim", [](const PyGallery& s) { return s.opened.gallery->feature_dim(); })
      .def_property_readonly("embedding_dim", [](const PyGallery& s) { return s.opened.gallery->embedding_dim(); });

  m.def("adapt", &adapt, py::arg("args"));
}
