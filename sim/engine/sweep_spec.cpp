#include "sim/engine/sweep_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "sim/config/catalog.h"
#include "sim/engine/serving_inputs.h"
#include "sim/engine/sweep_table.h"

namespace dfsim {

namespace {

constexpr const char* kPhaseKeys[] = {"phase.kind", "phase.batch", "phase.context", "phase.tokens"};
constexpr std::size_t kMaxAxisValues = 1'000'000;

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// A decimal number at the start of `text` ([+-]digits[.digits][e[+-]digits]) and the rest, or
// nullopt. Strict: "x" and "" are not numbers, "12abc" is 12 with the unit "abc".
std::optional<std::pair<double, std::string>> split_number(std::string_view text) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  std::size_t count = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    count += digits();
  }
  if (count == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    std::size_t mark = i++;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) i = mark;  // "1EB" is 1 with a unit, not an exponent
  }
  std::string number(text.substr(0, i));
  if (number.front() == '+') number.erase(0, 1);
  double value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return std::make_pair(value, std::string(text.substr(i)));
}

// A range bound: number and unit; the unit is trimmed of spaces ("1 TB/s" and "1TB/s" agree).
std::pair<double, std::string> range_bound(std::string_view text, const std::string& where) {
  auto split = split_number(text);
  if (!split) throw InputError(where + ": '" + std::string(text) + "' is not a number");
  std::string unit = split->second;
  unit.erase(0, unit.find_first_not_of(' '));
  return {split->first, unit};
}

std::string format_value(double value, const std::string& unit) {
  if (std::fabs(value) < 1e-300) value = 0;  // no "-0"
  return fmt::format("{:.15g}", value) + unit;
}

// Exact integer, no sign, no spaces, no exponent.
std::optional<std::int64_t> parse_integer(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.front() == '-') {
    return std::nullopt;
  }
  return value;
}

// Checks one value of a phase or looping key; InputError prefixed by `where`.
void check_value(const std::string& key, const std::string& value, const std::string& where) {
  auto integer_in = [&](std::int64_t minimum, std::int64_t maximum) {
    auto parsed = parse_integer(value);
    if (!parsed || *parsed < minimum) {
      throw InputError(where + ": " + key + ": expected an integer >= " + std::to_string(minimum) +
                       ", got '" + value + "'");
    }
    if (*parsed > maximum) {
      throw InputError(where + ": " + key + ": at most " + std::to_string(maximum) + ", got '" +
                       value + "'");
    }
  };
  if (key == "phase.batch") integer_in(1, kMaxBatch);
  if (key == "phase.context") integer_in(0, kMaxContext);
  if (key == "phase.tokens") integer_in(1, kMaxDecodeSteps);
  if (key == "phase.kind" && value != "decode" && value != "prefill") {
    throw InputError(where + ": phase.kind: expected decode or prefill, got '" + value + "'");
  }
  if (is_serving_key(key)) check_serving_value(key, value, where);
  if (key == "looping" && !parse_looping_mode(value)) {
    throw InputError(where + ": looping: expected off, on or auto, got '" + value + "'");
  }
  if ((key == "model" || key == "hw") && value.empty()) {
    throw InputError(where + ": " + key + ": empty name");
  }
}

SweepFactor single_key_factor(const std::string& key, const std::vector<std::string>& values,
                              const std::string& where) {
  SweepFactor factor;
  for (const std::string& value : values) {
    check_value(key, value, where);
    factor.alternatives.push_back({{key, value}});
    factor.origins.push_back(SourceLocation{where});
  }
  return factor;
}

std::pair<std::string, std::string> split_key_value(const std::string& text,
                                                    const std::string& option) {
  std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw InputError(option + " " + text + ": expected key=value, e.g. phase.batch=1,2,4");
  }
  return {text.substr(0, equals), text.substr(equals + 1)};
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// The message of an InputError without its location prefix, so it can be re-located.
std::string without_location(const InputError& error) {
  std::string message = error.what();
  std::string location = error.location().str();
  if (!location.empty() && starts_with(message, location + ": ")) {
    message.erase(0, location.size() + 2);
  }
  return message;
}

}  // namespace

