#include "sim/engine/sweep_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "sim/common/error.h"
#include "sim/common/units.h"
#include "sim/engine/sweep.h"

namespace dfsim {

namespace {

// The number at the start of `text` and the unit after it (spaces trimmed).
std::optional<std::pair<double, std::string>> number_and_unit(const std::string& text) {
  double value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '+') ++begin;
  auto [stop, error] = std::from_chars(begin, end, value);
  if (error != std::errc() || !std::isfinite(value)) return std::nullopt;
  std::string unit(stop, end);
  unit.erase(0, unit.find_first_not_of(' '));
  return std::make_pair(value, unit);
}

std::optional<double> plain_number(const std::string& text) {
  auto parsed = number_and_unit(text);
  if (!parsed || !parsed->second.empty()) return std::nullopt;
  return parsed->first;
}

}  // namespace

SweepPlotSpec parse_sweep_plot(const std::string& text) {
  const std::string where = "--plot " + text;
  SweepPlotSpec spec;
  std::size_t begin = 0;
  for (;;) {
    std::size_t comma = text.find(',', begin);
    std::string part = text.substr(begin, comma - begin);
    std::size_t equals = part.find('=');
    std::string name = part.substr(0, equals);
    std::string value = equals == std::string::npos ? "" : part.substr(equals + 1);
    if (name == "logx" && equals == std::string::npos) {
      spec.log_x = true;
    } else if (name == "logy" && equals == std::string::npos) {
      spec.log_y = true;
    } else if ((name == "x" || name == "y" || name == "series") && !value.empty()) {
      (name == "x" ? spec.x : name == "y" ? spec.y : spec.series) = value;
    } else if (equals != std::string::npos && !name.empty()) {
      spec.filters.emplace_back(name, value);
    } else {
      throw InputError(where + ": cannot read '" + part +
                       "' (expected x=KEY, y=METRIC, series=KEY, KEY=VALUE, logx, logy)");
    }
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  if (spec.x.empty() || spec.y.empty()) throw InputError(where + ": needs x=KEY and y=METRIC");
  return spec;
}

namespace {

std::string plot_where(const SweepPlotSpec& spec) {
  return "--plot x=" + spec.x + ",y=" + spec.y;
}

[[noreturn]] void no_column(const SweepPlotSpec& spec, const std::string& name,
                            const std::vector<std::string>& columns) {
  std::string known;
  for (const std::string& c : columns) {
    if (c != "point_id" && c != "point_index" && c != "points_total" && c != "error") {
      known += (known.empty() ? "" : ", ") + c;
    }
  }
  throw InputError(plot_where(spec) + ": no column '" + name + "' in the sweep (columns: " + known +
                   ")");
}

}  // namespace

void check_plot_columns(const SweepPlotSpec& spec, const std::vector<std::string>& columns) {
  std::vector<std::string> names{spec.x, spec.y};
  if (!spec.series.empty()) names.push_back(spec.series);
  for (const auto& filter : spec.filters) names.push_back(filter.first);
  for (const std::string& name : names) {
    if (std::find(columns.begin(), columns.end(), name) == columns.end()) {
      no_column(spec, name, columns);
    }
  }
}

SweepCurves sweep_curves(const SweepFile& file, const SweepPlotSpec& spec) {
  const std::string where = plot_where(spec);
  auto column = [&](const std::string& name) {
    int index = file.column_index(name);
    if (index < 0) no_column(spec, name, file.columns);
    return static_cast<std::size_t>(index);
  };
  const std::size_t x = column(spec.x), y = column(spec.y), status = column("status");
  // Inputs are the columns between `error` and the first metric.
  const std::vector<std::string> metrics = sweep_metric_columns(is_serving_sweep(file.columns));
  std::vector<std::size_t> inputs;
  for (std::size_t c = column("error") + 1; c < file.columns.size(); ++c) {
    if (file.columns[c] == "wall_s" ||
        std::find(metrics.begin(), metrics.end(), file.columns[c]) != metrics.end()) {
      break;
    }
    inputs.push_back(c);
  }
  std::vector<std::pair<std::size_t, std::string>> filters;
  for (const auto& [name, value] : spec.filters) filters.emplace_back(column(name), value);
  std::vector<const SweepRow*> rows;
  for (const SweepRow& row : file.rows) {
    if (row.values[status] != "ok") continue;
    if (std::all_of(filters.begin(), filters.end(), [&](const auto& filter) {
          return row.values[filter.first] == filter.second;
        })) {
      rows.push_back(&row);
    }
  }
  // Point order, not completion order, so curves and their legend come out the same every time.
  if (int index = file.column_index("point_index"); index >= 0) {
    auto position = [&](const SweepRow* row) {
      auto parsed = plain_number(row->values[static_cast<std::size_t>(index)]);
      return parsed ? *parsed : 0.0;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const SweepRow* a, const SweepRow* b) {
      return position(a) < position(b);
    });
  }
  if (rows.empty()) {
    throw InputError(where + ": no rows with status ok" +
                     (filters.empty() ? std::string() : " match the KEY=VALUE filters"));
  }

  // Series: the named key first, then every other input that varies.
  std::vector<std::size_t> series;
  if (!spec.series.empty()) series.push_back(column(spec.series));
  for (std::size_t c : inputs) {
    if (c == x || std::find(series.begin(), series.end(), c) != series.end()) continue;
    std::set<std::string> values;
    for (const SweepRow* row : rows) values.insert(row->values[c]);
    if (values.size() > 1) series.push_back(c);
  }

  // x: numbers with one unit as written; otherwise SI base units of the first dimension that
  // reads them all.
  std::set<std::string> units;
  for (const SweepRow* row : rows) {
    auto parsed = number_and_unit(row->values[x]);
    if (!parsed) {
      throw InputError(fmt::format("{}: x value '{}' (line {}) is not a number", where,
                                   row->values[x], row->line));
    }
    units.insert(parsed->second);
  }
  std::optional<Dimension> dimension;
  if (units.size() > 1) {
    for (Dimension d : {Dimension::kBandwidth, Dimension::kBytes, Dimension::kFlopRate,
                        Dimension::kFrequency, Dimension::kDuration}) {
      bool all = std::all_of(rows.begin(), rows.end(), [&](const SweepRow* row) {
        return parse_quantity(row->values[x], d).has_value();
      });
      if (all) {
        dimension = d;
        break;
      }
    }
    if (!dimension) throw InputError(where + ": x values mix units that do not convert");
  }
  SweepCurves curves;
  static const std::map<Dimension, std::string> kBaseUnit = {{Dimension::kBandwidth, "B/s"},
                                                             {Dimension::kBytes, "B"},
                                                             {Dimension::kFlopRate, "FLOP/s"},
                                                             {Dimension::kFrequency, "Hz"},
                                                             {Dimension::kDuration, "s"}};
  const std::string unit = dimension ? kBaseUnit.at(*dimension) : *units.begin();
  curves.x_label = unit.empty() ? spec.x : spec.x + " (" + unit + ")";
  curves.y_label = spec.y;

  std::map<std::string, std::size_t> by_label;
  for (const SweepRow* row : rows) {
    double x_value = dimension ? *parse_quantity(row->values[x], *dimension)
                               : number_and_unit(row->values[x])->first;
    auto y_value = plain_number(row->values[y]);
    if (!y_value) {
      throw InputError(fmt::format("{}: y value '{}' (line {}) is not a number", where,
                                   row->values[y], row->line));
    }
    std::string label;
    for (std::size_t c : series) {
      label += (label.empty() ? "" : ", ") + file.columns[c] + "=" + row->values[c];
    }
    auto [it, inserted] = by_label.emplace(label, curves.curves.size());
    if (inserted) curves.curves.push_back({label, {}});
    curves.curves[it->second].points.emplace_back(x_value, *y_value);
  }
  for (SweepCurve& curve : curves.curves) std::sort(curve.points.begin(), curve.points.end());
  return curves;
}

