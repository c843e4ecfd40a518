#include "sim/engine/calibration.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "sim/common/error.h"
#include "sim/engine/isolated_run.h"

namespace dfsim {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kColumns{"hw",       "model",  "weight_dtype", "phase",
                                        "batch",    "prompt", "gen",          "metric",
                                        "measured", "unit",   "source",       "notes"};
// serving.csv: an inference server under a request load (hw_configs/measured/README.md).
const std::vector<std::string> kServingColumns{
    "hw",  "model", "weight_dtype", "kv_dtype", "tp",   "requests", "isl",
    "osl", "rate",  "metric",       "measured", "unit", "source",   "notes"};
// Optional in either layout: the config fields fitted to the row.
const std::string kFittedBy = "fitted_by";

struct Field {
  std::string text;
  int line = 0;
  int column = 0;
};

// Splits the whole file into records of fields (RFC 4180: quoted fields may hold commas, doubled
// quotes and line breaks), each field with where it starts.
std::vector<std::vector<Field>> parse_csv(const std::string& path, const std::string& text) {
  std::vector<std::vector<Field>> records;
  std::vector<Field> record;
  Field field;
  int line = 1;
  int column = 1;
  bool quoted = false;
  bool at_field_start = true;
  bool after_quote = false;  // the closing quote of a quoted field was seen
  auto begin_field = [&] {
    field = Field{"", line, column};
    at_field_start = true;
    after_quote = false;
  };
  begin_field();
  auto end_record = [&] {
    record.push_back(field);
    const bool blank = record.size() == 1 && record.front().text.empty() && !after_quote;
    if (!blank) records.push_back(std::move(record));
    record.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.text += '"';
        ++i;
        column += 2;
        continue;
      }
      if (c == '"') {
        quoted = false;
        after_quote = true;
      } else {
        field.text += c;
      }
      if (c == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
      continue;
    }
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == ',') {
      record.push_back(field);
      ++column;
      begin_field();
      continue;
    }
    if (c == '\n') {
      end_record();
      ++line;
      column = 1;
      begin_field();
      continue;
    }
    if (c == '"' && at_field_start) {
      quoted = true;
      at_field_start = false;
      ++column;
      continue;
    }
    if (after_quote) {
      throw InputError(SourceLocation{path, line, column}, "",
                       "unexpected text after a closing quote");
    }
    field.text += c;
    at_field_start = false;
    ++column;
  }
  if (quoted)
    throw InputError(SourceLocation{path, field.line, field.column}, "",
                     "quoted field never closed");
  if (!field.text.empty() || !record.empty() || after_quote) end_record();
  return records;
}

std::int64_t integer_field(const std::string& path, const Field& f, const std::string& key,
                           std::int64_t min) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(f.text.data(), f.text.data() + f.text.size(), value);
  if (f.text.empty() || error != std::errc() || end != f.text.data() + f.text.size() ||
      value < min) {
    throw InputError(SourceLocation{path, f.line, f.column}, key,
                     fmt::format("expected an integer of at least {}, got '{}'", min, f.text));
  }
  return value;
}

double number_field(const std::string& path, const Field& f, const std::string& key) {
  char* end = nullptr;
  const double value = std::strtod(f.text.c_str(), &end);
  if (f.text.empty() || end != f.text.c_str() + f.text.size() || !std::isfinite(value) ||
      value <= 0) {
    throw InputError(SourceLocation{path, f.line, f.column}, key,
                     "expected a positive number, got '" + f.text + "'");
  }
  return value;
}