void check_sweep_key(const std::string& key, const std::string& where) {
  if (key == "model" || key == "hw" || key == "looping") return;
  for (const char* phase_key : kPhaseKeys) {
    if (key == phase_key) return;
  }
  if ((starts_with(key, "hw.") && key.size() > 3) ||
      (starts_with(key, "model.") && key.size() > 6) || is_serving_key(key)) {
    return;
  }
  if (starts_with(key, "load.") || starts_with(key, "serving.")) {
    std::string known;
    for (const ServingKey& serving : serving_keys()) {
      if (is_serving_key(serving.key))
        known += (known.empty() ? "" : ", ") + std::string(serving.key);
    }
    throw InputError(where + ": unknown serving key '" + key + "' (expected " + known +
                     "; kernel looping is the key 'looping')");
  }
  throw InputError(where + ": unknown key '" + key +
                   "' (expected hw.<config path>, model.<config path>, phase.kind, phase.batch, "
                   "phase.context, phase.tokens, looping, model or hw; a serving sweep: load.* "
                   "and serving.* keys)");
}

std::vector<std::string> expand_grid_values(const std::string& spec, const std::string& where) {
  std::vector<std::string> values;
  if (spec.empty()) throw InputError(where + ": no values");
  if (spec.find(',') != std::string::npos) {
    std::size_t begin = 0;
    for (;;) {
      std::size_t comma = spec.find(',', begin);
      std::string value = spec.substr(begin, comma - begin);
      if (value.empty()) {
        throw InputError(where + ": empty value at position " + std::to_string(values.size() + 1));
      }
      values.push_back(value);
      if (comma == std::string::npos) break;
      begin = comma + 1;
    }
    return values;
  }
  // Only a spec that starts with a number is a range: "../my-h100.yaml" is a path.
  if (!split_number(spec)) return {spec};
  const std::size_t colon = spec.find(':');
  const std::size_t dots = spec.find("..");
  if (colon != std::string::npos) {
    const std::size_t second = spec.find(':', colon + 1);
    if (second == std::string::npos || spec.find(':', second + 1) != std::string::npos) {
      throw InputError(where + ": expected lo:hi:step");
    }
    auto [lo, unit] = range_bound(spec.substr(0, colon), where);
    auto [hi, hi_unit] = range_bound(spec.substr(colon + 1, second - colon - 1), where);
    auto [step, step_unit] = range_bound(spec.substr(second + 1), where);
    if (hi_unit != unit || (!step_unit.empty() && step_unit != unit)) {
      throw InputError(where + ": lo, hi and step must have the same unit ('" + unit + "', '" +
                       hi_unit + "', '" + step_unit + "')");
    }
    if (step <= 0) throw InputError(where + ": step must be positive");
    if (hi < lo) throw InputError(where + ": hi is below lo");
    const double count = std::floor((hi - lo) / step * (1 + 1e-12) + 1e-9) + 1;
    if (count > kMaxAxisValues) throw InputError(where + ": more than 1000000 values");
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(count); ++i) {
      values.push_back(format_value(lo + static_cast<double>(i) * step, unit));
    }
    return values;
  }
  if (dots != std::string::npos) {
    const std::size_t star = spec.rfind('*');
    if (star == std::string::npos || star < dots) {
      throw InputError(where + ": expected lo..hi*factor");
    }
    auto [lo, unit] = range_bound(spec.substr(0, dots), where);
    auto [hi, hi_unit] = range_bound(spec.substr(dots + 2, star - dots - 2), where);
    auto [factor, factor_unit] = range_bound(spec.substr(star + 1), where);
    if (hi_unit != unit) {
      throw InputError(where + ": lo and hi must have the same unit ('" + unit + "', '" + hi_unit +
                       "')");
    }
    if (!factor_unit.empty()) throw InputError(where + ": the factor takes no unit");
    if (lo <= 0) throw InputError(where + ": lo must be positive");
    if (factor <= 1) throw InputError(where + ": factor must be greater than 1");
    if (hi < lo) throw InputError(where + ": hi is below lo");
    for (std::int64_t i = 0;; ++i) {
      const double value = lo * std::pow(factor, static_cast<double>(i));
      if (value > hi * (1 + 1e-12)) break;
      if (values.size() == kMaxAxisValues) throw InputError(where + ": more than 1000000 values");
      values.push_back(format_value(value, unit));
    }
    return values;
  }
  return {spec};
}

