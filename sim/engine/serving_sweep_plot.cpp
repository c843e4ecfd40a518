#include "sim/engine/serving_sweep_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "sim/common/error.h"
#include "sim/engine/serving_sweep_inputs.h"

namespace dfsim {

namespace {

double number_in(const SweepRow& row, std::size_t column, const std::string& name) {
  const std::string& text = row.values[column];
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw InputError(
        fmt::format("--plot latency: {} '{}' (line {}) is not a number", name, text, row.line));
  }
  return value;
}

}  // namespace

ServingCurves serving_sweep_curves(const SweepFile& file) {
  const ServingSweepInputs inputs = serving_sweep_inputs(file, "--plot latency");
  auto column = [&](const char* name) { return static_cast<std::size_t>(file.column_index(name)); };
  const std::size_t tokens = column("output_tokens_per_s"), ttft = column("ttft_mean_s"),
                    itl = column("itl_mean_s");
  ServingCurves curves;
  if (inputs.along >= 0) curves.along = file.columns[static_cast<std::size_t>(inputs.along)];
  auto shared = [&](const char* name) -> std::optional<std::string> {
    const int c = file.column_index(name);
    if (c < 0 || std::find(inputs.varying.begin(), inputs.varying.end(),
                           static_cast<std::size_t>(c)) != inputs.varying.end()) {
      return std::nullopt;
    }
    return inputs.rows.front()->values[static_cast<std::size_t>(c)];
  };
  if (auto model = shared("model")) curves.common = *model;
  auto requests = shared("load.requests"), isl = shared("load.isl"), osl = shared("load.osl");
  if (requests && isl && osl) {
    curves.common += fmt::format("{}{} x ({} + {}) tokens", curves.common.empty() ? "" : ", ",
                                 *requests, *isl, *osl);
  }
  std::map<std::string, std::size_t> by_label;
  for (const SweepRow* row : inputs.rows) {
    const std::string label = series_label(file, *row, inputs.series);
    auto [it, inserted] = by_label.emplace(label, curves.curves.size());
    if (inserted) curves.curves.push_back({label, {}});
    curves.curves[it->second].points.push_back(
        {inputs.along >= 0 ? row->values[static_cast<std::size_t>(inputs.along)] : "",
         number_in(*row, tokens, "output_tokens_per_s"), number_in(*row, ttft, "ttft_mean_s"),
         number_in(*row, itl, "itl_mean_s")});
  }
  return curves;
}

void plot_serving_sweep(const ServingCurves& curves, const PlotFiles& files,
                        const std::string& title) {
  std::string data;
  for (const ServingCurve& curve : curves.curves) {
    data += "# " + (curve.label.empty() ? std::string("serving") : curve.label) +
            "\n# output_tokens_per_s ttft_mean_s itl_mean_ms " +
            (curves.along.empty() ? std::string("load") : curves.along) + "\n";
    for (const ServingCurvePoint& p : curve.points) {
      data += fmt::format("{:.17g} {:.17g} {:.17g} {}\n", p.output_tokens_per_s, p.ttft_mean_s,
                          p.itl_mean_s * 1e3, p.load.empty() ? "-" : p.load);
    }
    data += "\n\n";  // gnuplot: a new data set (index)
  }
  const std::string along =
      curves.along.empty() ? std::string() : " (points: " + curves.along + ")";
  std::string commands = "set multiplot layout 1,2 title " + gnuplot_quote(title + along) + "\n";
  commands += "set grid\nset key top left\nset xlabel 'output tokens/s'\n";
  auto panel = [&](const std::string& ylabel, int y_column, bool log_y, bool legend) {
    std::string text = "set ylabel " + gnuplot_quote(ylabel) + "\n";
    text += log_y ? "set logscale y\n" : "unset logscale y\n";
    text += "plot";
    for (std::size_t i = 0; i < curves.curves.size(); ++i) {
      const std::string& label = curves.curves[i].label;
      text +=
          fmt::format("{} {} index {} using 1:{} with linespoints lc {} pt 7 ps 0.6 {}",
                      i ? ", \\\n    " : " ", gnuplot_quote(files.data_name), i, y_column, i + 1,
                      legend ? "title " + gnuplot_quote(label.empty() ? "serving" : label)
                             : std::string("notitle"));
    }
    return text + "\n";
  };
  commands += panel("mean TTFT (s)", 2, true, true);
  commands += panel("mean ITL (ms)", 3, false, false);
  commands += "unset multiplot\n";
  render_plot(files, data, commands, title);
}

}  // namespace dfsim
