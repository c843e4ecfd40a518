#include "sim/engine/sweep.h"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "sim/engine/run_request.h"
#include "sim/engine/serving_inputs.h"
#include "sim/engine/serving_report.h"
#include "sim/engine/serving_run.h"
#include "sim/engine/sweep_table.h"
#include "sim/engine/worker_pool.h"
#include "sim/report/report.h"

namespace dfsim {

using nlohmann::json;

namespace {

// Report fields that repeat a point's inputs under their sweep names.
const std::set<std::string> kRepeatedInputs = {"model",   "hw",     "phase",  "batch",
                                               "context", "tokens", "looping"};
// Fields of a serving report that repeat a serving point's inputs (serving_fields()).
bool repeats_serving_input(const std::string& field) {
  static const std::set<std::string> kInputs = {
      "model", "hw", "load", "rate", "slo", "looping", "kv_cache_kv_fraction"};
  return kInputs.count(field) > 0 || field.rfind("scheduler_", 0) == 0;
}

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void request_stop(int signal) {
  g_stop_signal = signal;
}

// Installs the stop handler for the lifetime of a sweep; without SA_RESTART, so poll() wakes.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &action, &previous_[i]);
  }
  ~StopSignals() {
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &previous_[i], nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction previous_[3];
};

std::string single_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// The last non-empty line a crashed child wrote to stderr (an assertion, a sanitizer report).
std::string last_line(const std::string& text) {
  std::size_t end = text.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  std::size_t begin = text.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return single_line(text.substr(begin, end - begin + 1));
}

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<long long>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

// The row of a finished point: inputs, then the metrics or the error.
std::vector<json> point_row(const SweepPlan& plan, const SweepPoint& point,
                            const std::vector<std::string>& metrics, const WorkerOutcome& outcome,
                            double point_timeout_s) {
  std::vector<json> row{point.id, point.index, plan.points.size()};
  json metric_values;
  std::string error;
  switch (outcome.kind) {
    case WorkerOutcome::Kind::kTimedOut:
      error = fmt::format("timeout: killed after --point-timeout {} s", point_timeout_s);
      break;
    case WorkerOutcome::Kind::kSignaled: {
      error = fmt::format("crashed: killed by signal {} ({})", outcome.signal,
                          strsignal(outcome.signal));
      // Nothing in dfsim sends SIGKILL to a worker that has not timed out: it is the kernel's OOM
      // killer (or a person), and the point needs more memory than it had.
      if (outcome.signal == SIGKILL) error += ", out of memory?";
      std::string detail = last_line(outcome.error_tail);
      if (!detail.empty()) error += ": " + detail;
      break;
    }
    case WorkerOutcome::Kind::kExited: {
      json reply = json::parse(outcome.output, nullptr, false);
      if (outcome.exit_code == 0 && reply.is_object() && reply.contains("ok")) {
        if (reply["ok"].get<bool>()) {
          metric_values = reply["metrics"];
        } else {
          error = single_line(reply["error"].get<std::string>());
        }
      } else {
        error = fmt::format("worker exited with code {} without a result", outcome.exit_code);
        std::string detail = last_line(outcome.error_tail);
        if (!detail.empty()) error += ": " + detail;
      }
      break;
    }
  }
  row.push_back(error.empty() ? "ok" : "error");
  row.push_back(error);
  std::vector<std::string> inputs = point_input_values(point, plan.override_keys);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    long long whole = 0;
    const std::string& text = inputs[i];
    const bool integer = !text.empty() && text.size() < 18 &&
                         std::from_chars(text.data(), text.data() + text.size(), whole).ptr ==
                             text.data() + text.size();
    // JSON lines keep the phase sizes as numbers (columns 3..5 of the inputs); a serving point's
    // counts too (a rate or a chunk, which may be inf or off, stays a string in every row).
    static const std::set<std::string> kCounts = {
        "load.requests",     "load.isl",           "load.osl",     "load.seed",
        "serving.max_batch", "serving.max_tokens", "serving.block"};
    if (point.serving && integer && i >= 2 && i < 2 + serving_keys().size() &&
        kCounts.count(serving_keys()[i - 2].key) > 0) {
      row.push_back(whole);
    } else if (!point.serving && i >= 3 && i <= 5) {
      row.push_back(std::stoll(inputs[i]));
    } else {
      row.push_back(inputs[i]);
    }
  }
  for (const std::string& metric : metrics) {
    row.push_back(metric_values.is_object() && metric_values.contains(metric)
                      ? metric_values[metric]
                      : json());
  }
  row.push_back(std::round(outcome.wall_s * 1000) / 1000);
  return row;
}