SweepFactor parse_grid(const std::string& text) {
  auto [key, spec] = split_key_value(text, "--grid");
  const std::string where = "--grid " + text;
  check_sweep_key(key, where);
  return single_key_factor(key, expand_grid_values(spec, where), where);
}

SweepFactor parse_fixed(const std::string& text) {
  auto [key, value] = split_key_value(text, "--set");
  const std::string where = "--set " + text;
  check_sweep_key(key, where);
  if (value.empty()) throw InputError(where + ": empty value");
  return single_key_factor(key, {value}, where);
}

SweepFactor parse_name_list(const std::string& key, const std::string& list,
                            const std::string& option) {
  const std::string where = option + " " + list;
  std::vector<std::string> names;
  std::size_t begin = 0;
  for (;;) {
    std::size_t comma = list.find(',', begin);
    names.push_back(list.substr(begin, comma - begin));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return single_key_factor(key, names, where);
}

SweepFactor parse_points_csv(const std::string& text, const std::string& file_name) {
  SweepFactor factor;
  std::vector<std::string> keys;
  std::vector<std::size_t> key_columns;
  std::size_t line_number = 0;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line.front() == '#') continue;
    const int line_int = static_cast<int>(line_number);
    std::vector<CsvField> fields = split_csv_line(line, SourceLocation{file_name, line_int, 1});
    if (keys.empty()) {
      std::set<std::string> seen;
      for (const CsvField& field : fields) {
        SourceLocation where{file_name, line_int, static_cast<int>(field.column)};
        if (field.text.empty()) throw InputError(where, "", "empty column name");
        check_sweep_key(field.text, where.str());
        if (!seen.insert(field.text).second) {
          throw InputError(where, "", "column '" + field.text + "' appears twice");
        }
        keys.push_back(field.text);
      }
      continue;
    }
    if (fields.size() != keys.size()) {
      throw InputError(
          SourceLocation{file_name, line_int, 1}, "",
          fmt::format("expected {} values (one per column), got {}", keys.size(), fields.size()));
    }
    std::vector<SweepAssignment> row;
    std::vector<SourceLocation> cells;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].text.empty()) continue;  // the key's default
      SourceLocation where{file_name, line_int, static_cast<int>(fields[i].column)};
      check_value(keys[i], fields[i].text, where.str() + ": column '" + keys[i] + "'");
      row.emplace_back(keys[i], fields[i].text);
      cells.push_back(where);
    }
    factor.alternatives.push_back(std::move(row));
    factor.origins.push_back(SourceLocation{file_name, line_int, 1});
    factor.cell_origins.push_back(std::move(cells));
  }
  if (keys.empty()) throw InputError(SourceLocation{file_name}, "", "no header line");
  if (factor.alternatives.empty()) throw InputError(SourceLocation{file_name}, "", "no points");
  return factor;
}

std::vector<std::string> sweep_input_columns(bool serving) {
  if (!serving) return {std::begin(kSweepInputColumns), std::end(kSweepInputColumns)};
  std::vector<std::string> columns{"model", "hw"};
  for (const ServingKey& key : serving_keys()) columns.push_back(key.key);
  return columns;
}

std::vector<std::string> point_input_values(const SweepPoint& point,
                                            const std::vector<std::string>& override_keys) {
  if (point.serving) {
    std::vector<std::string> values{point.model, point.hw};
    for (const auto& [key, value] : point.serving_values) values.push_back(value);
    for (const std::string& key : override_keys) {
      auto it = std::find_if(point.overrides.begin(), point.overrides.end(),
                             [&](const Override& item) { return item.key == key; });
      values.push_back(it == point.overrides.end() ? "" : it->value);
    }
    return values;
  }
  std::vector<std::string> values{point.model,
                                  point.hw,
                                  std::string(phase_name(point.phase_kind)),
                                  std::to_string(point.batch),
                                  std::to_string(point.context),
                                  std::to_string(point.tokens),
                                  std::string(looping_mode_name(point.looping))};
  for (const std::string& key : override_keys) {
    auto it = std::find_if(point.overrides.begin(), point.overrides.end(),
                           [&](const Override& item) { return item.key == key; });
    values.push_back(it == point.overrides.end() ? "" : it->value);
  }
  return values;
}

