// What a sweep runs: the points of a design-space sweep, built from `--model`/`--hw` lists,
// `--grid` axes, `--set` values and a `--points` table, each point a plain set of inputs with a
// stable id. Pure values: nothing here simulates, so the whole plan is checked before any
// worker starts.
//
// Keys are named as in the configs: `hw.<yaml path>` and `model.<yaml path>` (applied as `--set`
// overrides, with the configs' units and validation), `phase.kind` (decode|prefill),
// `phase.batch`, `phase.context` (decode: cached tokens; prefill: prompt length), `phase.tokens`,
// `looping` (off|on|auto), and `model` / `hw` themselves. A sweep with a `load.*` or `serving.*`
// key (serving_inputs.h) is a serving sweep: each point is a `dfsim serving` run, and phase keys
// do not apply to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/common/error.h"
#include "sim/engine/run_request.h"

namespace dfsim {

// One assignment of a point: key and value as written ("hw.hbm.bandwidth", "1.6TB/s").
using SweepAssignment = std::pair<std::string, std::string>;

// A list of alternatives that the sweep crosses with the others. A `--grid` axis has one
// assignment per alternative; a row of a `--points` table has one per non-empty cell.
struct SweepFactor {
  std::vector<std::vector<SweepAssignment>> alternatives;
  // Where each alternative came from, for error messages ("--grid phase.batch=1:8:1",
  // "points.csv:3:1").
  std::vector<SourceLocation> origins;
  // Per alternative, where each of its cells starts (only for --points rows; else empty).
  std::vector<std::vector<SourceLocation>> cell_origins;
};

// Expands the value part of `--grid key=SPEC`:
//   v1,v2,...      the values as written (none empty)
//   lo:hi:step     lo, lo+step, ... up to hi (step > 0)
//   lo..hi*factor  lo, lo*factor, ... up to hi (factor > 1, lo > 0)
// Range bounds may carry a unit ("1TB/s:2TB/s:0.25TB/s"); it must be the same on each bound (the
// step may omit it) and is written after every generated value. Anything else is one value.
// Throws InputError naming `where` ("--grid phase.batch=1:x:2: 'x' is not a number").
std::vector<std::string> expand_grid_values(const std::string& spec, const std::string& where);

// Splits "key=SPEC" and expands it; checks the key (see check_sweep_key).
SweepFactor parse_grid(const std::string& text);
// `--set key=value`: a one-value axis; the value is not split at commas.
SweepFactor parse_fixed(const std::string& text);
// `--model a,b` / `--hw a,b`.
SweepFactor parse_name_list(const std::string& key, const std::string& list,
                            const std::string& option);
// A `--points` CSV table: a header of keys, one point per row; an empty cell leaves its key at
// the default. Errors name file:line:column and the column's key.
SweepFactor parse_points_csv(const std::string& text, const std::string& file_name);

// Throws InputError (prefixed by `where`) unless `key` is a sweepable key.
void check_sweep_key(const std::string& key, const std::string& where);

// A point with every input resolved (defaults filled in).
struct SweepPoint {
  std::size_t index = 0;  // position in the full sweep, 0-based
  std::string id;         // 16 hex digits, a hash of the resolved inputs
  std::string model, hw;
  PhaseKind phase_kind = PhaseKind::kDecode;
  std::int64_t batch = 1, context = 128, tokens = 128;
  LoopingMode looping = LoopingMode::kOff;
  std::vector<Override> overrides;  // hw.* and model.*, in key order
  // A serving point: every key of serving_keys() (looping included) with its value, defaults
  // filled in, in that order; the phase fields above are unused.
  bool serving = false;
  std::vector<SweepAssignment> serving_values;
};

// The resolved inputs of a point as (column, value) in column order: model, hw, phase.kind,
// phase.batch, phase.context, phase.tokens, looping (a serving point: model, hw, then the keys of
// serving_keys()), then `override_keys` ("" where unset).
std::vector<std::string> point_input_values(const SweepPoint& point,
                                            const std::vector<std::string>& override_keys);
inline constexpr const char* kSweepInputColumns[] = {
    "model", "hw", "phase.kind", "phase.batch", "phase.context", "phase.tokens", "looping"};
// The input columns of a run sweep (kSweepInputColumns) or of a serving sweep (model, hw, the
// keys of serving_keys()), without the override keys.
std::vector<std::string> sweep_input_columns(bool serving);

// The id of a point: FNV-1a (64 bit) over its resolved inputs, so it does not depend on the
// order of the grids, on which option named a value, or on the machine.
std::string sweep_point_id(const SweepPoint& point);

struct SweepPlan {
  bool serving = false;            // every point a serving run
  std::vector<SweepPoint> points;  // the full sweep, index order
  std::vector<std::string>
      override_keys;  // hw.* / model.* keys that any point sets, first seen first
};

// The cartesian product of the factors, the last factor varying fastest. A key set by two
// factors is an error; so is a sweep of more than `max_points` points or one without a model or
// hardware. Phase values and looping modes are checked here; hw./model. values are not (see
// check_sweep_overrides). The plan is a serving sweep when `serving` is set or a factor names a
// load.* or serving.* key; then a phase key, or looping=auto, is an error.
SweepPlan build_sweep_plan(const std::vector<SweepFactor>& factors,
                           std::size_t max_points = 10'000'000, bool serving = false);

// Loads every model and hardware the plan names and applies each distinct override value to
// each config it can meet, so a misspelt key or a bad unit stops the sweep before it starts
// (InputError naming the grid, --set or points cell). No simulation runs.
void check_sweep_overrides(const std::vector<SweepFactor>& factors, const SweepPlan& plan);

// `--shard K/N`: K in 0..N-1 (SLURM_ARRAY_TASK_ID of `sbatch --array=0-(N-1)`).
struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;
  bool contains(std::size_t point_index) const { return point_index % count == index; }
};
Shard parse_shard(const std::string& text);

}  // namespace dfsim