class Progress {
 public:
  Progress(bool enabled, std::size_t total) : enabled_(enabled), total_(total) {}

  void update(std::size_t done, std::size_t errors, bool force = false) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : NAN;
    std::string line =
        fmt::format("dfsim sweep: {}/{} points ({:.0f} %)  {:.1f} points/s  ETA {}", done, total_,
                    total_ ? 100.0 * done / total_ : 100.0, rate, format_eta(eta));
    if (errors) line += fmt::format("  {} errors", errors);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void finish() {
    if (shown_) std::fputs("\n", stderr);
    shown_ = false;
  }

 private:
  bool enabled_;
  std::size_t total_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

std::vector<std::string> sweep_metric_columns(bool serving) {
  std::vector<std::string> metrics;
  if (serving) {
    // Every field a serving report can have: one with an SLO (goodput, slo_met).
    ServingStats stats;
    stats.slo = Slo{};
    stats.slo->ttft_s = 1;
    for (const auto& [field, value] : serving_fields(ServingRun{}, stats, ServingSetup{})) {
      if (!repeats_serving_input(field)) metrics.push_back(field);
    }
    return metrics;
  }
  const json report = to_json(RunStats{});
  for (auto it = report.begin(); it != report.end(); ++it) {
    if (it.value().is_structured() || kRepeatedInputs.count(it.key())) continue;
    metrics.push_back(it.key());
  }
  return metrics;
}

std::vector<std::string> sweep_columns(const SweepPlan& plan) {
  std::vector<std::string> columns{"point_id", "point_index", "points_total", "status", "error"};
  for (const std::string& input : sweep_input_columns(plan.serving)) columns.push_back(input);
  for (const std::string& key : plan.override_keys) columns.push_back(key);
  for (const std::string& metric : sweep_metric_columns(plan.serving)) columns.push_back(metric);
  columns.push_back("wall_s");
  return columns;
}

bool is_serving_sweep(const std::vector<std::string>& columns) {
  return std::find(columns.begin(), columns.end(), "load.rate") != columns.end();
}

namespace {

// A serving point: the run `dfsim serving` makes with the same values (serving_inputs.h).
json serving_point_metrics(const SweepPoint& point) {
  const ServingInputs inputs = serving_inputs_from(point.serving_values);
  const ServingRun run =
      run_serving_simulation(serving_run_request(point.model, point.hw, point.overrides, inputs));
  const ServingStats stats = serving_stats(run.result, inputs.slo);
  json metrics = json::object();
  for (const auto& [field, value] : serving_fields(run, stats, serving_setup(inputs))) {
    if (!repeats_serving_input(field)) metrics[field] = value;
  }
  return metrics;
}

}  // namespace

std::string run_sweep_point(const SweepPoint& point) {
  json reply;
  try {
    if (point.serving) {
      reply = {{"ok", true}, {"metrics", serving_point_metrics(point)}};
      return reply.dump();
    }
    RunRequest request;
    request.model = point.model;
    request.hw = point.hw;
    request.phase.kind = point.phase_kind;
    request.phase.batch = point.batch;
    request.phase.context = point.context;
    request.phase.tokens = point.tokens;
    request.looping = point.looping;
    request.overrides = point.overrides;
    const json report = to_json(run_simulation(request));
    json metrics = json::object();
    for (const std::string& metric : sweep_metric_columns()) metrics[metric] = report.at(metric);
    reply = {{"ok", true}, {"metrics", metrics}};
  } catch (const std::exception& error) {
    reply = {{"ok", false}, {"error", error.what()}};
  }
  return reply.dump();
}

SweepSummary run_sweep(const SweepPlan& plan, const SweepRunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const SweepFileFormat format = sweep_file_format(options.out, "--out");
  const std::vector<std::string> columns = sweep_columns(plan);
  const std::vector<std::string> metrics = sweep_metric_columns(plan.serving);

  std::error_code ignored;
  const bool exists = std::filesystem::exists(options.out, ignored) &&
                      std::filesystem::file_size(options.out, ignored) > 0;
  if (exists && !options.resume && !options.overwrite) {
    throw InputError("--out " + options.out +
                     ": the file exists (--resume continues it, --overwrite replaces it)");
  }
  std::set<std::string> done_ids;
  SweepFile existing;
  if (exists && options.resume) {
    existing = read_sweep_file(options.out);
    if (!existing.columns.empty() && existing.columns != columns) {
      std::size_t i = 0;
      while (i < columns.size() && i < existing.columns.size() && columns[i] == existing.columns[i])
        ++i;
      throw InputError(fmt::format(
          "--resume: {} has other columns than this sweep (column {}: '{}' in the file, '{}' "
          "here); it was written by a different sweep",
          options.out, i + 1, i < existing.columns.size() ? existing.columns[i] : "",
          i < columns.size() ? columns[i] : ""));
    }
    const int id_column = existing.column_index("point_id");
    const int status_column = existing.column_index("status");
    for (const SweepRow& row : existing.rows) {
      const std::string& status = row.values[static_cast<std::size_t>(status_column)];
      if (status == "ok" || status == "error") {
        done_ids.insert(row.values[static_cast<std::size_t>(id_column)]);
      }
    }
  }

  AppendFile out(options.out);
  if (exists && options.overwrite) {
    out.truncate(0);
  } else if (existing.partial_tail) {
    std::fprintf(stderr,
                 "dfsim sweep: warning: %s ended in a partial row (its writer was killed); "
                 "removed it, the point runs again\n",
                 options.out.c_str());
    out.truncate(existing.complete_bytes);
  }
  if (format == SweepFileFormat::kCsv && (existing.columns.empty() || options.overwrite)) {
    out.append(sweep_header_line(format, columns));
  }

  if (!done_ids.empty()) {
    std::set<std::string> plan_ids;
    for (const SweepPoint& point : plan.points) plan_ids.insert(point.id);
    std::size_t foreign = 0;
    for (const std::string& id : done_ids) foreign += plan_ids.count(id) ? 0 : 1;
    if (foreign) {
      std::fprintf(stderr,
                   "dfsim sweep: warning: %zu rows of %s are no point of this sweep (another grid "
                   "or config?); kept as they are\n",
                   foreign, options.out.c_str());
    }
  }

  SweepSummary summary;
  std::vector<const SweepPoint*> todo;
  for (const SweepPoint& point : plan.points) {
    if (!options.shard.contains(point.index)) continue;
    ++summary.in_shard;
    if (done_ids.count(point.id)) {
      ++summary.skipped;
    } else {
      todo.push_back(&point);
    }
  }

  Progress progress(options.progress, todo.size());
  StopSignals signals;
  WorkerPoolOptions pool;
  pool.workers = options.workers;
  pool.timeout_s = options.point_timeout_s;
  pool.stop = &g_stop_signal;
  progress.update(0, 0, true);
  run_in_workers(
      todo.size(), pool, [&](std::size_t job) { return run_sweep_point(*todo[job]); },
      [&](std::size_t job, const WorkerOutcome& outcome) {
        std::vector<json> row =
            point_row(plan, *todo[job], metrics, outcome, options.point_timeout_s);
        (row[3] == "ok" ? summary.ok : summary.errors) += 1;
        out.append(sweep_row_line(format, columns, row));
        progress.update(summary.ok + summary.errors, summary.errors);
      });
  summary.interrupted = g_stop_signal != 0;
  progress.update(summary.ok + summary.errors, summary.errors, true);
  progress.finish();
  summary.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace dfsim
