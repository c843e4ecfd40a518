// Runs a sweep plan: each point in a forked worker (worker_pool.h), one flat row per point
// appended to the output as it finishes, resumable, shardable, stoppable with Ctrl-C.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sim/engine/sweep_spec.h"

namespace dfsim {

// Columns of a sweep's rows: point_id, point_index, points_total, status (ok | error), error,
// the inputs (sweep_input_columns(), then the plan's hw./model. keys), every scalar metric of a
// run report (report.h's JSON without the inputs it repeats; a serving sweep: the fields of
// `dfsim serving --format csv` without its inputs), and wall_s (the worker's wall time).
std::vector<std::string> sweep_columns(const SweepPlan& plan);
// The metric columns alone, in column order, of a run or a serving sweep.
std::vector<std::string> sweep_metric_columns(bool serving = false);
// Whether a sweep file's columns are a serving sweep's (it has a load.rate column).
bool is_serving_sweep(const std::vector<std::string>& columns);

struct SweepRunOptions {
  std::string out;         // .csv or .jsonl
  bool resume = false;     // skip points whose id the output already holds
  bool overwrite = false;  // start the output afresh
  int workers = 1;
  double point_timeout_s = 0;  // 0: none
  Shard shard;
  bool progress = false;  // a progress line on stderr (a terminal)
};

struct SweepSummary {
  std::size_t in_shard = 0;  // points of this shard
  std::size_t skipped = 0;   // already in the output (--resume)
  std::size_t ok = 0;        // rows written this time
  std::size_t errors = 0;
  bool interrupted = false;  // SIGINT / SIGTERM / SIGHUP: stopped, finished rows kept
  double wall_s = 0;
};

// Runs the points of `options.shard` that the output does not hold yet. Bad output files
// (another sweep's columns, a file that exists without --resume / --overwrite) are InputErrors.
SweepSummary run_sweep(const SweepPlan& plan, const SweepRunOptions& options);

// What a worker runs for one point (in this process: call it in a child) and sends back:
// {"ok":true,"metrics":{...}} or {"ok":false,"error":"..."}.
std::string run_sweep_point(const SweepPoint& point);

}  // namespace dfsim
