// `dfsim validate`: every row of the calibration CSVs simulated and compared with its
// measurement; per file the median and maximum absolute error of the rows simulated, over the
// rows not fitted to (fidelity) and apart over those fitted to (`fitted_by`); serving rows (a
// server under a request load, sim/engine/serving_row.h) per metric as well. Rows whose
// hardware or workload is not in the catalog are listed as not simulated, with the reason.
#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "sim/cli/commands.h"
#include "sim/cli/output_file.h"
#include "sim/config/catalog.h"
#include "sim/engine/calibration.h"
#include "sim/engine/worker_pool.h"

namespace dfsim {

namespace {

struct ValidateOptions {
  std::string path;
  std::string format = "table";
  std::string out;
  int jobs = 0;
  std::int64_t serving_requests = 0;  // 0: each serving row's own count
};

std::string percent(double value) {
  return fmt::format("{:+.1f}%", 100 * value);
}

// An aggregate row's metric names its aggregate: "looping_speedup (max)".
std::string metric_text(const CalibrationRow& row) {
  return row.aggregate.empty() ? row.metric : row.metric + " (" + row.aggregate + ")";
}

std::string table(const std::vector<FileSummary>& files) {
  std::string out;
  for (const FileSummary& file : files) {
    std::size_t hw = 2, model = 5, metric = 6;
    for (const RowResult& r : file.rows) {
      hw = std::max(hw, r.row.hw.size());
      model = std::max(model, r.row.model.size());
      metric = std::max(metric, metric_text(r.row).size());
    }
    out += fmt::format("dfsim validate: {}\n", file.path);
    out += fmt::format(
        "  {:>4}  {:<{}}  {:<{}}  {:<5}  {:<7}  {:>5}  {:>6}  {:>4}  {:<{}}  {:>11}  "
        "{:>11}  {:>7}\n",
        "line", "hw", hw, "model", model, "dtype", "phase", "batch", "prompt", "gen", "metric",
        metric, "simulated", "measured", "error");
    for (const RowResult& r : file.rows) {
      const CalibrationRow& row = r.row;
      out += fmt::format("  {:>4}  {:<{}}  {:<{}}  {:<5}  {:<7}  {:>5}  {:>6}  {:>4}  {:<{}}  ",
                         row.line, row.hw, hw, row.model, model, row.weight_dtype,
                         row.serving ? "serving" : phase_name(row.phase),
                         row.serving ? "-" : std::to_string(row.batch), row.prompt, row.gen,
                         metric_text(row), metric);
      if (r.simulated) {
        out += fmt::format("{:>11.5g}  {:>11.5g}  {:>7}", r.value, row.measured, percent(r.error));
        out += row.fitted_by.empty() ? "\n" : "  fitted: " + row.fitted_by + "\n";
      } else {
        out += fmt::format("{:>11}  {:>11.5g}  not simulated: {}\n", "-", row.measured, r.reason);
      }
    }
    out += fmt::format("  {} rows: {} simulated, {} not simulated", file.rows.size(),
                       file.simulated, file.not_simulated);
    // Fidelity (rows not fitted to) first; the rows a config field was fitted to apart.
    if (file.median_abs_error) {
      out += fmt::format(
          "; {}|error| median {:.1f}%, max {:.1f}%",
          file.fitted ? fmt::format("{} not fitted: ", file.simulated - file.fitted) : "",
          100 * *file.median_abs_error, 100 * *file.max_abs_error);
    }
    if (file.fitted_median_abs_error) {
      out += fmt::format("; {} fitted to: |error| median {:.1f}%, max {:.1f}%", file.fitted,
                         100 * *file.fitted_median_abs_error, 100 * *file.fitted_max_abs_error);
    }
    out += "\n";
    // Serving rows per metric: the throughput is the fidelity figure above, TTFT and ITL are
    // reported apart.
    for (const MetricSummary& metric : file.serving) {
      out +=
          fmt::format("  serving {}: {} rows, |error| median {:.1f}%, max {:.1f}%\n", metric.metric,
                      metric.simulated, 100 * metric.median_abs_error, 100 * metric.max_abs_error);
    }
    out += "\n";
  }
  return out;
}

nlohmann::json json(const std::vector<FileSummary>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const FileSummary& file : files) {
    nlohmann::json rows = nlohmann::json::array();
    for (const RowResult& r : file.rows) {
      const CalibrationRow& row = r.row;
      nlohmann::json item{{"line", row.line},
                          {"hw", row.hw},
                          {"model", row.model},
                          {"weight_dtype", row.weight_dtype},
                          {"phase", phase_name(row.phase)},
                          {"batch", row.batch},
                          {"prompt", row.prompt},
                          {"gen", row.gen},
                          {"metric", row.metric},
                          {"measured", row.measured},
                          {"unit", row.unit},
                          {"source", row.source},
                          {"simulated", r.simulated},
                          {"settings", r.settings},
                          {"fitted_by", row.fitted_by}};
      if (!row.aggregate.empty()) {
        item["aggregate"] = row.aggregate;
        nlohmann::json members = nlohmann::json::array();
        for (const MemberResult& m : r.members) {
          members.push_back({{"hw", m.hw}, {"model", m.model}, {"value", m.value}});
        }
        item["members"] = std::move(members);
      }
      if (row.serving) {
        item["phase"] = "serving";
        item["batch"] = nullptr;
        item["serving"] = {{"kv_dtype", row.serving->kv_dtype},
                           {"tp", row.serving->tp},
                           {"requests", row.serving->requests},
                           {"isl", row.prompt},
                           {"osl", row.gen},
                           {"rate", row.serving->rate}};
      }
      if (r.simulated) {
        item["value"] = r.value;
        item["error"] = r.error;
      } else {
        item["reason"] = r.reason;
      }
      rows.push_back(std::move(item));
    }
    nlohmann::json entry{{"path", file.path},           {"rows", std::move(rows)},
                         {"simulated", file.simulated}, {"not_simulated", file.not_simulated},
                         {"median_abs_error", nullptr}, {"max_abs_error", nullptr}};
    if (file.median_abs_error) {
      entry["median_abs_error"] = *file.median_abs_error;
      entry["max_abs_error"] = *file.max_abs_error;
    }
    // The rows fitted to, apart: median_abs_error and max_abs_error above are fidelity only.
    nlohmann::json fitted{
        {"simulated", file.fitted}, {"median_abs_error", nullptr}, {"max_abs_error", nullptr}};
    if (file.fitted_median_abs_error) {
      fitted["median_abs_error"] = *file.fitted_median_abs_error;
      fitted["max_abs_error"] = *file.fitted_max_abs_error;
    }
    entry["fitted"] = std::move(fitted);
    nlohmann::json serving = nlohmann::json::object();
    for (const MetricSummary& metric : file.serving) {
      serving[metric.metric] = {{"simulated", metric.simulated},
                                {"median_abs_error", metric.median_abs_error},
                                {"max_abs_error", metric.max_abs_error}};
    }
    entry["serving"] = std::move(serving);
    out.push_back(std::move(entry));
  }
  return nlohmann::json{{"files", std::move(out)}};
}

int validate(const ValidateOptions& options) {
  const std::string path = options.path.empty() ? calibration_directory() : options.path;
  // Every file is read before anything is simulated: bad input fails fast.
  std::vector<std::pair<std::string, std::vector<CalibrationRow>>> inputs;
  for (const std::string& file : calibration_files(path)) {
    inputs.emplace_back(file, read_calibration_csv(file));
  }
  std::vector<FileSummary> files;
  const int workers = options.jobs > 0 ? options.jobs : available_cpus();
  for (const auto& [file, rows] : inputs) {
    const std::optional<std::int64_t> serving_requests =
        options.serving_requests > 0 ? std::optional<std::int64_t>(options.serving_requests)
                                     : std::nullopt;
    files.push_back(summarize_calibration(
        file, simulate_calibration_rows(rows, {}, workers, serving_requests)));
  }
  write_output(options.out, options.format == "json" ? json(files).dump(2) + "\n" : table(files),
               "--out");
  return 0;
}

}  // namespace

Action add_validate_command(CLI::App& app) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Simulate every row of the calibration CSVs (measured results from public sources) and "
      "report the error of each, with the median and maximum per file over the rows no config "
      "field was fitted to, and apart over those fitted to");
  cmd->add_option("path", options->path,
                  "A calibration CSV or a directory of them (default: hw_configs/measured, "
                  "the repository's measured data, or $DFSIM_CALIBRATION_DIR)");
  cmd->add_option("--format", options->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--out,-o", options->out, "Write the table or JSON to this file");
  cmd->add_option("--jobs,-j", options->jobs,
                  "Simulations run at a time (default: the CPUs available)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--serving-requests", options->serving_requests,
                  "Run each serving row with at most this many requests instead of the row's "
                  "(quicker; an offline row's throughput then includes more of the ramp-up and "
                  "drain, so it is a smoke test, not the fidelity figure)")
      ->check(CLI::Range(1, 10000000));
  return [options] { return validate(*options); };
}

}  // namespace dfsim