// What the source and the notes say in words that the simulation must follow.
std::vector<Override> overrides_from_notes(const CalibrationRow& row) {
  std::vector<Override> overrides;
  const bool grouped = row.weight_dtype == "int4" || row.weight_dtype == "int8";
  std::smatch match;
  static const std::regex group(R"(group(?:[ -]?size)?\s*(\d+))", std::regex::icase);
  static const std::regex channel(R"(per[ -]channel)", std::regex::icase);
  if (grouped && std::regex_search(row.notes, match, group)) {
    overrides.push_back({"model.weight_group_size", match[1].str()});
  } else if (grouped && std::regex_search(row.notes, channel)) {
    overrides.push_back({"model.weight_group_size", "0"});
  }
  // The software stack a row was measured with is one of its conditions: gpt-fast forms other
  // GPU kernels than a serving engine (hw.stack, sim/mapping/gpu_mapper.cpp).
  static const std::regex gpt_fast(R"(gpt-fast)", std::regex::icase);
  if (std::regex_search(row.source, gpt_fast)) overrides.push_back({"hw.stack", "gpt-fast"});
  // A board power limit the row ran under ("power-limited to 330 W"): the GPU's clock model
  // (models/gpu/power_model.h) runs it at that limit.
  static const std::regex power(R"(power[- ]limit(?:ed)?(?: to| of)?\s*(\d+(?:\.\d+)?)\s*W\b)",
                                std::regex::icase);
  if (std::regex_search(row.notes, match, power)) {
    overrides.push_back({"hw.power.limit", match[1].str() + " W"});
  }
  static const std::regex set(R"(\(set ([^)]*)\))");
  if (std::regex_search(row.notes, match, set)) {
    std::string items = match[1].str();
    std::replace(items.begin(), items.end(), ',', ' ');
    std::istringstream in(items);
    for (std::string item; in >> item;) overrides.push_back(parse_override(item));
  }
  return overrides;
}

CalibrationRow parse_row(const std::string& path, const std::map<std::string, std::size_t>& index,
                         const std::vector<Field>& fields) {
  auto get = [&](const std::string& key) -> const Field& { return fields[index.at(key)]; };
  auto where = [&](const std::string& key) {
    const Field& f = get(key);
    return SourceLocation{path, f.line, f.column};
  };
  CalibrationRow row;
  row.file = path;
  row.line = fields.front().line;
  for (const char* key : {"hw", "model", "weight_dtype", "metric", "phase"}) {
    if (get(key).text.empty()) throw InputError(where(key), key, "must not be empty");
  }
  row.hw = get("hw").text;
  row.model = get("model").text;
  row.weight_dtype = get("weight_dtype").text;
  if (!parse_dtype(row.weight_dtype)) {
    throw InputError(where("weight_dtype"), "weight_dtype",
                     "expected one of " + dtype_choices() + ", got '" + row.weight_dtype + "'");
  }
  const std::string& phase = get("phase").text;
  if (phase != "decode" && phase != "prefill") {
    throw InputError(where("phase"), "phase", "expected decode or prefill, got '" + phase + "'");
  }
  row.phase = phase == "decode" ? PhaseKind::kDecode : PhaseKind::kPrefill;
  row.batch = integer_field(path, get("batch"), "batch", 1);
  row.prompt =
      integer_field(path, get("prompt"), "prompt", row.phase == PhaseKind::kPrefill ? 1 : 0);
  row.gen = integer_field(path, get("gen"), "gen", row.phase == PhaseKind::kDecode ? 1 : 0);
  row.metric = get("metric").text;
  const auto& metrics = calibration_metrics();
  if (std::find(metrics.begin(), metrics.end(), row.metric) == metrics.end()) {
    std::string known;
    for (const std::string& m : metrics) known += (known.empty() ? "" : ", ") + m;
    throw InputError(where("metric"), "metric",
                     "expected one of " + known + ", got '" + row.metric + "'");
  }
  row.measured = number_field(path, get("measured"), "measured");
  row.unit = get("unit").text;
  row.source = get("source").text;
  row.notes = get("notes").text;
  if (index.count(kFittedBy)) row.fitted_by = get(kFittedBy).text;
  try {
    row.overrides = overrides_from_notes(row);
  } catch (const InputError& error) {
    throw InputError(where("notes"), "notes", error.what());
  }
  return row;
}

