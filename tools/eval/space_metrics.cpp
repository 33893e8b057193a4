#include "eval/space_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "gallery/gallery_index.h"

namespace edgeclr::eval {
namespace {

// Runs body(begin, end) over [0, n) split across `threads` threads.
void parallel_for(size_t n, uint32_t threads, const std::function<void(size_t, size_t)>& body) {
  threads = std::max<uint32_t>(1, std::min<uint32_t>(threads, static_cast<uint32_t>(n)));
  std::vector<std::thread> pool;
  for (uint32_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] { body(n * t / threads, n * (t + 1) / threads); });
  }
  for (auto& th : pool) th.join();
}

}  // namespace

GalleryIndex search_index(const Vectors& rows) {
  GalleryIndex index(static_cast<uint32_t>(rows.dim));
  index.reserve(rows.rows);
  for (size_t r = 0; r < rows.rows; ++r) index.append(rows.row(r));
  return index;
}

void normalize_rows(Vectors* v) {
  for (size_t r = 0; r < v->rows; ++r) {
    float* x = v->values.data() + r * v->dim;
    double sum = 0;
    for (size_t i = 0; i < v->dim; ++i) sum += double{x[i]} * x[i];
    if (sum == 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (size_t i = 0; i < v->dim; ++i) x[i] *= inv;
  }
}

double knn_accuracy(const Vectors& queries, const std::vector<int32_t>& query_labels, const Vectors& bank,
                    const std::vector<int32_t>& bank_labels, const KnnOptions& options, bool leave_one_out) {
  std::vector<uint8_t> correct(queries.rows, 0);
  const GalleryIndex index = search_index(bank);
  const size_t k = options.k + (leave_one_out ? 1 : 0);  // the query itself may come back
  parallel_for(queries.rows, options.threads, [&](size_t begin, size_t end) {
    SearchScratch scratch;
    std::vector<SearchHit> near;
    std::map<int32_t, double> votes;
    for (size_t q = begin; q < end; ++q) {
      index.search(queries.row(q), k, SearchMethod::kExact, nullptr, &scratch, &near);
      if (leave_one_out) {
        const auto self = std::find_if(near.begin(), near.end(), [&](const SearchHit& h) { return h.row == q; });
        if (self != near.end()) near.erase(self);
        if (near.size() > options.k) near.pop_back();
      }
      votes.clear();
      for (const SearchHit& n : near) votes[bank_labels[n.row]] += std::exp(n.score / options.temperature);
      const auto best = std::max_element(votes.begin(), votes.end(),
                                         [](const auto& a, const auto& b) { return a.second < b.second; });
      correct[q] = best != votes.end() && best->first == query_labels[q];
    }
  });
  size_t hits = 0;
  for (uint8_t c : correct) hits += c;
  return queries.rows ? double(hits) / double(queries.rows) : 0.0;
}

double nn1_accuracy(const Vectors& queries, const std::vector<int32_t>& query_labels, const Vectors& bank,
                    const std::vector<int32_t>& bank_labels, uint32_t threads, bool leave_one_out) {
  KnnOptions options;
  options.k = 1;  // the vote of one neighbour is its label, whatever the weight
  options.threads = threads;
  return knn_accuracy(queries, query_labels, bank, bank_labels, options, leave_one_out);
}

double prototype_accuracy(const Vectors& queries, const std::vector<int32_t>& query_labels, const Vectors& bank,
                          const std::vector<int32_t>& bank_labels, bool leave_one_out) {
  // Per label (ascending, so ties go to the smaller one): the sum of its bank rows and
  // their count. Cosine ignores scale, so the sum stands for the mean.
  std::map<int32_t, size_t> class_of;
  for (size_t r = 0; r < bank.rows; ++r) class_of.emplace(bank_labels[r], 0);
  std::vector<int32_t> class_label;
  for (auto& [label, index] : class_of) {
    index = class_label.size();
    class_label.push_back(label);
  }
  std::vector<double> sums(class_label.size() * bank.dim, 0.0);
  std::vector<size_t> counts(class_label.size(), 0);
  for (size_t r = 0; r < bank.rows; ++r) {
    const size_t c = class_of[bank_labels[r]];
    counts[c] += 1;
    for (size_t d = 0; d < bank.dim; ++d) sums[c * bank.dim + d] += bank.row(r)[d];
  }
  std::vector<double> prototype(bank.dim);
  size_t hits = 0;
  for (size_t q = 0; q < queries.rows; ++q) {
    const float* x = queries.row(q);
    double best = 0;
    int32_t best_label = 0;
    bool any = false;
    for (size_t c = 0; c < class_label.size(); ++c) {
      const bool own = leave_one_out && class_label[c] == query_labels[q];
      if (own && counts[c] == 1) continue;  // the query was its class's only row
      double dot = 0, norm2 = 0;
      for (size_t d = 0; d < bank.dim; ++d) {
        prototype[d] = sums[c * bank.dim + d] - (own ? double{x[d]} : 0.0);
        dot += prototype[d] * x[d];
        norm2 += prototype[d] * prototype[d];
      }
      const double cosine = norm2 > 0 ? dot / std::sqrt(norm2) : 0.0;
      if (!any || cosine > best) {
        best = cosine;
        best_label = class_label[c];
        any = true;
      }
    }
    hits += any && best_label == query_labels[q];
  }
  return queries.rows ? double(hits) / double(queries.rows) : 0.0;
}

double recall_at_1(const Vectors& v, const std::vector<int32_t>& labels, uint32_t threads) {
  KnnOptions options;
  options.k = 1;
  options.threads = threads;
  return knn_accuracy(v, labels, v, labels, options, true);  // with k = 1 the vote is the nearest row
}

double positive_negative_gap(const Vectors& v, const std::vector<int32_t>& labels) {
  std::map<int32_t, std::vector<double>> sums;
  std::map<int32_t, double> counts;
  std::vector<double> total(v.dim, 0.0);
  for (size_t r = 0; r < v.rows; ++r) {
    auto& s = sums[labels[r]];
    s.resize(v.dim, 0.0);
    for (size_t i = 0; i < v.dim; ++i) {
      s[i] += v.row(r)[i];
      total[i] += v.row(r)[i];
    }
    counts[labels[r]] += 1;
  }
  // For unit rows, the sum of x_i . x_j over ordered pairs i != j in a set S is |sum S|^2 - |S|.
  const auto squared = [](const std::vector<double>& x) {
    double s = 0;
    for (double e : x) s += e * e;
    return s;
  };
  double same_sum = 0, same_pairs = 0, class_squares = 0, n2 = 0;
  for (const auto& [label, s] : sums) {
    const double n = counts[label];
    class_squares += squared(s);
    same_sum += squared(s) - n;
    same_pairs += n * (n - 1);
    n2 += n * n;
  }
  const double n = double(v.rows);
  const double diff_sum = squared(total) - class_squares;
  const double diff_pairs = n * n - n2;
  if (same_pairs == 0 || diff_pairs == 0) return 0.0;
  return same_sum / same_pairs - diff_sum / diff_pairs;
}

}  // namespace edgeclr::eval