void plot_sweep(const SweepCurves& curves, const SweepPlotSpec& spec, const PlotFiles& files,
                const std::string& title) {
  std::string data;
  for (const SweepCurve& curve : curves.curves) {
    data += "# " + (curve.label.empty() ? spec.y : curve.label) + "\n";
    for (auto [x, y] : curve.points) data += fmt::format("{:.17g} {:.17g}\n", x, y);
    data += "\n\n";  // gnuplot: a new data set (index)
  }
  std::string commands = "set title " + gnuplot_quote(title) + "\n";
  commands += "set xlabel " + gnuplot_quote(curves.x_label) + "\n";
  commands += "set ylabel " + gnuplot_quote(curves.y_label) + "\n";
  commands += "set grid\nset key outside right top\n";
  if (spec.log_x) commands += "set logscale x\n";
  if (spec.log_y) commands += "set logscale y\n";
  commands += "plot";
  for (std::size_t i = 0; i < curves.curves.size(); ++i) {
    const std::string& label = curves.curves[i].label;
    commands += fmt::format("{} {} index {} using 1:2 with linespoints pt 7 ps 0.6 title {}",
                            i ? ", \\\n    " : " ", gnuplot_quote(i ? "" : files.data_name), i,
                            gnuplot_quote(label.empty() ? spec.y : label));
  }
  commands += "\n";
  render_plot(files, data, commands, title);
}

}  // namespace dfsim
