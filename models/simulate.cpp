#include "models/simulate.h"

#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>
#include <systemc>

#include "models/apple/apple_machine.h"
#include "models/common/sim_time.h"
#include "models/cpu/cpu_machine.h"
#include "models/dataflow/dataflow_machine.h"
#include "models/gpu/gpu_machine.h"
#include "sim/common/error.h"

namespace dfsim {

SimulationTrace simulate(const HwConfig& hw, const std::vector<Program>& steps, bool record_units,
                         TileListener* listener) {
  ProgramList list(steps);
  return simulate(hw, list, record_units, listener);
}

SimulationTrace simulate(const HwConfig& hw, ProgramSource& steps, bool record_units,
                         TileListener* listener) {
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
  trace.record_units = record_units;
  trace.record_kernels = steps.record_kernels();
  auto keep_rates = [&](const char* memory, const BandwidthChannel& channel) {
    if (record_units && !channel.rate_log().empty()) {
      trace.memory_rates.push_back({memory, channel.rate_log()});
    }
  };
  auto finish = [&](const BandwidthChannel& memory) {
    trace.dram_rate = memory.rate_log();
    trace.streaming_bandwidth = memory.bandwidth();
    trace.transfers = memory.transfers();
  };
  if (const GpuSpec* gpu = hw.gpu()) {
    GpuMachine machine("gpu", *gpu, steps, trace, listener);
    sc_core::sc_start();
    finish(machine.hbm);
    keep_rates("L2", machine.l2);
    keep_rates("link", machine.link);
  } else if (const DataflowSpec* chip = hw.dataflow()) {
    DataflowMachine machine("rdu", *chip, steps, trace, listener);
    sc_core::sc_start();
    finish(machine.hbm);
    keep_rates("DDR", machine.ddr);
    keep_rates("link", machine.link);
  } else if (const AppleSpec* soc = hw.apple()) {
    AppleMachine machine("soc", *soc, steps, trace, listener);
    sc_core::sc_start();
    finish(machine.lpddr);
    keep_rates("SLC", machine.slc);
  } else if (const CpuSpec* cpu = hw.cpu()) {
    CpuMachine machine("cpu", *cpu, steps, trace, listener);
    sc_core::sc_start();
    finish(machine.ddr);
    keep_rates("L3", machine.l3);
    keep_rates("UPI", machine.upi);
  } else {
    throw std::logic_error("no machine model for family " + hw.family);
  }
  if (simulated_time_overflowed()) {
    throw InputError(fmt::format(
        "the run would last more than {:g} simulated seconds (the range of SystemC's clock): a "
        "bandwidth, rate or latency of {} is far outside what real hardware has; check the config "
        "and the --set values",
        kMaxSimulatedSeconds, hw.name));
  }
  return trace;
}

}  // namespace dfsim
