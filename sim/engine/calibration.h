// `dfsim validate`: measured results from public sources (hw_configs/measured/*.csv, see its
// README.md) against what dfsim simulates for the same hardware, model and phase. Each row is
// simulated in a child process of its own (SystemC elaborates once per process).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/workload/phase.h"

namespace dfsim {

// One measurement, as its CSV row states it.
struct CalibrationRow {
  std::string file;   // the CSV it came from
  int line = 0;       // 1-based line of the row in that file
  std::string hw;     // as written; an aggregate row lists several, separated by ';'
  std::string model;  // likewise
  // An aggregate row states one figure over several simulations: its metric for every model on
  // every hw listed (the cross product), combined by `aggregate`: "max" (the largest, for claims
  // such as "up to 2.2x") or "geomean" (their geometric mean). Empty for a plain row, which
  // names one hw and one model.
  std::string aggregate;
  std::vector<std::string> hws;     // `hw` split at ';' (one entry for a plain row)
  std::vector<std::string> models;  // `model` split at ';'
  std::string weight_dtype;
  PhaseKind phase = PhaseKind::kDecode;
  std::int64_t batch = 1;
  std::int64_t prompt = 0;
  std::int64_t gen = 0;
  std::string metric;  // tokens_per_second, time_per_token_s, looping_speedup,
                       // bandwidth_utilization
  double measured = 0;
  std::string unit;
  std::string source;
  std::string notes;
  // Settings the notes state in words that change what is simulated: "group size 32" (or "group
  // 128") sets model.weight_group_size, "(set hw.cores=48)" any override.
  std::vector<Override> overrides;
  // The config fields fitted to this row (the optional `fitted_by` column; empty when none): its
  // error measures the fit, not fidelity, and is summarized apart.
  std::string fitted_by;
  // A serving.csv row (an inference server under a request load), run through the serving
  // simulation (sim/engine/serving_row.h). `prompt` and `gen` hold isl and osl.
  struct Serving {
    std::string kv_dtype;
    std::int64_t tp = 1;
    std::int64_t requests = 0;
    std::string rate;  // requests/s, or "inf"
  };
  std::optional<Serving> serving;
};

// The metrics a row may name.
const std::vector<std::string>& calibration_metrics();

// The aggregates an aggregate row may name.
const std::vector<std::string>& calibration_aggregates();

// The metrics a serving row may name.
const std::vector<std::string>& serving_metrics();

// Reads one CSV (header line first, the columns of the README in any order plus the optional
// columns `aggregate` and `fitted_by`, quoted fields as RFC 4180); bad input throws InputError
// naming file:line:column. A header with any serving column (kv_dtype, tp, requests, isl, osl,
// rate) reads serving rows.
std::vector<CalibrationRow> read_calibration_csv(const std::string& path);

// The CSV files a path names: the file itself, or a directory's *.csv sorted by name.
std::vector<std::string> calibration_files(const std::string& path);

// One simulated combination of an aggregate row.
struct MemberResult {
  std::string hw;
  std::string model;
  double value = 0;
};

struct RowResult {
  CalibrationRow row;
  bool simulated = false;
  std::string reason;    // why not, when not simulated
  double value = 0;      // simulated, in the row's unit
  double error = 0;      // (simulated - measured) / measured
  std::string settings;  // what was run: "decode batch 1, context 5, 200 tokens, int4 g32"
  std::vector<MemberResult> members;  // an aggregate row's combinations, in hw-major order
};

// Simulates rows, each simulation in a child process of its own (a looping_speedup is two),
// at most `workers` at a time; results in the order of `rows`, the same for any `workers`.
// `extra` overrides apply to every row after the row's own (`dfsim calibrate` passes the free
// parameters here). Missing configs and inputs the simulator refuses (the model does not fit,
// say) come back as not simulated, with the reason; an aggregate row is simulated only when
// every combination is.
// A serving row runs its load through `dfsim serving` with its source's settings
// (sim/engine/serving_row.h); `serving_requests` caps its request count (a quicker, rougher
// check), and rows with the same load share one run.
std::vector<RowResult> simulate_calibration_rows(
    const std::vector<CalibrationRow>& rows, const std::vector<Override>& extra = {},
    int workers = 1, std::optional<std::int64_t> serving_requests = std::nullopt);

// One row, in this process's children.
RowResult simulate_calibration_row(const CalibrationRow& row);

// The |error| of the simulated serving rows of one metric (not fitted to).
struct MetricSummary {
  std::string metric;
  std::int64_t simulated = 0;
  double median_abs_error = 0;
  double max_abs_error = 0;
};

struct FileSummary {
  std::string path;
  std::vector<RowResult> rows;
  std::int64_t simulated = 0;
  std::int64_t not_simulated = 0;
  // Serving rows per metric (output_tokens_per_second, mean_ttft_s, mean_itl_s: those that have
  // simulated rows, in that order). Their TTFT and ITL rows are reported here only: the fidelity
  // figures below count a serving row's throughput, not its latencies.
  std::vector<MetricSummary> serving;
  // Fidelity: over the simulated rows that no config field was fitted to (serving rows: the
  // throughput ones).
  std::optional<double> median_abs_error;
  std::optional<double> max_abs_error;
  // The same over the simulated rows that were fitted to (how well the fit holds).
  std::int64_t fitted = 0;
  std::optional<double> fitted_median_abs_error;
  std::optional<double> fitted_max_abs_error;
};

FileSummary summarize_calibration(const std::string& path, std::vector<RowResult> rows);

}  // namespace dfsim
