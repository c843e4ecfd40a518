#include "sim/engine/calibration.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>

#include "sim/common/error.h"
#include "sim/engine/run_request.h"
#include "sim/engine/serving_row.h"
#include "sim/engine/serving_run.h"
#include "sim/engine/worker_pool.h"
#include "sim/report/report.h"

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
// Columns a file may have or leave out: `aggregate` (calibration rows only) and `fitted_by` (the
// config fields fitted to the row, in either layout).
const std::string kAggregate = "aggregate";
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

// The ';'-separated entries of an aggregate row's hw or model field (spaces around them
// ignored); a plain row's field is its one entry.
std::vector<std::string> entries(const std::string& path, const Field& f, const std::string& key,
                                 bool aggregate) {
  if (!aggregate) {
    if (f.text.find(';') != std::string::npos) {
      throw InputError(SourceLocation{path, f.line, f.column}, key,
                       "several entries ('" + f.text +
                           "') need the aggregate column: max or geomean over every model on "
                           "every hw listed");
    }
    return {f.text};
  }
  std::vector<std::string> out;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = std::min(f.text.find(';', begin), f.text.size());
    std::string item = f.text.substr(begin, end - begin);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.empty()) {
      throw InputError(SourceLocation{path, f.line, f.column}, key,
                       "empty entry in '" + f.text + "' (entries are separated by ';')");
    }
    out.push_back(item);
    if (end == f.text.size()) break;
    begin = end + 1;
  }
  return out;
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

// One row's fields by column name, with where each lies in the file.
struct RowFields {
  const std::string& path;
  const std::map<std::string, std::size_t>& index;
  const std::vector<Field>& fields;

  bool has(const std::string& key) const { return index.count(key) > 0; }
  const Field& get(const std::string& key) const { return fields[index.at(key)]; }
  SourceLocation where(const std::string& key) const {
    const Field& field = get(key);
    return SourceLocation{path, field.line, field.column};
  }
  // InputError naming the first of `keys` whose field is empty.
  void require(std::initializer_list<const char*> keys) const {
    for (const char* key : keys) {
      if (get(key).text.empty()) throw InputError(where(key), key, "must not be empty");
    }
  }
  // The field of `key`, which must name a dtype (InputError otherwise).
  const std::string& dtype(const char* key) const {
    const std::string& text = get(key).text;
    if (!parse_dtype(text)) {
      throw InputError(where(key), key,
                       "expected one of " + dtype_choices() + ", got '" + text + "'");
    }
    return text;
  }
};

// The columns both layouts share after their own: metric (one of `metrics`), measured, unit,
// source, notes and the optional fitted_by.
void read_measurement(const RowFields& row_fields, const std::vector<std::string>& metrics,
                      CalibrationRow& row) {
  const Field& metric = row_fields.get("metric");
  row.metric = metric.text;
  if (std::find(metrics.begin(), metrics.end(), row.metric) == metrics.end()) {
    throw InputError(
        row_fields.where("metric"), "metric",
        fmt::format("expected one of {}, got '{}'", fmt::join(metrics, ", "), row.metric));
  }
  row.measured = number_field(row_fields.path, row_fields.get("measured"), "measured");
  row.unit = row_fields.get("unit").text;
  row.source = row_fields.get("source").text;
  row.notes = row_fields.get("notes").text;
  if (row_fields.has(kFittedBy)) row.fitted_by = row_fields.get(kFittedBy).text;
}

CalibrationRow parse_row(const RowFields& in) {
  const std::string& path = in.path;
  in.require({"hw", "model", "weight_dtype", "metric", "phase"});
  CalibrationRow row;
  row.file = path;
  row.line = in.fields.front().line;
  row.hw = in.get("hw").text;
  row.model = in.get("model").text;
  if (in.has("aggregate")) {
    row.aggregate = in.get("aggregate").text;
    const auto& aggregates = calibration_aggregates();
    if (!row.aggregate.empty() &&
        std::find(aggregates.begin(), aggregates.end(), row.aggregate) == aggregates.end()) {
      throw InputError(in.where("aggregate"), "aggregate",
                       "expected max or geomean (or nothing for a row of one hw and one model), "
                       "got '" +
                           row.aggregate + "'");
    }
  }
  row.hws = entries(path, in.get("hw"), "hw", !row.aggregate.empty());
  row.models = entries(path, in.get("model"), "model", !row.aggregate.empty());
  row.weight_dtype = in.dtype("weight_dtype");
  const std::string& phase = in.get("phase").text;
  if (phase != "decode" && phase != "prefill") {
    throw InputError(in.where("phase"), "phase", "expected decode or prefill, got '" + phase + "'");
  }
  row.phase = phase == "decode" ? PhaseKind::kDecode : PhaseKind::kPrefill;
  row.batch = integer_field(path, in.get("batch"), "batch", 1);
  row.prompt =
      integer_field(path, in.get("prompt"), "prompt", row.phase == PhaseKind::kPrefill ? 1 : 0);
  row.gen = integer_field(path, in.get("gen"), "gen", row.phase == PhaseKind::kDecode ? 1 : 0);
  read_measurement(in, calibration_metrics(), row);
  try {
    row.overrides = overrides_from_notes(row);
  } catch (const InputError& error) {
    throw InputError(in.where("notes"), "notes", error.what());
  }
  return row;
}

