#include "models/apple/apple_machine.h"

#include <stdexcept>

#include "models/common/kernel_record.h"
#include "models/common/program_feed.h"
#include "models/common/sim_time.h"

namespace dfsim {

AppleGpuCores::AppleGpuCores(sc_core::sc_module_name name, const AppleSpec& soc,
                             BandwidthChannel& lpddr, BandwidthChannel& slc, SimulationTrace& trace,
                             TileListener* listener)
    : sc_module(name),
      soc_(soc),
      waves_({.count = soc.gpu_cores,
              .inflight_bytes_per_unit = soc.inflight_bytes_per_core,
              .one_wave = false,
              .overlap_math = true,
              .track = "GPU cores",
              .unit_name = "cores"},
             lpddr, slc, trace, listener) {}

void AppleGpuCores::execute(const Kernel& kernel, KernelRecord& record) {
  if (kernel.collective != Collective::kNone) {
    throw std::logic_error("kernel " + kernel.name + " is a collective on a one-GPU SoC");
  }
  if (kernel.tiles < 1) {
    throw std::logic_error("kernel " + kernel.name + " has no tiles to run (mapper bug)");
  }
  const double tiles = static_cast<double>(kernel.tiles);
  const int cores = soc_.gpu_cores;
  // Per-core rates: the whole-GPU peaks divided evenly. GEMMs reach matmul_efficiency of the
  // ALU peak; everything else is counted at the peak (its FLOPs are few, its bytes decide).
  const double alu_rate = soc_.alu_rate(kernel.compute_dtype) / cores;
  const double matmul_rate = alu_rate * soc_.matmul_efficiency;
  // Dequantization issues on the same ALUs, one FMA slot per slot (sim/mapping/dequantization.h).
  const double dequant_rate = soc_.dequant_slot_rate(kernel.compute_dtype) / cores;
  const double tile_math = kernel.matmul_flops / tiles / matmul_rate +
                           (kernel.flops - kernel.matmul_flops) / tiles / alu_rate +
                           kernel.dequant_slots / tiles / dequant_rate;
  waves_.execute(kernel, tile_math, record);
}

AppleDispatcher::AppleDispatcher(sc_core::sc_module_name name, const AppleSpec& soc,
                                 ProgramSource& steps, AppleGpuCores& cores, SimulationTrace& trace)
    : sc_module(name), soc_(soc), steps_(steps), cores_(cores), trace_(trace) {
  SC_THREAD(run);
}

void AppleDispatcher::run() {
  const double dispatch_gap = soc_.dispatch.kernel_overhead * soc_.dies;
  for (int step = 0;; ++step) {
    const Program* next = next_program(steps_);
    if (next == nullptr) break;
    const Program& program = *next;
    // The step's command buffer goes through the driver to the GPU before its first kernel;
    // completion reaching the host is part of the same round trip.
    const double commit = now_seconds();
    wait_seconds(soc_.dispatch.command_buffer_overhead);
    if (trace_.record_units) {
      trace_.unit_slices.push_back({"dispatcher", "command buffer", commit, now_seconds()});
    }
    for (std::size_t index = 0; index < program.kernels.size(); ++index) {
      const Kernel& kernel = program.kernels[index];
      run_after_gap(trace_, step, index, kernel, dispatch_gap, "dispatcher",
                    "dispatch " + kernel.name,
                    [&](KernelRecord& record) { cores_.execute(kernel, record); });
    }
  }
  trace_.end_time = now_seconds();
}

AppleMachine::AppleMachine(sc_core::sc_module_name name, const AppleSpec& soc, ProgramSource& steps,
                           SimulationTrace& trace, TileListener* listener)
    : sc_module(name),
      lpddr("lpddr", soc.lpddr.bandwidth * soc.lpddr.achievable_fraction, soc.lpddr.latency,
            trace.record_kernels),
      slc("slc", soc.slc.bandwidth, 0.0, trace.record_units),
      cores("cores", soc, lpddr, slc, trace, listener),
      dispatcher("dispatcher", soc, steps, cores, trace) {}

}  // namespace dfsim
