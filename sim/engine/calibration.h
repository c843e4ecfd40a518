// `dfsim validate`: measured results from public sources (../shared/calibration/*.csv, see its
// README) against what dfsim simulates for the same hardware, model and phase. Each row is
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
};

// The metrics a row may name.
const std::vector<std::string>& calibration_metrics();

// The aggregates an aggregate row may name.
const std::vector<std::string>& calibration_aggregates();

// Reads one CSV (header line first, the columns of the README in any order plus the optional
// column `aggregate`, quoted fields as RFC 4180); bad input throws InputError naming
// file:line:column.
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
std::vector<RowResult> simulate_calibration_rows(const std::vector<CalibrationRow>& rows,
                                                 const std::vector<Override>& extra = {},
                                                 int workers = 1);

// One row, in this process's children.
RowResult simulate_calibration_row(const CalibrationRow& row);

struct FileSummary {
  std::string path;
  std::vector<RowResult> rows;
  std::int64_t simulated = 0;
  std::int64_t not_simulated = 0;
  std::optional<double> median_abs_error;  // over the simulated rows
  std::optional<double> max_abs_error;
};

FileSummary summarize_calibration(const std::string& path, std::vector<RowResult> rows);

}  // namespace dfsim
