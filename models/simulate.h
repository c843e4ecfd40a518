// The one entry point into the SystemC models: elaborates the machine of a hardware config,
// executes the programs (one per step, in order, or as a source hands them out) and returns the
// trace. SystemC allows one
// elaboration per process, so this may be called once per process; run it in a child process
// (sim/engine/isolated_run.h) when a process needs several simulations.
#pragma once

#include <vector>

#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/mapping/program_source.h"
#include "sim/mapping/tile_listener.h"
#include "sim/report/simulation_trace.h"

namespace dfsim {

// `record_units` also records what each hardware unit did (SimulationTrace::unit_slices) and the
// rates of the memories besides DRAM, for timelines. A `listener` hears each tile or stage as
// the machine completes it (functional execution); it never changes the timing.
SimulationTrace simulate(const HwConfig& hw, const std::vector<Program>& steps,
                         bool record_units = false, TileListener* listener = nullptr);
// The steps one at a time from `source`, each asked for when the previous one has ended (at
// that simulated time), so that what runs next can depend on when the previous step finished
// (a serving loop); the machine idles while the source says to wait.
SimulationTrace simulate(const HwConfig& hw, ProgramSource& source, bool record_units = false,
                         TileListener* listener = nullptr);

}  // namespace dfsim
