#include "sim/engine/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/config/yaml_edit.h"

namespace dfsim {

namespace fs = std::filesystem;

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

[[noreturn]] void bad_free(const std::string& text, const std::string& message) {
  throw InputError("--free " + text + ": " + message);
}

// The dimension both ends of a range are written in, tried in an order where no unit of one
// reads as a unit of another.
std::optional<Dimension> dimension_of(const std::string& text) {
  for (Dimension dimension : {Dimension::kDuration, Dimension::kBandwidth, Dimension::kFlopRate,
                              Dimension::kFrequency, Dimension::kBytes, Dimension::kCount}) {
    if (parse_quantity(text, dimension)) return dimension;
  }
  return std::nullopt;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The field of a config tree a dotted key below "hw." names, or why there is none.
const ConfigNode* find_field(const ConfigNode& root, const std::string& dotted,
                             std::string* known) {
  const ConfigNode* node = &root;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = std::min(dotted.find('.', begin), dotted.size());
    const std::string part = dotted.substr(begin, end - begin);
    if (!node->is_map()) return nullptr;
    const ConfigNode* child = node->find(part);
    if (!child) {
      known->clear();
      for (const auto& [key, value] : node->entries) *known += (known->empty() ? "" : ", ") + key;
      return nullptr;
    }
    node = child;
    if (end == dotted.size()) return node;
    begin = end + 1;
  }
}

// A free key must name a numeric field of every config the fit touches, of the range's
// dimension, and the config must accept both ends of the range. Returns the field's value in
// `hw` (nullopt when the field is not written there and takes its default).
std::optional<double> check_field(const FreeParameter& parameter, const std::string& hw) {
  const std::string field = parameter.key.substr(3);  // below "hw."
  const ConfigNode tree = load_config_tree(ConfigKind::kHardware, hw);
  std::string known;
  const ConfigNode* node = find_field(tree, field, &known);
  std::optional<double> value;
  if (node) {
    if (node->kind != ConfigNode::Kind::kScalar) {
      bad_free(parameter.text, fmt::format("{} of {} is {}, not a number to fit", parameter.key, hw,
                                           describe(*node)));
    }
    value = parse_quantity(node->scalar, parameter.dimension);
    if (!value) {
      const std::optional<Dimension> other = dimension_of(node->scalar);
      if (!other) {
        bad_free(parameter.text, fmt::format("{} is not a numeric field ({} has '{}')",
                                             parameter.key, hw, node->scalar));
      }
      bad_free(parameter.text, fmt::format("{} is a {} ({} has '{}'), the range is a {}",
                                           parameter.key, dimension_name(*other), hw, node->scalar,
                                           dimension_name(parameter.dimension)));
    }
  }
  // The typed reader is the judge of what a field may hold (and of fields left to a default).
  const double mid = from_unit(parameter.bound, 0.5);
  for (double x : {parameter.bound.lo, parameter.bound.hi, mid}) {
    const std::string text = free_value_text(parameter, x);
    try {
      load_hw_config(hw, {{parameter.key, text}});
    } catch (const InputError& error) {
      if (!node) {
        bad_free(parameter.text, fmt::format("unknown key: {} has no field {}{}", hw, field,
                                             known.empty() ? "" : " (known there: " + known + ")"));
      }
      bad_free(parameter.text,
               fmt::format("{} rejects {}={}: {}", hw, parameter.key, text, error.what()));
    }
  }
  return value;
}

// The rows' hardware is `hw_path` or inherits from it.
bool of_hardware(const CalibrationRow& row, const std::string& hw_path,
                 std::map<std::string, bool>& known) {
  for (const std::string& hw : row.hws) {
    auto it = known.find(hw);
    if (it == known.end()) {
      bool inherits = false;
      try {
        for (const std::string& file : config_inherit_chain(ConfigKind::kHardware, hw)) {
          std::error_code error;
          if (fs::equivalent(file, hw_path, error)) inherits = true;
        }
      } catch (const InputError&) {
        // No such config: not of this hardware (validate reports it).
      }
      it = known.emplace(hw, inherits).first;
    }
    if (!it->second) return false;
  }
  return true;
}

std::string percent(double value) {
  return fmt::format("{:+.2f}%", 100 * value);
}

std::string objective_text(CalibrationObjective objective, double value) {
  if (!std::isfinite(value)) return "-";
  return objective == CalibrationObjective::kMedianAbs ? fmt::format("{:.2f}%", 100 * value)
                                                       : fmt::format("{:.4f}", value);
}

// "a.csv:2,3,5; b.csv:7"
std::string row_list(const std::vector<RowResult>& rows) {
  std::string out, file;
  for (const RowResult& r : rows) {
    if (!r.simulated) continue;
    const std::string name = fs::path(r.row.file).filename().string();
    if (name != file) {
      out += (out.empty() ? "" : "; ") + name + ":" + std::to_string(r.row.line);
      file = name;
    } else {
      out += "," + std::to_string(r.row.line);
    }
  }
  return out;
}

// Words into comment lines of at most `width` characters, continuation lines indented.
std::vector<std::string> wrap(const std::string& text, std::size_t width) {
  std::vector<std::string> lines{""};
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find(' ', begin);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(begin, end - begin);
    if (!lines.back().empty() && lines.back().size() + 1 + word.size() > width) {
      lines.push_back("  ");
    }
    if (!lines.back().empty() && lines.back() != "  ") lines.back() += " ";
    lines.back() += word;
    begin = end + 1;
  }
  return lines;
}

}  // namespace

