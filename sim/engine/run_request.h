// One simulation as the user asks for it, and running it in this process.
#pragma once

#include <string>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/mapping/kernel_looping.h"
#include "sim/mapping/program.h"
#include "sim/report/run_stats.h"
#include "sim/report/simulation_trace.h"
#include "sim/workload/phase.h"

namespace dfsim {

struct RunRequest {
  std::string model;  // name or path
  std::string hw;     // name or path
  Phase phase;
  std::vector<Override> overrides;
  LoopingMode looping = LoopingMode::kOff;
  bool record_units = false;  // trace what each hardware unit did (timelines; see simulate())
};

// The programs of every step of the phase (decode: the KV cache grows by one each step), for one
// of the hardware's tensor-parallel sockets.
std::vector<Program> build_programs(const ModelSpec& model, const HwConfig& hw, const Phase& phase,
                                    LoopingMode looping = LoopingMode::kOff);

struct RunResult {
  RunStats stats;
  SimulationTrace trace;  // what the machine recorded (one socket)
};

// Loads, maps, simulates and summarizes in this process. SystemC elaborates once per process:
// call it at most once per process (run_isolated() forks for you).
RunResult run_simulation_traced(const RunRequest& request);
RunStats run_simulation(const RunRequest& request);

}  // namespace dfsim
