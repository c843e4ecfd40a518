// A CPU socket as SystemC modules: a runtime thread that runs kernels one after another, each a
// parallel region (fork, the threads' blocks, join), the cores' shared DDR5 channels and L3 as
// bandwidth channels, and UPI for collectives between sockets.
//
// Timing assumptions (coded in cpu_machine.cpp):
// - A kernel's tiles (column blocks, heads, element blocks) are split over min(cores, tiles)
//   threads; the busiest thread holds ceil(tiles / threads) of them and the join waits for it
//   (one wave of models/common/tile_waves.h).
// - A thread first streams its operands (DDR through L3), then computes: no overlap of a core's
//   misses with its own unpack and dot-product instructions. ITREX's measured scaling from 32
//   to 48 cores (release_data.md) fits time = memory + compute / cores, which overlap would not.
// - DDR requests of the active threads are capped by the misses they keep in flight over the
//   latency (Little's law), so a kernel on few threads cannot fill the channels.
// - Every kernel pays the fork/join of its parallel region; under kernel looping the step is one
//   persistent region and a kernel boundary is a barrier among running threads.
// - Collectives (tensor parallelism over `sockets`) run on UPI as ring algorithms; the model
//   simulates one socket, the others being symmetric.
#pragma once

#include <systemc>
#include <vector>

#include "models/common/bandwidth_channel.h"
#include "models/common/tile_waves.h"
#include "sim/config/cpu_spec.h"
#include "sim/mapping/program.h"
#include "sim/mapping/program_source.h"
#include "sim/mapping/tile_listener.h"
#include "sim/report/simulation_trace.h"

namespace dfsim {

class CpuMachine : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CpuMachine);
  CpuMachine(sc_core::sc_module_name name, const CpuSpec& cpu, ProgramSource& steps,
             SimulationTrace& trace, TileListener* listener = nullptr);

  BandwidthChannel ddr;
  BandwidthChannel l3;
  BandwidthChannel upi;

 private:
  void run();  // SC_THREAD: the runtime's main thread
  void execute(const Kernel& kernel, KernelRecord& record);

  const CpuSpec& cpu_;
  ProgramSource& steps_;
  SimulationTrace& trace_;
  TileWaves threads_;
};

// Seconds one thread computes one tile of `kernel` (its share of the FLOPs and instructions).
double cpu_tile_compute_seconds(const CpuSpec& cpu, const Kernel& kernel);

}  // namespace dfsim