// A serving.csv row: checked like the others, so that bad input fails now and not when serving
// is simulated.
CalibrationRow parse_serving_row(const std::string& path,
                                 const std::map<std::string, std::size_t>& index,
                                 const std::vector<Field>& fields) {
  auto get = [&](const std::string& key) -> const Field& { return fields[index.at(key)]; };
  auto where = [&](const std::string& key) {
    const Field& f = get(key);
    return SourceLocation{path, f.line, f.column};
  };
  CalibrationRow row;
  row.file = path;
  row.line = fields.front().line;
  for (const char* key : {"hw", "model", "weight_dtype", "kv_dtype", "metric", "rate"}) {
    if (get(key).text.empty()) throw InputError(where(key), key, "must not be empty");
  }
  CalibrationRow::Serving serving;
  row.hw = get("hw").text;
  row.model = get("model").text;
  row.weight_dtype = get("weight_dtype").text;
  serving.kv_dtype = get("kv_dtype").text;
  for (const char* key : {"weight_dtype", "kv_dtype"}) {
    if (!parse_dtype(get(key).text)) {
      throw InputError(where(key), key,
                       "expected one of " + dtype_choices() + ", got '" + get(key).text + "'");
    }
  }
  serving.tp = integer_field(path, get("tp"), "tp", 1);
  serving.requests = integer_field(path, get("requests"), "requests", 1);
  row.prompt = integer_field(path, get("isl"), "isl", 1);
  row.gen = integer_field(path, get("osl"), "osl", 1);
  serving.rate = get("rate").text;
  if (serving.rate != "inf") number_field(path, get("rate"), "rate");
  row.metric = get("metric").text;
  const auto& metrics = serving_metrics();
  if (std::find(metrics.begin(), metrics.end(), row.metric) == metrics.end()) {
    std::string known;
    for (const std::string& m : metrics) known += (known.empty() ? "" : ", ") + m;
    throw InputError(where("metric"), "metric",
                     "expected one of " + known + ", got '" + row.metric + "'");
  }
  row.measured = number_field(path, get("measured"), "measured");
  row.unit = get("unit").text;
  row.source = get("source").text;
  row.notes = get("notes").text;
  if (index.count(kFittedBy)) row.fitted_by = get(kFittedBy).text;
  row.serving = serving;
  return row;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

const std::vector<std::string>& calibration_metrics() {
  static const std::vector<std::string> metrics{"tokens_per_second", "time_per_token_s",
                                                "looping_speedup", "bandwidth_utilization"};
  return metrics;
}

const std::vector<std::string>& serving_metrics() {
  static const std::vector<std::string> metrics{"output_tokens_per_second", "mean_ttft_s",
                                                "mean_itl_s"};
  return metrics;
}

std::vector<CalibrationRow> read_calibration_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(SourceLocation{path}, "", "cannot read the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const auto records = parse_csv(path, buffer.str());
  if (records.empty()) throw InputError(SourceLocation{path, 1, 1}, "", "empty; expected a header");
  // The layout: serving rows when the header names any column only they have.
  const auto& header = records.front();
  const bool serving = std::any_of(header.begin(), header.end(), [](const Field& f) {
    return std::find(kColumns.begin(), kColumns.end(), f.text) == kColumns.end() &&
           std::find(kServingColumns.begin(), kServingColumns.end(), f.text) !=
               kServingColumns.end();
  });
  const std::vector<std::string>& columns = serving ? kServingColumns : kColumns;
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const Field& f = header[i];
    if (f.text != kFittedBy && std::find(columns.begin(), columns.end(), f.text) == columns.end()) {
      std::string known;
      for (const std::string& c : columns) known += (known.empty() ? "" : ", ") + c;
      throw InputError(SourceLocation{path, f.line, f.column}, f.text,
                       "unknown column (expected " + known + "; optional " + kFittedBy + ")");
    }
    if (!index.emplace(f.text, i).second) {
      throw InputError(SourceLocation{path, f.line, f.column}, f.text, "column given twice");
    }
  }
  for (const std::string& column : columns) {
    if (!index.count(column)) {
      throw InputError(SourceLocation{path, 1, 1}, column, "column missing from the header");
    }
  }
  std::vector<CalibrationRow> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& fields = records[r];
    if (fields.size() != index.size()) {
      throw InputError(SourceLocation{path, fields.front().line, 1}, "",
                       fmt::format("{} fields, the header has {}", fields.size(), index.size()));
    }
    rows.push_back(serving ? parse_serving_row(path, index, fields)
                           : parse_row(path, index, fields));
  }
  return rows;
}