std::string sweep_point_id(const SweepPoint& point) {
  // Unit separators cannot occur in a value given on a command line or in a CSV cell, so two
  // different input sets never serialize to the same text.
  // A serving point's text starts with a marker no run point's can, so the two never collide.
  std::string text = point.serving ? "serving\x1e" : "";
  const std::vector<std::string> values = point_input_values(point, {});
  const std::vector<std::string> columns = sweep_input_columns(point.serving);
  for (std::size_t i = 0; i < values.size(); ++i) {
    text += columns[i] + "\x1f" + values[i] + "\x1e";
  }
  for (const Override& item : point.overrides) text += item.key + "\x1f" + item.value + "\x1e";
  return fmt::format("{:016x}", fnv1a(text));
}

SweepPlan build_sweep_plan(const std::vector<SweepFactor>& factors, std::size_t max_points,
                           bool serving) {
  // Keys given by more than one factor would make a point ambiguous.
  std::map<std::string, std::size_t> owner;
  SweepPlan plan;
  plan.serving = serving;
  for (const SweepFactor& factor : factors) {
    for (const auto& alternative : factor.alternatives) {
      for (const auto& assignment : alternative) {
        if (is_serving_key(assignment.first)) plan.serving = true;
      }
    }
  }
  if (plan.serving) {
    for (const SweepFactor& factor : factors) {
      for (std::size_t a = 0; a < factor.alternatives.size(); ++a) {
        for (const auto& [key, value] : factor.alternatives[a]) {
          if (starts_with(key, "phase.")) {
            throw InputError(factor.origins[a].str() + ": " + key +
                             " is a dfsim run key; a serving sweep (load.* and serving.* keys) "
                             "sets its load with load.* keys");
          }
          if (key == "looping" && value == "auto") {
            throw InputError(factor.origins[a].str() +
                             ": looping: expected off or on in a serving sweep, got 'auto'");
          }
        }
      }
    }
  }
  std::size_t total = 1;
  for (std::size_t f = 0; f < factors.size(); ++f) {
    const SweepFactor& factor = factors[f];
    if (factor.alternatives.empty()) continue;
    for (std::size_t a = 0; a < factor.alternatives.size(); ++a) {
      for (const auto& [key, value] : factor.alternatives[a]) {
        auto [it, inserted] = owner.emplace(key, f);
        if (!inserted && it->second != f) {
          throw InputError(factor.origins[a].str() + ": key '" + key + "' is also given by " +
                           factors[it->second].origins.front().str());
        }
        if ((starts_with(key, "hw.") || starts_with(key, "model.")) &&
            std::find(plan.override_keys.begin(), plan.override_keys.end(), key) ==
                plan.override_keys.end()) {
          plan.override_keys.push_back(key);
        }
      }
    }
    if (total > max_points / factor.alternatives.size()) {
      throw InputError(fmt::format("the sweep has more than {} points", max_points));
    }
    total *= factor.alternatives.size();
  }
  // Keys that only some rows of a --points table set are still known to the plan; whether a
  // point lacks a model or hardware is checked per point below.
  plan.points.reserve(total);
  std::vector<std::size_t> choice(factors.size(), 0);
  for (std::size_t index = 0; index < total; ++index) {
    std::size_t rest = index;
    for (std::size_t f = factors.size(); f-- > 0;) {
      const std::size_t n = std::max<std::size_t>(1, factors[f].alternatives.size());
      choice[f] = rest % n;
      rest /= n;
    }
    SweepPoint point;
    point.index = index;
    point.serving = plan.serving;
    if (plan.serving) {
      for (const ServingKey& key : serving_keys()) {
        point.serving_values.emplace_back(key.key, key.default_value);
      }
    }
    auto set_serving_value = [&](const std::string& key, const std::string& value) {
      for (auto& entry : point.serving_values) {
        if (entry.first == key) entry.second = value;
      }
    };
    std::optional<std::int64_t> context;
    for (std::size_t f = 0; f < factors.size(); ++f) {
      if (factors[f].alternatives.empty()) continue;
      for (const auto& [key, value] : factors[f].alternatives[choice[f]]) {
        if (key == "model")
          point.model = value;
        else if (key == "hw")
          point.hw = value;
        else if (key == "phase.kind")
          point.phase_kind = value == "prefill" ? PhaseKind::kPrefill : PhaseKind::kDecode;
        else if (key == "phase.batch")
          point.batch = *parse_integer(value);
        else if (key == "phase.context")
          context = *parse_integer(value);
        else if (key == "phase.tokens")
          point.tokens = *parse_integer(value);
        else if (key == "looping") {
          point.looping = *parse_looping_mode(value);
          set_serving_value(key, value);
        } else if (is_serving_key(key))
          set_serving_value(key, value);
        else
          point.overrides.push_back({key, value});
      }
    }
    // The defaults of `dfsim run`: a 128-token cache for decode, a 512-token prompt for prefill.
    point.context = context ? *context : (point.phase_kind == PhaseKind::kPrefill ? 512 : 128);
    if (point.phase_kind == PhaseKind::kPrefill && point.context < 1) {
      throw InputError(
          fmt::format("point {}: phase.context (the prompt) must be at least 1 for "
                      "prefill",
                      index));
    }
    if (point.model.empty() || point.hw.empty()) {
      throw InputError(fmt::format("point {} has no {} (give --{}, or a '{}' column in --points)",
                                   index, point.model.empty() ? "model" : "hardware",
                                   point.model.empty() ? "model" : "hw",
                                   point.model.empty() ? "model" : "hw"));
    }
    std::sort(point.overrides.begin(), point.overrides.end(),
              [](const Override& a, const Override& b) { return a.key < b.key; });
    point.id = sweep_point_id(point);
    plan.points.push_back(std::move(point));
  }
  return plan;
}

