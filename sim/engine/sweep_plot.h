// `dfsim sweep --plot x=KEY,y=METRIC[,series=KEY][,KEY=VALUE...][,logx][,logy]`: a sweep's
// curves, drawn by gnuplot from the rows of its output file. KEY=VALUE parts keep only the rows
// with that value (a slice of a larger grid).
#pragma once

#include <string>
#include <vector>

#include "sim/engine/sweep_table.h"
#include "sim/report/gnuplot.h"

namespace dfsim {

struct SweepPlotSpec {
  std::string x, y, series;
  std::vector<std::pair<std::string, std::string>> filters;  // column, value
  bool log_x = false, log_y = false;
};

// Throws InputError naming "--plot TEXT" for a malformed part or a missing x or y.
SweepPlotSpec parse_sweep_plot(const std::string& text);

// Checks that the plot's columns are among a sweep's `columns`, so a typo stops the sweep
// before it runs rather than after.
void check_plot_columns(const SweepPlotSpec& spec, const std::vector<std::string>& columns);

// One curve: its label and its (x, y) points sorted by x.
struct SweepCurve {
  std::string label;
  std::vector<std::pair<double, double>> points;
};

struct SweepCurves {
  std::string x_label, y_label;
  std::vector<SweepCurve> curves;
};

// Groups the rows with status ok that pass the filters into curves: one per distinct value of
// `series` and of every other input column that varies (so no curve mixes points that differ in
// anything but x). x values may carry a unit ("1.6TB/s"): numbers with the same unit plot as
// written, mixed units are converted to SI base units. Non-numeric x or y values are InputErrors.
SweepCurves sweep_curves(const SweepFile& file, const SweepPlotSpec& spec);

// Writes <stem>.dat and <stem>.gp next to the image(s) and runs gnuplot.
void plot_sweep(const SweepCurves& curves, const SweepPlotSpec& spec, const PlotFiles& files,
                const std::string& title);

}  // namespace dfsim