std::vector<std::string> calibration_files(const std::string& path) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(path, error)) {
      if (entry.is_regular_file() && entry.path().extension() == ".csv") {
        files.push_back(entry.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw InputError(SourceLocation{path}, "", "no .csv files in the directory");
    return files;
  }
  if (!fs::is_regular_file(path, error)) {
    throw InputError(SourceLocation{path}, "", "no such file or directory");
  }
  return {path};
}

RowResult simulate_calibration_row(const CalibrationRow& row) {
  RowResult result;
  result.row = row;
  if (row.serving) {
    result.settings =
        fmt::format("serving: {} requests of {} + {} tokens at {} requests/s, TP{}",
                    row.serving->requests, row.prompt, row.gen, row.serving->rate, row.serving->tp);
    result.reason =
        "a serving row (a server under a request load); dfsim does not simulate "
        "serving yet (issue 16)";
    return result;
  }
  RunRequest request;
  request.model = row.model;
  request.hw = row.hw;
  request.overrides.push_back({"model.weight_dtype", row.weight_dtype});
  for (const Override& item : row.overrides) request.overrides.push_back(item);
  request.phase.kind = row.phase;
  request.phase.batch = row.batch;
  request.phase.context = row.prompt;
  request.phase.tokens = row.phase == PhaseKind::kDecode ? row.gen : 1;
  result.settings =
      row.phase == PhaseKind::kDecode
          ? fmt::format("decode batch {}, context {}, {} tokens", row.batch, row.prompt, row.gen)
          : fmt::format("prefill batch {}, prompt {}", row.batch, row.prompt);
  for (const Override& item : request.overrides) {
    result.settings += fmt::format(", {}={}", item.key, item.value);
  }
  try {
    locate_config(ConfigKind::kHardware, row.hw);
  } catch (const InputError&) {
    result.reason = "no hardware config '" + row.hw + "'";
    return result;
  }
  try {
    locate_config(ConfigKind::kWorkload, row.model);
  } catch (const InputError&) {
    result.reason = "no workload '" + row.model + "'";
    return result;
  }
  try {
    if (row.metric == "looping_speedup") {
      request.looping = LoopingMode::kOff;
      const RunStats off = run_isolated(request);
      request.looping = LoopingMode::kOn;
      const RunStats on = run_isolated(request);
      result.value = off.time_s / on.time_s;
      result.settings += ", looping off vs on";
    } else {
      if (row.metric == "bandwidth_utilization") {
        request.looping = LoopingMode::kOn;
        result.settings += ", looping on";
      }
      const RunStats stats = run_isolated(request);
      if (row.metric == "tokens_per_second") result.value = stats.tokens_per_second;
      if (row.metric == "bandwidth_utilization") result.value = stats.bandwidth_utilization;
      if (row.metric == "time_per_token_s") {
        result.value =
            row.phase == PhaseKind::kDecode ? stats.time_per_step_s : 1.0 / stats.tokens_per_second;
      }
    }
  } catch (const std::exception& error) {
    result.reason = error.what();
    return result;
  }
  result.simulated = true;
  result.error = (result.value - row.measured) / row.measured;
  return result;
}

FileSummary summarize_calibration(const std::string& path, std::vector<RowResult> rows) {
  FileSummary summary;
  summary.path = path;
  std::vector<double> errors, fitted_errors;
  for (const RowResult& row : rows) {
    if (row.simulated) {
      ++summary.simulated;
      (row.row.fitted_by.empty() ? errors : fitted_errors).push_back(std::fabs(row.error));
    } else {
      ++summary.not_simulated;
    }
  }
  if (!errors.empty()) {
    summary.median_abs_error = median(errors);
    summary.max_abs_error = *std::max_element(errors.begin(), errors.end());
  }
  summary.fitted = static_cast<std::int64_t>(fitted_errors.size());
  if (!fitted_errors.empty()) {
    summary.fitted_median_abs_error = median(fitted_errors);
    summary.fitted_max_abs_error = *std::max_element(fitted_errors.begin(), fitted_errors.end());
  }
  summary.rows = std::move(rows);
  return summary;
}

}  // namespace dfsim