// A serving.csv row: checked like the others, so that bad input fails before anything runs.
CalibrationRow parse_serving_row(const RowFields& in) {
  const std::string& path = in.path;
  in.require({"hw", "model", "weight_dtype", "kv_dtype", "metric", "rate"});
  CalibrationRow row;
  row.file = path;
  row.line = in.fields.front().line;
  CalibrationRow::Serving serving;
  row.hw = in.get("hw").text;
  row.model = in.get("model").text;
  row.hws = {row.hw};
  row.models = {row.model};
  row.weight_dtype = in.dtype("weight_dtype");
  serving.kv_dtype = in.dtype("kv_dtype");
  serving.tp = integer_field(path, in.get("tp"), "tp", 1);
  serving.requests = integer_field(path, in.get("requests"), "requests", 1);
  row.prompt = integer_field(path, in.get("isl"), "isl", 1);
  row.gen = integer_field(path, in.get("osl"), "osl", 1);
  serving.rate = in.get("rate").text;
  if (serving.rate != "inf") number_field(path, in.get("rate"), "rate");
  read_measurement(in, serving_metrics(), row);
  row.serving = serving;
  return row;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

const std::vector<std::string>& calibration_aggregates() {
  static const std::vector<std::string> aggregates{"max", "geomean"};
  return aggregates;
}

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
    const bool optional = f.text == kFittedBy || (!serving && f.text == kAggregate);
    if (!optional && std::find(columns.begin(), columns.end(), f.text) == columns.end()) {
      std::string known;
      for (const std::string& c : columns) known += (known.empty() ? "" : ", ") + c;
      const std::string optionals = serving ? kFittedBy : kAggregate + ", " + kFittedBy;
      throw InputError(SourceLocation{path, f.line, f.column}, f.text,
                       "unknown column (expected " + known + "; optional: " + optionals + ")");
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
    const RowFields row_fields{path, index, fields};
    rows.push_back(serving ? parse_serving_row(row_fields) : parse_row(row_fields));
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

namespace {

// One child simulation of a row: one combination of an aggregate row, and for a
// looping_speedup one of its two runs.
struct Job {
  std::size_t row = 0;
  std::size_t member = 0;
  bool looping_on = false;  // looping_speedup: the run with looping
  RunRequest request;
  // A serving row's run instead (sim/engine/serving_row.h); rows with the same load and settings
  // (the online rows' three metrics) share one.
  std::optional<ServingRunRequest> serving;
  std::vector<std::size_t> serving_rows;  // the rows whose metric this run gives
};

// What a serving run gives the rows that share it: every metric a serving row may name.
nlohmann::json serving_reply(const ServingRunRequest& request) {
  const ServingRun run = run_serving_simulation(request);
  nlohmann::json metrics;
  for (const std::string& metric : serving_metrics()) metrics[metric] = serving_metric(metric, run);
  return metrics;
}

// What a row's metric is in a run (looping_speedup: in its pair of runs).
double metric_value(const CalibrationRow& row, const RunStats& stats, const RunStats* looped) {
  if (row.metric == "looping_speedup") return stats.time_s / looped->time_s;
  if (row.metric == "tokens_per_second") return stats.tokens_per_second;
  if (row.metric == "bandwidth_utilization") return stats.bandwidth_utilization;
  // time_per_token_s
  return row.phase == PhaseKind::kDecode ? stats.time_per_step_s : 1.0 / stats.tokens_per_second;
}

std::string failure(const WorkerOutcome& outcome) {
  switch (outcome.kind) {
    case WorkerOutcome::Kind::kSignaled:
      return fmt::format("simulation process killed by signal {} ({})", outcome.signal,
                         strsignal(outcome.signal));
    case WorkerOutcome::Kind::kTimedOut:
      return "simulation process timed out";
    case WorkerOutcome::Kind::kExited:
      break;
  }
  return fmt::format("simulation process exited with code {}", outcome.exit_code);
}

}  // namespace

std::vector<RowResult> simulate_calibration_rows(const std::vector<CalibrationRow>& rows,
                                                 const std::vector<Override>& extra, int workers,
                                                 std::optional<std::int64_t> serving_requests) {
  std::vector<RowResult> results(rows.size());
  std::vector<Job> jobs;
  std::map<std::string, std::size_t> serving_job;  // a serving run's settings -> its job
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const CalibrationRow& row = rows[r];
    RowResult& result = results[r];
    result.row = row;
    if (row.serving) {
      CalibrationRow planned = row;
      for (const Override& item : extra) planned.overrides.push_back(item);
      result.settings = fmt::format("serving: {} requests of {} + {} tokens at {} requests/s, TP{}",
                                    row.serving->requests, row.prompt, row.gen, row.serving->rate,
                                    row.serving->tp);
      ServingRowPlan plan;
      try {
        // A config that is not there: the same reason as for the other rows.
        plan.reason = "no hardware config '" + row.hw + "'";
        locate_config(ConfigKind::kHardware, row.hw);
        plan.reason = "no workload '" + row.model + "'";
        locate_config(ConfigKind::kWorkload, row.model);
        plan.reason.clear();
        const std::optional<std::int64_t> requests =
            serving_requests
                ? std::optional<std::int64_t>(std::min(*serving_requests, row.serving->requests))
                : std::nullopt;
        plan = plan_serving_row(planned, requests);
      } catch (const InputError& error) {
        if (plan.reason.empty()) plan.reason = error.what();
      }
      if (!plan.request) {
        result.reason = plan.reason;
        continue;
      }
      result.settings = plan.settings;
      for (const Override& item : extra) {
        result.settings += fmt::format(", {}={}", item.key, item.value);
      }
      const std::string key = row.hws.front() + "|" + row.models.front() + "|" + result.settings;
      auto [it, added] = serving_job.emplace(key, jobs.size());
      if (added) {
        Job job;
        job.row = r;
        job.serving = std::move(plan.request);
        jobs.push_back(std::move(job));
      }
      jobs[it->second].serving_rows.push_back(r);
      continue;
    }
    RunRequest request;
    request.overrides.push_back({"model.weight_dtype", row.weight_dtype});
    for (const Override& item : row.overrides) request.overrides.push_back(item);
    for (const Override& item : extra) request.overrides.push_back(item);
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
    if (row.metric == "looping_speedup") result.settings += ", looping off vs on";
    if (row.metric == "bandwidth_utilization") {
      request.looping = LoopingMode::kOn;
      result.settings += ", looping on";
    }
    // A config that is not there is known before anything runs.
    for (const std::string& hw : row.hws) {
      try {
        locate_config(ConfigKind::kHardware, hw);
      } catch (const InputError&) {
        result.reason = "no hardware config '" + hw + "'";
      }
      if (!result.reason.empty()) break;
    }
    for (const std::string& model : row.models) {
      if (!result.reason.empty()) break;
      try {
        locate_config(ConfigKind::kWorkload, model);
      } catch (const InputError&) {
        result.reason = "no workload '" + model + "'";
      }
    }
    if (!result.reason.empty()) continue;
    for (const std::string& hw : row.hws) {
      for (const std::string& model : row.models) {
        const std::size_t member = result.members.size();
        result.members.push_back({hw, model, 0});
        request.hw = hw;
        request.model = model;
        if (row.metric == "looping_speedup") {
          request.looping = LoopingMode::kOff;
          jobs.push_back({r, member, false, request, std::nullopt, {}});
          request.looping = LoopingMode::kOn;
          jobs.push_back({r, member, true, request, std::nullopt, {}});
        } else {
          jobs.push_back({r, member, false, request, std::nullopt, {}});
        }
      }
    }
  }

  // Each job's stats, or why there are none.
  std::vector<std::optional<RunStats>> stats(jobs.size());
  std::vector<nlohmann::json> serving(jobs.size());
  std::vector<std::string> errors(jobs.size());
  WorkerPoolOptions pool;
  pool.workers = std::max(1, workers);
  run_in_workers(
      jobs.size(), pool,
      [&](std::size_t j) {
        nlohmann::json reply;
        try {
          if (jobs[j].serving) {
            reply = {{"ok", true}, {"serving", serving_reply(*jobs[j].serving)}};
          } else {
            reply = {{"ok", true}, {"stats", to_json(run_simulation(jobs[j].request))}};
          }
        } catch (const std::exception& error) {
          reply = {{"ok", false}, {"error", error.what()}};
        }
        return reply.dump();
      },
      [&](std::size_t j, const WorkerOutcome& outcome) {
        const nlohmann::json reply = nlohmann::json::parse(outcome.output, nullptr, false);
        if (outcome.kind != WorkerOutcome::Kind::kExited || outcome.exit_code != 0 ||
            reply.is_discarded() || !reply.contains("ok")) {
          errors[j] = failure(outcome);
        } else if (!reply["ok"].get<bool>()) {
          errors[j] = reply["error"].get<std::string>();
        } else if (jobs[j].serving) {
          serving[j] = reply["serving"];
        } else {
          stats[j] = run_stats_from_json(reply["stats"]);
        }
      });

  // Jobs of a row are consecutive, a looping_speedup's two runs side by side.
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const Job& job = jobs[j];
    if (job.serving) {
      for (std::size_t r : job.serving_rows) {
        RowResult& row = results[r];
        if (errors[j].empty()) {
          row.members.push_back({row.row.hws.front(), row.row.models.front(),
                                 serving[j][row.row.metric].get<double>()});
        } else {
          row.reason = errors[j];
        }
      }
      continue;
    }
    RowResult& result = results[job.row];
    if (!result.reason.empty() || job.looping_on) continue;
    const CalibrationRow& row = result.row;
    const bool pair = row.metric == "looping_speedup";
    std::string error = errors[j].empty() && pair ? errors[j + 1] : errors[j];
    if (!error.empty()) {
      MemberResult& member = result.members[job.member];
      result.reason = row.aggregate.empty()
                          ? error
                          : fmt::format("{} on {}: {}", member.model, member.hw, error);
      continue;
    }
    result.members[job.member].value =
        metric_value(row, *stats[j], pair ? &*stats[j + 1] : nullptr);
  }
  for (RowResult& result : results) {
    if (!result.reason.empty()) {
      result.members.clear();
      continue;
    }
    const CalibrationRow& row = result.row;
    if (row.aggregate == "geomean") {
      double log_sum = 0;
      for (const MemberResult& member : result.members) log_sum += std::log(member.value);
      result.value = std::exp(log_sum / result.members.size());
    } else {  // max, or the one member of a plain row
      result.value = 0;
      for (const MemberResult& member : result.members) {
        result.value = std::max(result.value, member.value);
      }
    }
    if (row.aggregate.empty()) result.members.clear();
    result.simulated = true;
    result.error = (result.value - row.measured) / row.measured;
  }
  return results;
}

