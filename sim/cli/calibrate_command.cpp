// `dfsim calibrate`: fits up to three numeric fields of a hardware config to measured rows (the
// engine is sim/engine/calibrate.h) and prints every row's error before and after, the fitted
// values, and with --write the config with the fitted fields marked FITTED.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "sim/cli/commands.h"
#include "sim/cli/output_file.h"
#include "sim/common/atomic_file.h"
#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/engine/calibrate.h"
#include "sim/engine/worker_pool.h"

namespace dfsim {

namespace {

struct CalibrateCommandOptions {
  std::string hw;
  std::vector<std::string> paths;
  std::vector<std::string> free;
  std::string objective = "median-abs";
  std::size_t evaluations = 0;
  int jobs = 0;
  std::string write;
  std::string format = "table";
  std::string out;
};

std::string percent(double value) {
  return fmt::format("{:+.2f}%", 100 * value);
}

std::string objective_value(CalibrationObjective objective, double value) {
  if (!std::isfinite(value)) return "-";
  return objective == CalibrationObjective::kMedianAbs ? fmt::format("{:.2f}%", 100 * value)
                                                       : fmt::format("{:.4f}", value);
}

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d", &utc);
  return buffer;
}

std::string row_name(const CalibrationRow& row) {
  return fmt::format("{}:{}", row.file, row.line);
}

std::string table(const CalibrationReport& report, const std::string& written) {
  std::string out = fmt::format(
      "dfsim calibrate: {} ({}), {} rows of {} read ({} of other hardware left out)\n", report.hw,
      report.hw_path, report.before.size(), report.rows_read, report.left_out);
  out += fmt::format("  objective {}, {}, {} evaluations\n\n", objective_name(report.objective),
                     report.method, report.steps.size());
  std::size_t key = 14;
  for (const FittedParameter& p : report.parameters) key = std::max(key, p.parameter.key.size());
  out += fmt::format("  {:<{}}  {:<24}  {:>12}  {:>12}\n", "free parameter", key, "range", "start",
                     "fitted");
  for (const FittedParameter& p : report.parameters) {
    const FreeParameter& f = p.parameter;
    out += fmt::format("  {:<{}}  {:<24}  {:>12}  {:>12}\n", f.key, key, free_range_text(f),
                       free_display_text(f, p.start), free_display_text(f, p.fitted));
  }
  out += "\n";
  std::size_t where = 3, hw = 2, model = 5, metric = 6;
  for (const RowResult& r : report.before) {
    where = std::max(where, row_name(r.row).size());
    hw = std::max(hw, r.row.hw.size());
    model = std::max(model, r.row.model.size());
    metric = std::max(
        metric, r.row.metric.size() + (r.row.aggregate.empty() ? 0 : 3 + r.row.aggregate.size()));
  }
  out += fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>11}  {:>11}  {:>9}  {:>11}  {:>9}\n",
                     "row", where, "hw", hw, "model", model, "metric", metric, "measured", "before",
                     "error", "after", "error");
  for (std::size_t i = 0; i < report.before.size(); ++i) {
    const RowResult& before = report.before[i];
    const RowResult& after = report.after[i];
    const CalibrationRow& row = before.row;
    const std::string metric_text =
        row.aggregate.empty() ? row.metric : fmt::format("{} ({})", row.metric, row.aggregate);
    out += fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>11.5g}  ", row_name(row), where,
                       row.hw, hw, row.model, model, metric_text, metric, row.measured);
    if (!before.simulated) {
      out += fmt::format("not simulated, not fitted: {}\n", before.reason);
      continue;
    }
    out += fmt::format("{:>11.5g}  {:>9}  ", before.value, percent(before.error));
    if (after.simulated) {
      out += fmt::format("{:>11.5g}  {:>9}\n", after.value, percent(after.error));
    } else {
      out += fmt::format("not simulated: {}\n", after.reason);
    }
  }
  std::size_t fitted = 0;
  for (const RowResult& r : report.before) fitted += r.simulated ? 1 : 0;
  out += fmt::format("  {} rows fitted; {} {} -> {}\n", fitted, objective_name(report.objective),
                     objective_value(report.objective, report.objective_before),
                     objective_value(report.objective, report.objective_after));
  for (const std::string& note : report.notes) out += fmt::format("  note: {}\n", note);
  if (!written.empty()) out += fmt::format("  wrote {}\n", written);
  return out;
}

nlohmann::json row_json(const RowResult& r) {
  nlohmann::json item{{"simulated", r.simulated}};
  if (r.simulated) {
    item["value"] = r.value;
    item["error"] = r.error;
  } else {
    item["reason"] = r.reason;
  }
  if (!r.members.empty()) {
    nlohmann::json members = nlohmann::json::array();
    for (const MemberResult& m : r.members) {
      members.push_back({{"hw", m.hw}, {"model", m.model}, {"value", m.value}});
    }
    item["members"] = std::move(members);
  }
  return item;
}