void check_sweep_overrides(const std::vector<SweepFactor>& factors, const SweepPlan& plan) {
  std::set<std::string> models, hws;
  for (const SweepPoint& point : plan.points) {
    models.insert(point.model);
    hws.insert(point.hw);
  }
  for (const std::string& model : models) {
    try {
      (void)load_model_spec(model, {});
    } catch (const InputError& error) {
      throw InputError("model '" + model + "': " + std::string(error.what()));
    }
  }
  for (const std::string& hw : hws) {
    try {
      (void)load_hw_config(hw, {});
    } catch (const InputError& error) {
      throw InputError("hw '" + hw + "': " + std::string(error.what()));
    }
  }
  // Each distinct (config, key, value) once: a 1000-value grid costs 1000 config loads per
  // config, not one per point.
  std::set<std::tuple<std::string, std::string, std::string>> checked;
  for (const SweepFactor& factor : factors) {
    for (std::size_t a = 0; a < factor.alternatives.size(); ++a) {
      const auto& alternative = factor.alternatives[a];
      // A --points row that names its own model or hardware is checked against that one only.
      std::set<std::string> own_models = models, own_hws = hws;
      for (const auto& [key, value] : alternative) {
        if (key == "model") own_models = {value};
        if (key == "hw") own_hws = {value};
      }
      for (std::size_t c = 0; c < alternative.size(); ++c) {
        const auto& [key, value] = alternative[c];
        const bool is_hw = starts_with(key, "hw.");
        if (!is_hw && !starts_with(key, "model.")) continue;
        for (const std::string& config : is_hw ? own_hws : own_models) {
          if (!checked.emplace(config, key, value).second) continue;
          try {
            if (is_hw) {
              (void)load_hw_config(config, {{key, value}});
            } else {
              (void)load_model_spec(config, {{key, value}});
            }
          } catch (const InputError& error) {
            std::string where = factor.cell_origins.empty()
                                    ? factor.origins[a].str()
                                    : factor.cell_origins[a][c].str() + ": column '" + key + "'";
            throw InputError(where + ": " + key + "=" + value + " on " + config + ": " +
                             without_location(error));
          }
        }
      }
    }
  }
}

Shard parse_shard(const std::string& text) {
  const std::string where = "--shard " + text;
  std::size_t slash = text.find('/');
  if (slash == std::string::npos) throw InputError(where + ": expected K/N, e.g. 0/4");
  auto index = parse_integer(text.substr(0, slash));
  auto count = parse_integer(text.substr(slash + 1));
  if (!index || !count) throw InputError(where + ": expected K/N with integers, e.g. 0/4");
  if (*count < 1) throw InputError(where + ": N must be at least 1");
  if (*index >= *count) {
    throw InputError(where +
                     ": K counts from 0 and must be below N (SLURM_ARRAY_TASK_ID of "
                     "--array=0-" +
                     std::to_string(*count - 1) + ")");
  }
  return {static_cast<std::size_t>(*index), static_cast<std::size_t>(*count)};
}

}  // namespace dfsim
