// edgeclr bench-search: the gallery search's speed and recall on synthetic embeddings,
// against FAISS in the same run; with --model, the time to add and re-project items.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/cli_gallery.h"
#include "cli/commands.h"
#include "cli/faiss_peer.h"
#include "cli/json_writer.h"
#include "cli/peak_rss.h"
#include "gallery/gallery.h"

namespace edgeclr::cli {
namespace {

constexpr const char* kHelp =
    "usage: edgeclr bench-search [--items N] [--dim D] [--int8] [--hnsw] [--threads T] [--k K]\n"
    "                            [--queries Q] [--rounds R] [--clusters C] [--model MODEL] [--json]\n\n"
    "Times gallery search on N synthetic unit embeddings of D values: C clusters (Gaussian\n"
    "centres, members = centre + 0.75 x Gaussian noise per value, so two members of a\n"
    "cluster have a cosine near 0.64; --clusters 0: directions uniform on the sphere, the\n"
    "hardest case for a graph), queried by Q fresh members, one query at a time on one\n"
    "thread, k best each. Each method runs Q queries per round, the methods\n"
    "interleaved, R rounds; the figure is the median over rounds of each round's median\n"
    "query time. FAISS (IndexFlatIP; IndexHNSWFlat with --hnsw, the same M, efConstruction\n"
    "and efSearch), when the CLI was built with it, runs on the same vectors in the same\n"
    "rounds. Recall@k is against edgeclr's exact search.\n\n"
    "options:\n"
    "  --items N    gallery size (default 100000, at most 16777216)\n"
    "  --dim D      embedding values (default 128)\n"
    "  --int8       also time the int8 scan with fp32 rescoring\n"
    "  --hnsw       also build and time HNSW (M 16, efConstruction 100, efSearch 64)\n"
    "  --threads T  threads that build FAISS's HNSW graph (default 1); edgeclr's is built on\n"
    "               one (hnswlib 0.6.2 cannot insert from several without a data race);\n"
    "               searches use one\n"
    "  --k K        neighbours per query (default 10)\n"
    "  --queries Q  queries per round (default 200)\n"
    "  --rounds R   rounds (default 3)\n"
    "  --clusters C clusters of the data (default N/100, at least 1; 0: none)\n"
    "  --model M    also time a gallery of M (in a folder under $TMPDIR or /tmp): adding\n"
    "               10,000 items by feature in one transaction, and re-projecting N items\n"
    "  --json       one JSON object on stdout: items, dim, k, queries, rounds, clusters,\n"
    "               faiss (version or \"\"), methods [{name, p50_us, recall, build_s}],\n"
    "               add_10k_s, reproject_s (-1 without --model), peak_rss_mb\n";

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Settings {
  uint32_t items = 100000, dim = 128, k = 10, queries = 200, rounds = 3, threads = 1, clusters = 0;
  bool int8 = false, hnsw = false;
};

// `count` unit vectors around `centres` (rows of dim values), as the help describes; with
// no centres, Gaussian directions.
std::vector<float> cluster_members(const std::vector<float>& centres, uint32_t dim, size_t count, std::mt19937* rng) {
  const std::vector<float> origin(dim, 0.0f);
  const bool none = centres.empty();
  const size_t clusters = none ? 1 : centres.size() / dim;
  std::normal_distribution<float> noise(0.0f, 0.75f);
  std::vector<float> out(count * dim);
  for (size_t i = 0; i < count; ++i) {
    const float* c = none ? origin.data() : centres.data() + ((*rng)() % clusters) * dim;
    double norm = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      out[i * dim + j] = c[j] + noise(*rng);
      norm += double{out[i * dim + j]} * out[i * dim + j];
    }
    const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (uint32_t j = 0; j < dim; ++j) out[i * dim + j] *= inv;
  }
  return out;
}

// One timed method: runs a query and returns the rows it found.
struct Method {
  std::string name;
  std::function<void(const float* query, std::vector<int64_t>* rows)> search;
  double build_s = 0;
  std::vector<double> round_medians_us;
  double recall = -1;  // against exact; -1 for exact itself
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Each method's Q queries per round, methods interleaved, `rounds` times.
void time_methods(const Settings& s, const std::vector<float>& queries, std::vector<Method>* methods) {
  std::vector<int64_t> rows;
  for (uint32_t round = 0; round < s.rounds; ++round) {
    for (Method& m : *methods) {
      std::vector<double> us;
      for (uint32_t q = 0; q < s.queries; ++q) {
        const auto start = Clock::now();
        m.search(queries.data() + size_t{q} * s.dim, &rows);
        us.push_back(seconds_since(start) * 1e6);
      }
      m.round_medians_us.push_back(median(us));
    }
  }
}

// Mean over queries of |found ∩ exact| / k.
void measure_recall(const Settings& s, const std::vector<float>& queries, std::vector<Method>* methods) {
  std::vector<std::set<int64_t>> truth(s.queries);
  std::vector<int64_t> rows;
  for (uint32_t q = 0; q < s.queries; ++q) {
    methods->front().search(queries.data() + size_t{q} * s.dim, &rows);
    truth[q].insert(rows.begin(), rows.end());
  }
  for (size_t i = 1; i < methods->size(); ++i) {
    double found = 0;
    for (uint32_t q = 0; q < s.queries; ++q) {
      (*methods)[i].search(queries.data() + size_t{q} * s.dim, &rows);
      for (int64_t r : rows) found += static_cast<double>(truth[q].count(r));
    }
    (*methods)[i].recall = found / (static_cast<double>(s.queries) * s.k);
  }
}

Method ours(const std::string& name, const GalleryIndex& index, SearchMethod method, uint32_t k) {
  auto scratch = std::make_shared<SearchScratch>();
  auto hits = std::make_shared<std::vector<SearchHit>>();
  Method m;
  m.name = name;
  m.search = [&index, method, k, scratch, hits](const float* q, std::vector<int64_t>* rows) {
    index.search(q, k, method, nullptr, scratch.get(), hits.get());
    rows->clear();
    for (const SearchHit& h : *hits) rows->push_back(h.row);
  };
  return m;
}

Method peer(const std::string& name, std::shared_ptr<PeerIndex> index, uint32_t k, double build_s) {
  auto scores = std::make_shared<std::vector<float>>(k);
  Method m;
  m.name = name;
  m.search = [index, k, scores](const float* q, std::vector<int64_t>* rows) {
    rows->resize(k);
    index->search(q, k, rows->data(), scores->data());
    rows->erase(std::remove(rows->begin(), rows->end(), -1), rows->end());
  };
  m.build_s = build_s;
  return m;
}

IndexOptions hnsw_options() {
  IndexOptions o;
  o.hnsw = true;
  return o;
}

// The methods to time, exact first (the recall reference); builds the indexes.
std::vector<Method> build_methods(const Settings& s, GalleryIndex* index) {
  std::vector<Method> methods{ours("edgeclr exact fp32", *index, SearchMethod::kExact, s.k)};
  const bool faiss = !faiss_version().empty();
  auto start = Clock::now();
  if (faiss) methods.push_back(peer("FAISS IndexFlatIP", faiss_flat_ip(index->row(0), index->size(), s.dim), s.k, seconds_since(start)));
  IndexOptions options;
  options.int8 = s.int8;
  options.hnsw = s.hnsw;
  start = Clock::now();
  index->configure(options, s.threads);
  const double build_s = seconds_since(start);
  if (s.int8) methods.push_back(ours("edgeclr int8 + rescoring", *index, SearchMethod::kInt8, s.k));
  if (s.hnsw) {
    methods.push_back(ours("edgeclr HNSW (hnswlib)", *index, SearchMethod::kHnsw, s.k));
    methods.back().build_s = build_s;
    if (faiss) {
      const IndexOptions h = hnsw_options();
      start = Clock::now();
      std::shared_ptr<PeerIndex> graph = faiss_hnsw(index->row(0), index->size(), s.dim, h.hnsw_m, h.hnsw_ef_construction,
                                                    h.hnsw_ef_search, s.threads);
      methods.push_back(peer("FAISS IndexHNSWFlat", graph, s.k, seconds_since(start)));
    }
  }
  return methods;
}

struct GalleryTimes {
  double add_10k_s = -1, reproject_s = -1;
  size_t reprojected = 0;
};

// A gallery of `model_path` in a temporary folder ($TMPDIR, else /tmp): 10,000 items
// added by feature in one transaction (timed), filled to `items`, then re-projected with
// the same head (timed).
Status time_gallery(const std::string& model_path, uint32_t items, GalleryTimes* out) {
  auto model = Model::open_file(model_path);
  if (!model.ok()) return model.status();
  const char* tmp = std::getenv("TMPDIR");
  std::string folder = std::string(tmp && *tmp ? tmp : "/tmp") + "/edgeclr-bench-search-XXXXXX";
  if (!mkdtemp(&folder[0])) {
    return error(StatusCode::kIoError, format("bench-search: cannot make a temporary folder '%s'", folder.c_str()));
  }
  const std::string path = std::string(folder) + "/g.db";
  Status status = Status::Ok();
  {
    auto head = gallery_head(*model.value(), std::nullopt);
    auto gallery = Gallery::create(path, *model.value(), std::move(head).value(), model_path);
    if (!gallery.ok()) return gallery.status();
    const uint32_t fdim = model.value()->feature_dim();
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> value(0.0f, 2.0f);  // post-ReLU-like features
    std::vector<float> features(size_t{10000} * fdim);
    for (float& f : features) f = value(rng);
    for (size_t first = 0; first < items && status.ok(); first += 10000) {
      const size_t n = std::min<size_t>(10000, items - first);
      std::vector<std::string> keys;
      for (size_t i = first; i < first + n; ++i) keys.push_back("item/" + std::to_string(i));
      const auto start = Clock::now();
      status = gallery.value()->add_features(keys, features.data());
      if (first == 0 && n == 10000) out->add_10k_s = seconds_since(start);
    }
    if (status.ok()) {
      auto same = gallery_head(*model.value(), std::nullopt);
      const auto start = Clock::now();
      status = gallery.value()->reproject(std::move(same).value());
      out->reproject_s = seconds_since(start);
      out->reprojected = gallery.value()->count();
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  rmdir(folder.c_str());
  return status;
}

void print_text(const Settings& s, const std::vector<Method>& methods, const GalleryTimes& g) {
  std::printf("bench-search: %u items x %u dims (%s), k %u, %u queries x %u rounds, 1 search thread\n", s.items, s.dim,
              s.clusters ? format("%u clusters", s.clusters).c_str() : "uniform directions", s.k, s.queries, s.rounds);
  std::printf("FAISS: %s\n", faiss_version().empty() ? "not built in (install libfaiss-dev and rebuild)" : faiss_version().c_str());
  const double exact_us = median(methods.front().round_medians_us);
  std::printf("%-28s %12s %14s %10s %10s\n", "method", "p50 us", "vs our exact", "recall@k", "build s");
  for (const Method& m : methods) {
    const double us = median(m.round_medians_us);
    std::printf("%-28s %12.1f %13.2fx %10s %10.2f\n", m.name.c_str(), us, exact_us / us,
                m.recall < 0 ? "-" : format("%.4f", m.recall).c_str(), m.build_s);
  }
  if (g.add_10k_s >= 0) std::printf("gallery: add 10,000 by feature %.3f s\n", g.add_10k_s);
  if (g.reproject_s >= 0) std::printf("gallery: re-project %zu items %.3f s\n", g.reprojected, g.reproject_s);
  std::printf("peak RSS %.0f MB\n", peak_rss_mb());
}

void print_json(const Settings& s, const std::vector<Method>& methods, const GalleryTimes& g) {
  JsonWriter j;
  j.begin_object().key("items").value(uint64_t{s.items}).key("dim").value(uint64_t{s.dim}).key("k").value(uint64_t{s.k});
  j.key("queries").value(uint64_t{s.queries}).key("rounds").value(uint64_t{s.rounds}).key("clusters").value(s.clusters);
  j.key("faiss").value(faiss_version()).key("methods").begin_array();
  for (const Method& m : methods) {
    j.begin_object().key("name").value(m.name).key("p50_us").value(median(m.round_medians_us));
    j.key("recall").value(m.recall < 0 ? 1.0 : m.recall).key("build_s").value(m.build_s).end_object();
  }
  j.end_array().key("add_10k_s").value(g.add_10k_s).key("reproject_s").value(g.reproject_s);
  j.key("peak_rss_mb").value(peak_rss_mb()).end_object();
  std::printf("%s\n", j.str().c_str());
}

bool parse_settings(const Args& args, Settings* s, std::string* error) {
  s->int8 = args.has("int8");
  s->hnsw = args.has("hnsw");
  return option_uint(args, "items", 100000, 1, static_cast<uint32_t>(kMaxGalleryItems), &s->items, error) &&
         option_uint(args, "dim", 128, 1, 4096, &s->dim, error) && option_uint(args, "k", 10, 1, 1000, &s->k, error) &&
         option_uint(args, "queries", 200, 1, 100000, &s->queries, error) &&
         option_uint(args, "rounds", 3, 1, 100, &s->rounds, error) &&
         option_uint(args, "threads", 1, 1, 64, &s->threads, error) &&
         option_uint(args, "clusters", std::max<uint32_t>(s->items / 100, 1), 0, s->items, &s->clusters, error);
}

}  // namespace

int run_bench_search(int argc, char** argv) {
  Args args;
  std::string error;
  if (!parse_args(argc, argv, {"json", "int8", "hnsw"}, {"items", "dim", "k", "queries", "rounds", "threads", "model", "clusters"},
                  &args, &error)) {
    return usage_error("bench-search", error);
  }
  if (args.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  Settings s;
  if (!parse_settings(args, &s, &error)) return usage_error("bench-search", error);
  if (!args.positional.empty()) return usage_error("bench-search", "takes no positional arguments");
  GalleryTimes gallery_times;
  if (args.options.count("model")) {
    const Status timed = time_gallery(args.options["model"], s.items, &gallery_times);
    if (!timed.ok()) return fail(timed.message());
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> centre(0.0f, 1.0f);
  std::vector<float> centres(size_t{s.clusters} * s.dim);
  for (float& c : centres) c = centre(rng);
  GalleryIndex index(s.dim);
  index.reserve(s.items);
  {
    const std::vector<float> rows = cluster_members(centres, s.dim, s.items, &rng);
    for (size_t r = 0; r < s.items; ++r) index.append(rows.data() + r * s.dim);
  }
  const std::vector<float> queries = cluster_members(centres, s.dim, s.queries, &rng);
  std::vector<Method> methods = build_methods(s, &index);
  measure_recall(s, queries, &methods);
  time_methods(s, queries, &methods);
  if (args.has("json")) {
    print_json(s, methods, gallery_times);
  } else {
    print_text(s, methods, gallery_times);
  }
  return kExitOk;
}

}  // namespace edgeclr::cli
