// A picture of a representation space (edgeclr viz): per panel, the embeddings projected
// on their first two principal components and coloured by label, a histogram of the
// cosines of same-label and of different-label pairs, and the figures that say whether
// the space is healthy; panels side by side (before and after an adaptation), one legend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/space_metrics.h"

namespace edgeclr::cli {

// The figures printed over a panel (and by viz on stdout).
struct SpaceFigures {
  double recall_at_1 = 0;     // fraction of rows whose nearest other row has their label
  double alignment = 0;       // mean |a - b|^2 over same-label pairs (0 = they coincide)
  double uniformity = 0;      // log mean exp(-2 |x - y|^2) (lower = more spread; 0 = collapsed)
  double effective_rank = 0;  // 1 (collapsed to a line) .. dim
  double explained = 0;       // fraction of the variance the two plotted components hold
};

struct SpacePanel {
  std::string title;            // e.g. the head it was embedded with
  eval::Vectors vectors;        // unit rows
  std::vector<int32_t> labels;  // per row: an index into the label names
  // Filled by summarize_space(), once: what the picture draws and viz prints.
  SpaceFigures figures;
  std::vector<double> plane_x, plane_y;  // per row: its first two principal components
};

// Computes the panel's figures and its projection on the principal plane.
void summarize_space(SpacePanel* panel);

// Writes the PNG: one panel per entry (at most 4, each summarized), each 560 pixels wide,
// then a legend of `label_names` (at most 20 shown; colours cycle after 10). Rows must
// be at least 2.
Status write_space_plot(const std::string& path, const std::vector<SpacePanel>& panels,
                        const std::vector<std::string>& label_names);

}  // namespace edgeclr::cli