const char* objective_name(CalibrationObjective objective) {
  return objective == CalibrationObjective::kMedianAbs ? "median-abs" : "rms-log";
}

double calibration_objective(const std::vector<RowResult>& rows, CalibrationObjective objective) {
  if (rows.empty()) return kInfinity;
  std::vector<double> terms;
  for (const RowResult& r : rows) {
    if (!r.simulated || !(r.value > 0)) return kInfinity;
    terms.push_back(objective == CalibrationObjective::kMedianAbs
                        ? std::fabs(r.error)
                        : std::pow(std::log(r.value / r.row.measured), 2));
  }
  if (objective == CalibrationObjective::kMedianAbs) return median(terms);
  double sum = 0;
  for (double term : terms) sum += term;
  return std::sqrt(sum / terms.size());
}

FreeParameter parse_free_parameter(const std::string& text) {
  FreeParameter parameter;
  parameter.text = text;
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    bad_free(text,
             "expected KEY=LO..HI[,lin|log][,start=V], e.g. "
             "hw.kernel_call.host_sync=0us..200us");
  }
  parameter.key = text.substr(0, equals);
  if (parameter.key.rfind("hw.", 0) != 0 || parameter.key.size() <= 3) {
    bad_free(text, "the key must be a field of the hardware config, starting with 'hw.'");
  }
  std::vector<std::string> items;
  std::size_t begin = equals + 1;
  for (;;) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    items.push_back(text.substr(begin, end - begin));
    if (end == text.size()) break;
    begin = end + 1;
  }
  const std::string& range = items.front();
  const std::size_t dots = range.find("..");
  if (dots == std::string::npos) bad_free(text, "expected a range LO..HI, got '" + range + "'");
  const std::string lo = range.substr(0, dots), hi = range.substr(dots + 2);
  const std::optional<Dimension> lo_dimension = dimension_of(lo);
  const std::optional<Dimension> hi_dimension = dimension_of(hi);
  if (!lo_dimension || !hi_dimension) {
    bad_free(text, "cannot read '" + (lo_dimension ? hi : lo) +
                       "' as a value with a unit, as configs write them (e.g. 0us..200us)");
  }
  if (*lo_dimension != *hi_dimension) {
    bad_free(text, fmt::format("the ends of the range differ in kind ({} and {})",
                               dimension_name(*lo_dimension), dimension_name(*hi_dimension)));
  }
  parameter.dimension = *lo_dimension;
  parameter.bound.lo = *parse_quantity(lo, parameter.dimension);
  parameter.bound.hi = *parse_quantity(hi, parameter.dimension);
  if (!(parameter.bound.lo < parameter.bound.hi)) bad_free(text, "LO must be below HI");
  for (std::size_t i = 1; i < items.size(); ++i) {
    const std::string& item = items[i];
    if (item == "lin" || item == "log") {
      parameter.bound.log = item == "log";
    } else if (item.rfind("start=", 0) == 0) {
      parameter.start = parse_quantity(item.substr(6), parameter.dimension);
      if (!parameter.start) {
        bad_free(text, fmt::format("start: expected a {} like the range, got '{}'",
                                   dimension_name(parameter.dimension), item.substr(6)));
      }
      if (*parameter.start < parameter.bound.lo || *parameter.start > parameter.bound.hi) {
        bad_free(text, "start must lie in the range");
      }
    } else {
      bad_free(text, "expected lin, log or start=V after the range, got '" + item + "'");
    }
  }
  if (parameter.bound.log && !(parameter.bound.lo > 0)) {
    bad_free(text, "a log range needs LO above 0");
  }
  return parameter;
}

