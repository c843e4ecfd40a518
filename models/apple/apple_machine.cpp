#include "models/apple/apple_machine.h"

#include <algorithm>
#include <stdexcept>

#include "models/common/sim_time.h"

namespace dfsim {

using sc_core::wait;

AppleGpuCores::AppleGpuCores(sc_core::sc_module_name name, const AppleSpec& soc,
                             BandwidthChannel& lpddr, BandwidthChannel& slc, SimulationTrace& trace)
    : sc_module(name), soc_(soc), trace_(trace), lpddr_(lpddr), slc_(slc) {}

void AppleGpuCores::execute(const Kernel& kernel, KernelRecord& record) {
  if (kernel.tiles < 1 || kernel.tiles_per_unit < 1) {
    throw std::logic_error("kernel " + kernel.name + " has no tiles to run (mapper bug)");
  }
  if (kernel.collective != Collective::kNone) {
    throw std::logic_error("kernel " + kernel.name + " is a collective on a one-GPU SoC");
  }
  const double tiles = static_cast<double>(kernel.tiles);
  const double tile_dram = kernel.dram_bytes() / tiles;
  const double tile_onchip = kernel.onchip_bytes / tiles;
  const int cores = soc_.gpu_cores;
  // Per-core rates: the whole-GPU peaks divided evenly. GEMMs reach matmul_efficiency of the
  // ALU peak; everything else is counted at the peak (its FLOPs are few, its bytes decide).
  const double alu_rate = soc_.alu_rate(kernel.compute_dtype) / cores;
  const double matmul_rate = alu_rate * soc_.matmul_efficiency;
  const double tile_math = kernel.matmul_flops / tiles / matmul_rate +
                           (kernel.flops - kernel.matmul_flops) / tiles / alu_rate;

  const std::int64_t slots = static_cast<std::int64_t>(cores) * kernel.tiles_per_unit;
  const std::int64_t waves = (kernel.tiles + slots - 1) / slots;
  std::int64_t remaining = kernel.tiles;
  for (std::int64_t wave_index = 1; remaining > 0; ++wave_index) {
    const double wave_start = now_seconds();
    const std::int64_t wave = std::min(remaining, slots);
    remaining -= wave;
    const std::int64_t active = std::min<std::int64_t>(wave, cores);
    const std::int64_t per_core = (wave + cores - 1) / cores;
    // Little's law: a core keeps at most inflight_bytes_per_core outstanding, so a wave on few
    // cores cannot reach the streaming bandwidth (the bandwidth ramp of small kernels).
    const double in_flight = active * std::min(soc_.inflight_bytes_per_core, per_core * tile_dram);
    const double cap = lpddr_.latency() > 0 ? in_flight / lpddr_.latency() : 0;
    BandwidthChannel::Transfer* dram =
        wave * tile_dram > 0 ? &lpddr_.issue(wave * tile_dram, cap) : nullptr;
    BandwidthChannel::Transfer* onchip =
        wave * tile_onchip > 0 ? &slc_.issue(wave * tile_onchip, 0) : nullptr;
    wait_seconds(per_core * tile_math);
    if (dram && !dram->finished) wait(dram->done);
    if (onchip && !onchip->finished) wait(onchip->done);
    if (dram) {
      if (record.dram_first_byte < 0) record.dram_first_byte = dram->first_byte;
      record.dram_last_byte = dram->last_byte;
      lpddr_.release(*dram);
    }
    if (onchip) slc_.release(*onchip);
    if (trace_.record_units) {
      trace_.unit_slices.push_back({"GPU cores",
                                    kernel.name + " wave " + std::to_string(wave_index) + "/" +
                                        std::to_string(waves) + " (" + std::to_string(active) +
                                        " cores)",
                                    wave_start, now_seconds()});
    }
  }
}

AppleDispatcher::AppleDispatcher(sc_core::sc_module_name name, const AppleSpec& soc,
                                 const std::vector<Program>& steps, AppleGpuCores& cores,
                                 SimulationTrace& trace)
    : sc_module(name), soc_(soc), steps_(steps), cores_(cores), trace_(trace) {
  SC_THREAD(run);
}

void AppleDispatcher::run() {
  const double dispatch_gap = soc_.dispatch.kernel_overhead * soc_.dies;
  for (std::size_t step = 0; step < steps_.size(); ++step) {
    const Program& program = steps_[step];
    // The step's command buffer goes through the driver to the GPU before its first kernel;
    // completion reaching the host is part of the same round trip.
    const double commit = now_seconds();
    wait_seconds(soc_.dispatch.command_buffer_overhead);
    if (trace_.record_units) {
      trace_.unit_slices.push_back({"dispatcher", "command buffer", commit, now_seconds()});
    }
    for (std::size_t index = 0; index < program.kernels.size(); ++index) {
      const Kernel& kernel = program.kernels[index];
      KernelRecord record;
      record.step = static_cast<int>(step);
      record.kernel = index;
      record.boundary_begin = now_seconds();
      record.dram_bytes = kernel.dram_bytes();
      record.flops = kernel.flops;
      record.name = kernel.name;
      wait_seconds(dispatch_gap);
      record.start = now_seconds();
      if (trace_.record_units) {
        trace_.unit_slices.push_back(
            {"dispatcher", "dispatch " + kernel.name, record.boundary_begin, record.start});
      }
      cores_.execute(kernel, record);
      record.end = now_seconds();
      trace_.kernels.push_back(record);
    }
  }
  trace_.end_time = now_seconds();
}

AppleMachine::AppleMachine(sc_core::sc_module_name name, const AppleSpec& soc,
                           const std::vector<Program>& steps, SimulationTrace& trace)
    : sc_module(name),
      lpddr("lpddr", soc.lpddr.bandwidth * soc.lpddr.achievable_fraction, soc.lpddr.latency, true),
      slc("slc", soc.slc.bandwidth, 0.0, trace.record_units),
      cores("cores", soc, lpddr, slc, trace),
      dispatcher("dispatcher", soc, steps, cores, trace) {}

}  // namespace dfsim
