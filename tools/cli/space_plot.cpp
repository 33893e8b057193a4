#include "cli/space_plot.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "adapt/space_stats.h"
#include "cli/canvas.h"

namespace edgeclr::cli {
namespace {

constexpr uint32_t kPad = 12;
constexpr uint32_t kPanelWidth = 560;
constexpr uint32_t kTitleHeight = 4 * kLineHeight + 8;
constexpr uint32_t kScatterHeight = 440;
constexpr uint32_t kHistogramHeight = 180;
constexpr uint32_t kLegendWidth = 240;
constexpr uint32_t kHistogramBins = 40;
constexpr size_t kHistogramPairs = 40000;  // random pairs whose cosines are binned
constexpr size_t kMaxLegend = 20;

const uint8_t kInk[3] = {30, 30, 30};
const uint8_t kFaint[3] = {200, 200, 200};
const uint8_t kSame[3] = {44, 160, 44};
const uint8_t kDifferent[3] = {214, 39, 40};
// Matplotlib's tab10: ten colours that stay apart for most readers.
const uint8_t kPalette[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                 {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

double dot(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double{a[i]} * b[i];
  return s;
}

// The covariance of the rows (dim x dim, row-major) and its trace.
std::vector<double> covariance(const eval::Vectors& v, double* trace) {
  std::vector<double> mean(v.dim, 0.0), c(v.dim * v.dim, 0.0);
  for (size_t r = 0; r < v.rows; ++r) {
    for (size_t i = 0; i < v.dim; ++i) mean[i] += v.row(r)[i] / static_cast<double>(v.rows);
  }
  std::vector<double> x(v.dim);
  for (size_t r = 0; r < v.rows; ++r) {
    for (size_t i = 0; i < v.dim; ++i) x[i] = v.row(r)[i] - mean[i];
    for (size_t i = 0; i < v.dim; ++i) {
      for (size_t j = 0; j < v.dim; ++j) c[i * v.dim + j] += x[i] * x[j];
    }
  }
  *trace = 0;
  for (size_t i = 0; i < v.dim; ++i) *trace += c[i * v.dim + i];
  return c;
}

// The leading eigenvector of symmetric `c` orthogonal to `other` (if given), by power
// iteration from a fixed start; returns its eigenvalue.
double top_component(const std::vector<double>& c, size_t dim, const std::vector<double>* other, std::vector<double>* u) {
  u->assign(dim, 0.0);
  for (size_t i = 0; i < dim; ++i) (*u)[i] = 1.0 + 0.01 * static_cast<double>(i % 7);
  std::vector<double> next(dim);
  double value = 0;
  for (int iteration = 0; iteration < 500; ++iteration) {
    if (other) {
      double along = 0;
      for (size_t i = 0; i < dim; ++i) along += (*u)[i] * (*other)[i];
      for (size_t i = 0; i < dim; ++i) (*u)[i] -= along * (*other)[i];
    }
    double norm = 0;
    for (size_t i = 0; i < dim; ++i) norm += (*u)[i] * (*u)[i];
    if (norm == 0) return 0;
    for (size_t i = 0; i < dim; ++i) (*u)[i] /= std::sqrt(norm);
    value = 0;
    for (size_t i = 0; i < dim; ++i) {
      next[i] = 0;
      for (size_t j = 0; j < dim; ++j) next[i] += c[i * dim + j] * (*u)[j];
      value += (*u)[i] * next[i];
    }
    u->swap(next);
  }
  double norm = 0;
  for (double e : *u) norm += e * e;
  for (double& e : *u) e /= std::sqrt(norm);
  return value;
}

// The rows on their first two principal components; returns the variance share they hold.
double principal_plane(const eval::Vectors& v, std::vector<double>* x, std::vector<double>* y) {
  double trace = 0;
  const std::vector<double> c = covariance(v, &trace);
  std::vector<double> first, second;
  const double l1 = top_component(c, v.dim, nullptr, &first);
  const double l2 = top_component(c, v.dim, &first, &second);
  x->clear();
  y->clear();
  for (size_t r = 0; r < v.rows; ++r) {
    double px = 0, py = 0;
    for (size_t i = 0; i < v.dim; ++i) {
      px += v.row(r)[i] * first[i];
      py += v.row(r)[i] * second[i];
    }
    x->push_back(px);
    y->push_back(py);
  }
  return trace > 0 ? (l1 + l2) / trace : 0;
}

void draw_frame(Canvas* canvas, uint32_t x, uint32_t y, uint32_t w, uint32_t h) {
  canvas->fill(x, y, w, 1, kFaint);
  canvas->fill(x, y + h - 1, w, 1, kFaint);
  canvas->fill(x, y, 1, h, kFaint);
  canvas->fill(x + w - 1, y, 1, h, kFaint);
}

void draw_scatter(Canvas* canvas, uint32_t x0, uint32_t y0, const SpacePanel& panel) {
  draw_frame(canvas, x0, y0, kPanelWidth, kScatterHeight);
  const std::vector<double>& xs = panel.plane_x;
  const std::vector<double>& ys = panel.plane_y;
  const auto [min_x, max_x] = std::minmax_element(xs.begin(), xs.end());
  const auto [min_y, max_y] = std::minmax_element(ys.begin(), ys.end());
  const double span = std::max({*max_x - *min_x, *max_y - *min_y, 1e-9});  // one scale: distances stay true
  const double cx = (*max_x + *min_x) / 2, cy = (*max_y + *min_y) / 2;
  const double scale = (std::min(kPanelWidth, kScatterHeight) - 24) / span;
  for (size_t r = 0; r < xs.size(); ++r) {
    const auto px = static_cast<int64_t>(std::lround(x0 + kPanelWidth / 2.0 + (xs[r] - cx) * scale));
    const auto py = static_cast<int64_t>(std::lround(y0 + kScatterHeight / 2.0 - (ys[r] - cy) * scale));
    const uint8_t* colour = kPalette[static_cast<size_t>(std::max(panel.labels[r], 0)) % 10];
    canvas->fill(static_cast<uint32_t>(px - 1), static_cast<uint32_t>(py - 1), 3, 3, colour);
  }
}

// Per bin, the fraction of same-label and of different-label pairs whose cosine falls in it.
void cosine_histogram(const SpacePanel& panel, std::vector<double>* same, std::vector<double>* different) {
  same->assign(kHistogramBins, 0.0);
  different->assign(kHistogramBins, 0.0);
  std::mt19937 rng(11);
  const size_t n = panel.vectors.rows;
  double same_total = 0, different_total = 0;
  for (size_t i = 0; i < kHistogramPairs; ++i) {
    const size_t a = rng() % n, b = rng() % n;
    if (a == b) continue;
    const double c = dot(panel.vectors.row(a), panel.vectors.row(b), panel.vectors.dim);
    const auto bin = static_cast<size_t>(std::clamp((c + 1) / 2 * kHistogramBins, 0.0, kHistogramBins - 1.0));
    const bool is_same = panel.labels[a] == panel.labels[b];
    (is_same ? *same : *different)[bin] += 1;
    (is_same ? same_total : different_total) += 1;
  }
  for (uint32_t b = 0; b < kHistogramBins; ++b) {
    if (same_total > 0) (*same)[b] /= same_total;
    if (different_total > 0) (*different)[b] /= different_total;
  }
}

void draw_histogram(Canvas* canvas, uint32_t x0, uint32_t y0, const SpacePanel& panel) {
  std::vector<double> same, different;
  cosine_histogram(panel, &same, &different);
  const double top = std::max(*std::max_element(same.begin(), same.end()),
                              *std::max_element(different.begin(), different.end()));
  draw_frame(canvas, x0, y0, kPanelWidth, kHistogramHeight);
  const uint32_t bin_width = kPanelWidth / kHistogramBins, half = bin_width / 2;
  for (uint32_t b = 0; b < kHistogramBins; ++b) {
    const uint32_t x = x0 + b * bin_width;
    const auto h_diff = static_cast<uint32_t>(std::lround(different[b] / std::max(top, 1e-9) * (kHistogramHeight - 8)));
    const auto h_same = static_cast<uint32_t>(std::lround(same[b] / std::max(top, 1e-9) * (kHistogramHeight - 8)));
    canvas->fill(x + 1, y0 + kHistogramHeight - 1 - h_diff, half - 1, h_diff, kDifferent);
    canvas->fill(x + half, y0 + kHistogramHeight - 1 - h_same, half - 1, h_same, kSame);
  }
  const uint32_t under = y0 + kHistogramHeight + 4;
  draw_text(canvas, x0, under, "-1", kInk);
  draw_text(canvas, x0 + kPanelWidth / 2 - 6, under, "0", kInk);
  draw_text(canvas, x0 + kPanelWidth - 14, under, "1", kInk);
  const uint32_t caption = under + kLineHeight;
  draw_text(canvas, x0, caption, "cosine of random pairs:", kInk);
  draw_text(canvas, x0 + text_width("cosine of random pairs: "), caption, "same label", kSame);
  draw_text(canvas, x0 + text_width("cosine of random pairs: same label, "), caption, "different labels", kDifferent);
}

void draw_title(Canvas* canvas, uint32_t x, uint32_t y, const SpacePanel& panel) {
  const SpaceFigures& f = panel.figures;
  std::string title = panel.title;
  const size_t chars = kPanelWidth / kCharWidth;
  if (title.size() > chars) title = "..." + title.substr(title.size() - (chars - 3));
  draw_text(canvas, x, y, title, kInk);
  draw_text(canvas, x, y + kLineHeight, format("recall@1 %.3f   alignment %.3f", f.recall_at_1, f.alignment), kInk);
  draw_text(canvas, x, y + 2 * kLineHeight,
            format("uniformity %.3f   effective rank %.1f", f.uniformity, f.effective_rank), kInk);
  draw_text(canvas, x, y + 3 * kLineHeight,
            format("%zu points; PCA plane holds %.0f%% of variance", panel.vectors.rows, 100 * f.explained), kInk);
}

void draw_legend(Canvas* canvas, uint32_t x, uint32_t y, const std::vector<std::string>& names) {
  draw_text(canvas, x, y, "labels", kInk);
  for (size_t i = 0; i < std::min(names.size(), kMaxLegend); ++i) {
    const uint32_t line = y + static_cast<uint32_t>(i + 1) * kLineHeight;
    canvas->fill(x, line + 4, 14, 14, kPalette[i % 10]);
    std::string name = names[i];
    if (name.size() > 16) name = name.substr(0, 15) + "~";
    draw_text(canvas, x + 20, line, name, kInk);
  }
  if (names.size() > kMaxLegend) {
    draw_text(canvas, x, y + static_cast<uint32_t>(kMaxLegend + 1) * kLineHeight,
              format("and %zu more", names.size() - kMaxLegend), kInk);
  }
}

}  // namespace

void summarize_space(SpacePanel* panel) {
  SpaceFigures& f = panel->figures;
  const eval::Vectors& v = panel->vectors;
  f.recall_at_1 = eval::recall_at_1(v, panel->labels, 2);
  // Same-label pairs: each row with the next row of its label (at most 4096 pairs).
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  std::map<int32_t, uint32_t> previous;
  for (uint32_t r = 0; r < v.rows && pairs.size() < 4096; ++r) {
    const auto it = previous.find(panel->labels[r]);
    if (it != previous.end()) pairs.emplace_back(it->second, r);
    previous[panel->labels[r]] = r;
  }
  const SpaceStats stats = measure_space(v.values.data(), static_cast<uint32_t>(v.rows), static_cast<uint32_t>(v.dim), pairs);
  f.alignment = stats.alignment;
  f.uniformity = stats.uniformity;
  f.effective_rank = stats.effective_rank;
  f.explained = principal_plane(v, &panel->plane_x, &panel->plane_y);
}

Status write_space_plot(const std::string& path, const std::vector<SpacePanel>& panels,
                        const std::vector<std::string>& label_names) {
  if (panels.empty() || panels.size() > 4) {
    return error(StatusCode::kInvalidArgument, format("viz: %zu panels, expected 1 to 4", panels.size()));
  }
  for (const SpacePanel& p : panels) {
    if (p.vectors.rows < 2 || p.labels.size() != p.vectors.rows || p.plane_x.size() != p.vectors.rows) {
      return error(StatusCode::kInvalidArgument, format("viz: '%s' has %zu points; at least 2 are needed",
                                                        p.title.c_str(), p.vectors.rows));
    }
  }
  const auto n = static_cast<uint32_t>(panels.size());
  const uint32_t width = kPad + n * (kPanelWidth + kPad) + kLegendWidth;
  const uint32_t height = kPad + kTitleHeight + kScatterHeight + kPad + kHistogramHeight + 2 * kLineHeight + 2 * kPad;
  Canvas canvas(width, height, 255);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t x = kPad + i * (kPanelWidth + kPad);
    draw_title(&canvas, x, kPad, panels[i]);
    draw_scatter(&canvas, x, kPad + kTitleHeight, panels[i]);
    draw_histogram(&canvas, x, kPad + kTitleHeight + kScatterHeight + kPad, panels[i]);
  }
  draw_legend(&canvas, kPad + n * (kPanelWidth + kPad), kPad + kTitleHeight, label_names);
  return write_png(canvas, path);
}

}  // namespace edgeclr::cli