std::string free_value_text(const FreeParameter& parameter, double value, int digits) {
  return format_quantity(value, parameter.dimension, digits);
}

std::string free_display_text(const FreeParameter& parameter, double value) {
  const std::string text = free_value_text(parameter, value, 4);
  if (value != 0) return text;
  const std::string unit = free_value_text(parameter, parameter.bound.hi, 4);
  const std::size_t space = unit.find(' ');
  return space == std::string::npos ? text : "0" + unit.substr(space);
}

std::string free_range_text(const FreeParameter& parameter) {
  return fmt::format("{}..{} {}", free_display_text(parameter, parameter.bound.lo),
                     free_display_text(parameter, parameter.bound.hi),
                     parameter.bound.log ? "log" : "lin");
}

CalibrationReport calibrate(const CalibrateOptions& options) {
  CalibrationReport report;
  report.hw = options.hw;
  report.hw_path = locate_config(ConfigKind::kHardware, options.hw);
  report.objective = options.objective;
  load_hw_config(options.hw, {});  // a broken config is reported as itself, not as a fit
  if (options.free.empty() || options.free.size() > 3) {
    throw InputError("--free: give one to three free parameters");
  }
  for (std::size_t i = 0; i < options.free.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (options.free[i].key == options.free[j].key) {
        throw InputError("--free " + options.free[i].text + ": " + options.free[i].key +
                         " is free twice");
      }
    }
  }

  // Every file is read before anything is simulated: bad input fails fast.
  std::vector<CalibrationRow> rows;
  std::map<std::string, bool> inherits;
  for (const std::string& path : options.paths) {
    for (const std::string& file : calibration_files(path)) {
      report.files.push_back(file);
      for (CalibrationRow& row : read_calibration_csv(file)) {
        ++report.rows_read;
        if (of_hardware(row, report.hw_path, inherits)) {
          rows.push_back(std::move(row));
        } else {
          ++report.left_out;
        }
      }
    }
  }
  if (rows.empty()) {
    throw InputError(fmt::format("no row is for {} or a config that inherits it (rows read: {})",
                                 options.hw, report.rows_read));
  }

  // The calibrated config first, so a key it lacks is reported against it.
  std::vector<std::string> configs{options.hw};
  {
    std::set<std::string> others;
    for (const CalibrationRow& row : rows) others.insert(row.hws.begin(), row.hws.end());
    others.erase(options.hw);
    configs.insert(configs.end(), others.begin(), others.end());
  }
  std::vector<double> start;
  std::vector<SearchBound> bounds;
  for (const FreeParameter& parameter : options.free) {
    std::optional<double> current;
    for (const std::string& hw : configs) {
      const std::optional<double> value = check_field(parameter, hw);
      if (hw == options.hw) current = value;
    }
    double x = parameter.start ? *parameter.start
               : current       ? *current
                               : from_unit(parameter.bound, 0.5);
    x = std::clamp(x, parameter.bound.lo, parameter.bound.hi);
    // A config between a row's and the calibrated one that writes the field shadows it.
    const std::string field = parameter.key.substr(3);
    for (const std::string& hw : configs) {
      for (const std::string& file : config_inherit_chain(ConfigKind::kHardware, hw)) {
        std::error_code error;
        if (fs::equivalent(file, report.hw_path, error)) break;
        std::string known;
        if (find_field(load_yaml_file(file), field, &known)) {
          report.notes.push_back(fmt::format(
              "{} sets {} itself: the fit applies to its rows, a value written to {} does not",
              file, field, fs::path(report.hw_path).filename().string()));
          break;
        }
      }
    }
    start.push_back(x);
    bounds.push_back(parameter.bound);
    report.parameters.push_back({parameter, x, x});
  }

  auto overrides = [&](const std::vector<double>& x) {
    std::vector<Override> out;
    for (std::size_t i = 0; i < x.size(); ++i) {
      out.push_back({options.free[i].key, free_value_text(options.free[i], x[i])});
    }
    return out;
  };
  auto key_of = [](const std::vector<Override>& items) {
    std::string key;
    for (const Override& item : items) key += item.value + "\n";
    return key;
  };

  report.before = simulate_calibration_rows(rows, overrides(start), options.workers);
  std::vector<CalibrationRow> fit_rows;
  for (const RowResult& r : report.before) {
    if (r.simulated) fit_rows.push_back(r.row);
  }
  if (fit_rows.empty()) {
    const RowResult& first = report.before.front();
    throw InputError(fmt::format("none of the {} rows for {} simulates at the start ({}:{}: {})",
                                 rows.size(), options.hw, first.row.file, first.row.line,
                                 first.reason));
  }
  std::map<std::string, std::vector<RowResult>> memory;
  {
    std::vector<RowResult> simulated;
    for (const RowResult& r : report.before) {
      if (r.simulated) simulated.push_back(r);
    }
    memory.emplace(key_of(overrides(start)), std::move(simulated));
  }
  const std::size_t budget =
      options.max_evaluations ? options.max_evaluations : 30 * options.free.size();
  std::size_t evaluations = 0;
  auto objective = [&](const std::vector<double>& x) {
    const std::vector<Override> items = overrides(x);
    const std::string key = key_of(items);
    auto it = memory.find(key);
    if (it == memory.end()) {
      it = memory.emplace(key, simulate_calibration_rows(fit_rows, items, options.workers)).first;
    }
    const double value = calibration_objective(it->second, options.objective);
    ++evaluations;
    if (options.progress) {
      std::string line = fmt::format("evaluation {}/{}:", evaluations, budget);
      for (std::size_t i = 0; i < x.size(); ++i) {
        line +=
            fmt::format(" {}={}", options.free[i].key, free_value_text(options.free[i], x[i], 4));
      }
      options.progress(line + fmt::format(", {} {}", objective_name(options.objective),
                                          objective_text(options.objective, value)));
    }
    return value;
  };
  SearchOptions search;
  search.max_evaluations = budget;
  const SearchResult result = minimize_bounded(objective, bounds, start, search);
  report.steps = result.steps;
  report.method = result.method;
  for (std::size_t i = 0; i < result.best.size(); ++i) report.parameters[i].fitted = result.best[i];

  const std::vector<RowResult>& best = memory.at(key_of(overrides(result.best)));
  std::size_t next = 0;
  for (const RowResult& r : report.before) {
    report.after.push_back(r.simulated ? best.at(next++) : r);
  }
  report.objective_before = result.steps.front().value;
  report.objective_after = result.best_value;
  return report;
}

