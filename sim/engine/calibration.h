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
  std::string file;  // the CSV it came from
  int line = 0;      // 1-based line of the row in that file
  std::string hw;
  std::string model;
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
  // A serving.csv row (an inference server under a request load): read and listed, but not
  // simulated until dfsim simulates serving (issue 16). `prompt` and `gen` hold isl and osl.
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

// The metrics a serving row may name.
const std::vector<std::string>& serving_metrics();

// Reads one CSV (header line first, the columns of the README in any order, quoted fields as
// RFC 4180); bad input throws InputError naming file:line. A header with any serving column
// (kv_dtype, tp, requests, isl, osl, rate) reads serving rows; `fitted_by` is optional in both.
std::vector<CalibrationRow> read_calibration_csv(const std::string& path);

// The CSV files a path names: the file itself, or a directory's *.csv sorted by name.
std::vector<std::string> calibration_files(const std::string& path);

struct RowResult {
  CalibrationRow row;
  bool simulated = false;
  std::string reason;    // why not, when not simulated
  double value = 0;      // simulated, in the row's unit
  double error = 0;      // (simulated - measured) / measured
  std::string settings;  // what was run: "decode batch 1, context 5, 200 tokens, int4 g32"
};

// Simulates one row (one or two child processes). Missing configs and inputs the simulator
// refuses (the model does not fit, say) come back as not simulated, with the reason.
RowResult simulate_calibration_row(const CalibrationRow& row);

struct FileSummary {
  std::string path;
  std::vector<RowResult> rows;
  std::int64_t simulated = 0;
  std::int64_t not_simulated = 0;
  // Fidelity: over the simulated rows that no config field was fitted to.
  std::optional<double> median_abs_error;
  std::optional<double> max_abs_error;
  // The same over the simulated rows that were fitted to (how well the fit holds).
  std::int64_t fitted = 0;
  std::optional<double> fitted_median_abs_error;
  std::optional<double> fitted_max_abs_error;
};

FileSummary summarize_calibration(const std::string& path, std::vector<RowResult> rows);

}  // namespace dfsim