nlohmann::json json(const CalibrationReport& report, const std::string& written) {
  nlohmann::json parameters = nlohmann::json::array();
  for (const FittedParameter& p : report.parameters) {
    const FreeParameter& f = p.parameter;
    parameters.push_back({{"key", f.key},
                          {"lo", f.bound.lo},
                          {"hi", f.bound.hi},
                          {"scale", f.bound.log ? "log" : "lin"},
                          {"start", p.start},
                          {"fitted", p.fitted},
                          {"fitted_text", free_display_text(f, p.fitted)}});
  }
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < report.before.size(); ++i) {
    const CalibrationRow& row = report.before[i].row;
    rows.push_back({{"file", row.file},
                    {"line", row.line},
                    {"hw", row.hw},
                    {"model", row.model},
                    {"aggregate", row.aggregate},
                    {"metric", row.metric},
                    {"measured", row.measured},
                    {"fitted", report.before[i].simulated},
                    {"before", row_json(report.before[i])},
                    {"after", row_json(report.after[i])}});
  }
  nlohmann::json steps = nlohmann::json::array();
  for (const SearchStep& step : report.steps) {
    steps.push_back({{"values", step.x},
                     {"objective", std::isfinite(step.value) ? nlohmann::json(step.value)
                                                             : nlohmann::json(nullptr)}});
  }
  return {{"hw", report.hw},
          {"hw_path", report.hw_path},
          {"files", report.files},
          {"rows_read", report.rows_read},
          {"left_out", report.left_out},
          {"objective", objective_name(report.objective)},
          {"method", report.method},
          {"parameters", std::move(parameters)},
          {"objective_before", report.objective_before},
          {"objective_after", report.objective_after},
          {"rows", std::move(rows)},
          {"notes", report.notes},
          {"evaluations", std::move(steps)},
          {"written", written.empty() ? nlohmann::json(nullptr) : nlohmann::json(written)}};
}

int run_calibrate(const CalibrateCommandOptions& options) {
  CalibrateOptions run;
  run.hw = options.hw;
  run.paths = options.paths;
  if (run.paths.empty()) run.paths.push_back(calibration_directory());
  if (options.free.size() > 3) throw InputError("--free: at most three free parameters");
  for (const std::string& text : options.free) run.free.push_back(parse_free_parameter(text));
  run.objective = options.objective == "rms-log" ? CalibrationObjective::kRmsLog
                                                 : CalibrationObjective::kMedianAbs;
  run.max_evaluations = options.evaluations;
  run.workers = options.jobs > 0 ? options.jobs : available_cpus();
  if (::isatty(STDERR_FILENO)) {
    run.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  }
  const CalibrationReport report = calibrate(run);
  if (!options.write.empty()) {
    write_file_atomically(options.write, fitted_config_text(report, today_utc()), "--write");
  }
  write_output(options.out,
               options.format == "json" ? json(report, options.write).dump(2) + "\n"
                                        : table(report, options.write),
               "--out");
  return 0;
}

}  // namespace

Action add_calibrate_command(CLI::App& app) {
  auto options = std::make_shared<CalibrateCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate",
      "Fit up to three numeric fields of a hardware config (values no datasheet gives) to "
      "measured rows in the validate CSV format; print every row's error before and after");
  cmd->add_option("--hw", options->hw,
                  "The config calibrated; the rows used are those whose hw is this config or "
                  "inherits from it")
      ->required();
  cmd->add_option("csv", options->paths,
                  "Calibration CSVs or directories of them (default: ../shared/calibration "
                  "beside the source tree, or $DFSIM_CALIBRATION_DIR)");
  cmd->add_option("--free", options->free,
                  "KEY=LO..HI[,lin|log][,start=V]: a field to fit, applied to every row as an "
                  "override, e.g. hw.kernel_call.host_sync=0us..200us (units as in configs; "
                  "lin by default; start: the config's value). One to three, each after its "
                  "own --free.")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--objective", options->objective,
                  "median-abs (default: the median |simulated/measured - 1|) or rms-log "
                  "(the RMS of log(simulated/measured))")
      ->check(CLI::IsMember({"median-abs", "rms-log"}));
  cmd->add_option("--evaluations", options->evaluations,
                  "Evaluations the search may make, the start included (default: 30 per free "
                  "parameter); each one simulates every row")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
  cmd->add_option("--jobs,-j", options->jobs,
                  "Simulations run at a time (default: the CPUs available)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--write", options->write,
                  "Write the calibrated config's file, with each fitted field set and marked "
                  "FITTED (rows, date, residuals), to this path; the rest is kept as it was");
  cmd->add_option("--format", options->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--out,-o", options->out, "Write the table or JSON to this file");
  return [options] { return run_calibrate(*options); };
}

}  // namespace dfsim