std::string fitted_config_text(const CalibrationReport& report, const std::string& date) {
  std::ifstream in(report.hw_path, std::ios::binary);
  if (!in) throw InputError(SourceLocation{report.hw_path}, "", "cannot read the file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string residuals;
  for (const RowResult& r : report.after) {
    if (!r.simulated) continue;
    residuals +=
        fmt::format("{}{}:{} {}", residuals.empty() ? "" : ", ",
                    fs::path(r.row.file).filename().string(), r.row.line, percent(r.error));
  }
  for (const FittedParameter& fitted : report.parameters) {
    const FreeParameter& p = fitted.parameter;
    std::string jointly;
    for (const FittedParameter& other : report.parameters) {
      if (&other != &fitted)
        jointly += (jointly.empty() ? "" : ", ") + other.parameter.key.substr(3);
    }
    const std::string note = fmt::format(
        "FITTED to {} (dfsim calibrate, {}): searched {}) from {}{}, {} in {} "
        "evaluations; {} {} -> {}. Residuals: {}.",
        row_list(report.after), date,
        [&] {
          std::string range = free_range_text(p);
          return range.insert(range.rfind(' ') + 1, "(");
        }(),
        free_display_text(p, fitted.start), jointly.empty() ? "" : ", jointly with " + jointly,
        report.method, report.steps.size(), objective_name(report.objective),
        objective_text(report.objective, report.objective_before),
        objective_text(report.objective, report.objective_after), residuals);
    text = set_yaml_value(text, report.hw_path, p.key.substr(3),
                          free_display_text(p, fitted.fitted), wrap(note, 94));
  }
  return text;
}

}  // namespace dfsim