RowResult simulate_calibration_row(const CalibrationRow& row) {
  return simulate_calibration_rows({row}).front();
}

FileSummary summarize_calibration(const std::string& path, std::vector<RowResult> rows) {
  FileSummary summary;
  summary.path = path;
  std::vector<double> errors, fitted_errors;
  std::map<std::string, std::vector<double>> serving_errors;
  for (const RowResult& row : rows) {
    if (row.simulated) {
      ++summary.simulated;
      const bool fitted = !row.row.fitted_by.empty();
      if (row.row.serving && !fitted) {
        serving_errors[row.row.metric].push_back(std::fabs(row.error));
      }
      if (row.row.serving && row.row.metric != "output_tokens_per_second") continue;
      (fitted ? fitted_errors : errors).push_back(std::fabs(row.error));
    } else {
      ++summary.not_simulated;
    }
  }
  if (!errors.empty()) {
    summary.median_abs_error = median(errors);
    summary.max_abs_error = *std::max_element(errors.begin(), errors.end());
  }
  for (const std::string& metric : serving_metrics()) {
    auto it = serving_errors.find(metric);
    if (it == serving_errors.end()) continue;
    summary.serving.push_back({metric, static_cast<std::int64_t>(it->second.size()),
                               median(it->second),
                               *std::max_element(it->second.begin(), it->second.end())});
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
