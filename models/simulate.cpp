#include "models/simulate.h"

#include <cstdlib>
#include <stdexcept>
#include <systemc>

#include "models/dataflow/dataflow_machine.h"
#include "models/gpu/gpu_machine.h"

namespace dfsim {

SimulationTrace simulate(const HwConfig& hw, const std::vector<Program>& steps) {
  static bool elaborated = false;
  if (elaborated) {
    throw std::logic_error(
        "simulate() called twice in one process: SystemC elaborates once per process; run each "
        "simulation in its own process");
  }
  elaborated = true;
  // dfsim's output stays clean: no SystemC banner on stderr.
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);

  SimulationTrace trace;
  auto finish = [&](const BandwidthChannel& memory) {
    trace.dram_rate = memory.rate_log();
    trace.streaming_bandwidth = memory.bandwidth();
    trace.transfers = memory.transfers();
  };
  if (const GpuSpec* gpu = hw.gpu()) {
    GpuMachine machine("gpu", *gpu, steps, trace);
    sc_core::sc_start();
    finish(machine.hbm);
  } else if (const DataflowSpec* chip = hw.dataflow()) {
    DataflowMachine machine("rdu", *chip, steps, trace);
    sc_core::sc_start();
    finish(machine.hbm);
  } else {
    throw std::logic_error("no machine model for family " + hw.family);
  }
  return trace;
}

}  // namespace dfsim
