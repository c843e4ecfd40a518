// An Apple SoC's GPU as SystemC modules: a dispatcher that encodes a step's kernels into one
// Metal command buffer, GPU cores that run each kernel's threadgroups (tiles) in waves, and two
// bandwidth channels, the system-level cache (SLC) and the unified LPDDR memory.
//
// Timing assumptions (coded in apple_machine.cpp):
// - A step is one command buffer: committing it and seeing it complete costs
//   command_buffer_overhead once per step (llama.cpp and MLX wait for every token).
// - Every kernel is a dependent dispatch in one compute encoder: kernel_overhead between the
//   previous kernel's drain and the next one's first threadgroup (encode, dispatch, barrier),
//   paid once per die the GPU spans (an Ultra's barrier has to be seen by both halves).
// - The ALUs run everything: simdgroup-matrix GEMMs at fp16/fp32 rate x matmul_efficiency, the
//   rest (including dequantization, which the mapper adds) at the ALU rate, one after the other
//   on the same ALUs; loads overlap with math within a wave.
// - Waves, Little's law on the bytes each core keeps in flight, and wave quantization work as on
//   a GPU (models/common/tile_waves.h); unified memory means there is nothing else: no
//   host-to-device copy of weights.
#pragma once

#include <systemc>
#include <vector>

#include "models/common/bandwidth_channel.h"
#include "models/common/tile_waves.h"
#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/mapping/program_source.h"
#include "sim/mapping/tile_listener.h"
#include "sim/report/simulation_trace.h"

namespace dfsim {

// The GPU cores. execute() is called from the dispatcher's thread and returns when the kernel
// drained.
class AppleGpuCores : public sc_core::sc_module {
 public:
  AppleGpuCores(sc_core::sc_module_name name, const AppleSpec& soc, BandwidthChannel& lpddr,
                BandwidthChannel& slc, SimulationTrace& trace, TileListener* listener);
  void execute(const Kernel& kernel, KernelRecord& record);

 private:
  const AppleSpec& soc_;
  TileWaves waves_;
};

class AppleDispatcher : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(AppleDispatcher);
  AppleDispatcher(sc_core::sc_module_name name, const AppleSpec& soc, ProgramSource& steps,
                  AppleGpuCores& cores, SimulationTrace& trace);

 private:
  void run();  // SC_THREAD

  const AppleSpec& soc_;
  ProgramSource& steps_;
  AppleGpuCores& cores_;
  SimulationTrace& trace_;
};

class AppleMachine : public sc_core::sc_module {
 public:
  AppleMachine(sc_core::sc_module_name name, const AppleSpec& soc, ProgramSource& steps,
               SimulationTrace& trace, TileListener* listener = nullptr);

  BandwidthChannel lpddr;
  BandwidthChannel slc;
  AppleGpuCores cores;
  AppleDispatcher dispatcher;
};

}  // namespace dfsim
