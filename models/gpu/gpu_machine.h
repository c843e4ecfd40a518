// A GPU as SystemC modules: a dispatcher that launches kernels one after another (each boundary
// costs the launch gap of the launch mode), an array of SMs that runs a kernel's tiles in waves,
// and two bandwidth channels, L2 and HBM, that the waves' operand traffic goes through.
//
// Timing assumptions (documented where they are coded, in gpu_machine.cpp and
// models/common/tile_waves.h):
// - A wave is the set of tiles resident at once (sm_count x tiles_per_unit). Within a wave,
//   loads and math overlap (software pipelining), so a wave lasts max(DRAM, L2, math); waves of
//   a kernel run back to back and the last, partial wave is as long as its slowest SM (wave
//   quantization).
// - HBM requests of a wave are capped by the bytes its active SMs keep in flight (Little's
//   law, inflight_bytes_per_sm); a wave with few active SMs cannot reach the streaming bandwidth.
// - A kernel boundary: the grid drains (the last wave ends), then the next launch takes the
//   launch gap (kernel_overhead, or graph_overhead under CUDA graphs) before its first wave.
//   Inside a persistent megakernel (kernel looping on a GPU) the gap is a grid-wide barrier.
// - Collectives (tensor parallelism over `sockets` GPUs) run on the link as ring algorithms;
//   the model simulates one GPU, the others being symmetric.
#pragma once

#include <systemc>
#include <vector>

#include "models/common/bandwidth_channel.h"
#include "models/common/collective.h"
#include "models/common/tile_waves.h"
#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/mapping/program_source.h"
#include "sim/mapping/tile_listener.h"
#include "sim/report/simulation_trace.h"

namespace dfsim {

// The SMs. execute() is called from the dispatcher's thread and returns when the grid drained.
class SmArray : public sc_core::sc_module {
 public:
  SmArray(sc_core::sc_module_name name, const GpuSpec& gpu, BandwidthChannel& hbm,
          BandwidthChannel& l2, BandwidthChannel& link, SimulationTrace& trace,
          TileListener* listener);
  void execute(const Kernel& kernel, KernelRecord& record);

 private:
  const GpuSpec& gpu_;
  SimulationTrace& trace_;
  BandwidthChannel& hbm_;
  BandwidthChannel& link_;
  TileWaves waves_;
};

class GpuDispatcher : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(GpuDispatcher);
  GpuDispatcher(sc_core::sc_module_name name, const GpuSpec& gpu, ProgramSource& steps,
                SmArray& sms, SimulationTrace& trace);

 private:
  void run();  // SC_THREAD

  const GpuSpec& gpu_;
  ProgramSource& steps_;
  SmArray& sms_;
  SimulationTrace& trace_;
};

class GpuMachine : public sc_core::sc_module {
 public:
  GpuMachine(sc_core::sc_module_name name, const GpuSpec& gpu, ProgramSource& steps,
             SimulationTrace& trace, TileListener* listener = nullptr);

  BandwidthChannel hbm;
  BandwidthChannel l2;
  BandwidthChannel link;
  SmArray sms;
  GpuDispatcher dispatcher;
};

}  // namespace dfsim
