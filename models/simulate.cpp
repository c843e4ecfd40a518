#include "models/simulate.h"

#include <cstdlib>
#include <stdexcept>
#include <systemc>

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
  const GpuSpec* gpu = hw.gpu();
  if (!gpu) throw std::logic_error("no machine model for family " + hw.family);
  GpuMachine machine("gpu", *gpu, steps, trace);
  sc_core::sc_start();
  trace.dram_rate = machine.hbm.rate_log();
  trace.streaming_bandwidth = machine.hbm.bandwidth();
  trace.transfers = machine.hbm.transfers();
  return trace;
}

}  // namespace dfsim
