#include "models/gpu/gpu_machine.h"
#include "models/common/sim_time.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dfsim {

using sc_core::SC_SEC;
using sc_core::sc_time;
using sc_core::wait;

SmArray::SmArray(sc_core::sc_module_name name, const GpuSpec& gpu, BandwidthChannel& hbm,
                 BandwidthChannel& l2, BandwidthChannel& link, SimulationTrace& trace,
                 TileListener* listener)
    : sc_module(name),
      gpu_(gpu),
      trace_(trace),
      hbm_(hbm),
      l2_(l2),
      link_(link),
      listener_(listener) {}

void SmArray::execute(const Kernel& kernel, KernelRecord& record) {
  if (kernel.tiles < 1 || kernel.tiles_per_unit < 1) {
    throw std::logic_error("kernel " + kernel.name + " has no tiles to run (mapper bug)");
  }
  if (kernel.collective != Collective::kNone) {
    // NCCL reads its input from and writes its result to HBM while the link carries the ring.
    BandwidthChannel::Transfer* dram =
        kernel.dram_bytes() > 0 ? &hbm_.issue(kernel.dram_bytes(), 0) : nullptr;
    const double begin = now_seconds();
    run_collective(link_, kernel.collective, kernel.collective_bytes, gpu_.sockets);
    if (trace_.record_units) {
      trace_.unit_slices.push_back({"link", kernel.name, begin, now_seconds()});
    }
    if (dram) {
      if (!dram->finished) wait(dram->done);
      record.dram_first_byte = dram->first_byte;
      record.dram_last_byte = dram->last_byte;
      hbm_.release(*dram);
    }
    return;
  }
  const double tiles = static_cast<double>(kernel.tiles);
  const double tile_dram = kernel.dram_bytes() / tiles;
  const double tile_onchip = kernel.onchip_bytes / tiles;
  const double tile_matmul = kernel.matmul_flops / tiles;
  const double tile_other = (kernel.flops - kernel.matmul_flops) / tiles;
  // Per-SM rates: the datasheet peaks divided evenly over the SMs.
  auto tensor = gpu_.tensor_rate.find(kernel.compute_dtype);
  const double matmul_rate =
      (tensor != gpu_.tensor_rate.end() ? tensor->second : gpu_.vector_rate) / gpu_.sm_count;
  const double vector_rate = gpu_.vector_rate / gpu_.sm_count;
  // Dequantization issues on the CUDA cores: vector_rate counts an FMA as 2 FLOPs per slot.
  const double tile_dequant = kernel.dequant_slots / tiles;
  const double tile_math =
      tile_matmul / matmul_rate + tile_other / vector_rate + tile_dequant / (vector_rate / 2);

  const std::int64_t slots = static_cast<std::int64_t>(gpu_.sm_count) * kernel.tiles_per_unit;
  std::int64_t remaining = kernel.tiles;
  const std::int64_t waves = (kernel.tiles + slots - 1) / slots;
  for (std::int64_t wave_index = 1; remaining > 0; ++wave_index) {
    const double wave_start = now_seconds();
    const std::int64_t wave = std::min(remaining, slots);
    remaining -= wave;
    // Tiles are spread over SMs first; the busiest SM holds ceil(wave / sm_count) of them.
    const std::int64_t active_sms = std::min<std::int64_t>(wave, gpu_.sm_count);
    const std::int64_t per_sm = (wave + gpu_.sm_count - 1) / gpu_.sm_count;
    const double math_time = per_sm * tile_math;
    // Little's law: an SM keeps at most inflight_bytes_per_sm (or all its tiles' bytes, if
    // fewer) outstanding; the wave's HBM rate cannot exceed that over the latency. A kernel's
    // own figure is for a full SM (tiles_per_unit resident tiles): an SM of a partial wave
    // holds fewer tiles and keeps only their share in flight.
    const double sm_in_flight =
        kernel.inflight_bytes_per_unit > 0
            ? kernel.inflight_bytes_per_unit *
                  std::min(1.0, static_cast<double>(per_sm) / kernel.tiles_per_unit)
            : gpu_.inflight_bytes_per_sm;
    const double in_flight = active_sms * std::min(sm_in_flight, per_sm * tile_dram);
    const double cap = hbm_.latency() > 0 ? in_flight / hbm_.latency() : 0;

    BandwidthChannel::Transfer* dram =
        wave * tile_dram > 0 ? &hbm_.issue(wave * tile_dram, cap) : nullptr;
    BandwidthChannel::Transfer* onchip =
        wave * tile_onchip > 0 ? &l2_.issue(wave * tile_onchip, 0) : nullptr;
    wait_seconds(math_time);
    if (dram && !dram->finished) wait(dram->done);
    if (onchip && !onchip->finished) wait(onchip->done);

    if (dram) {
      if (record.dram_first_byte < 0) record.dram_first_byte = dram->first_byte;
      record.dram_last_byte = dram->last_byte;
      hbm_.release(*dram);
    }
    if (onchip) l2_.release(*onchip);
    if (listener_)
      listener_->tiles_done(record.step, record.kernel, kernel.tiles - remaining - wave, wave);
    if (trace_.record_units) {
      trace_.unit_slices.push_back({"SMs",
                                    kernel.name + " wave " + std::to_string(wave_index) + "/" +
                                        std::to_string(waves) + " (" + std::to_string(active_sms) +
                                        " SMs)",
                                    wave_start, now_seconds()});
    }
  }
}

GpuDispatcher::GpuDispatcher(sc_core::sc_module_name name, const GpuSpec& gpu,
                             const std::vector<Program>& steps, SmArray& sms,
                             SimulationTrace& trace)
    : sc_module(name), gpu_(gpu), steps_(steps), sms_(sms), trace_(trace) {
  SC_THREAD(run);
}

void GpuDispatcher::run() {
  // Launch gap of each kernel: the host submits one by one (kernel_overhead) or replays a
  // captured CUDA graph (graph_overhead). Decode steps are separate launches of the same graph.
  const double launch_gap =
      gpu_.launch.cuda_graphs ? gpu_.launch.graph_overhead : gpu_.launch.kernel_overhead;
  for (std::size_t step = 0; step < steps_.size(); ++step) {
    const Program& program = steps_[step];
    for (std::size_t index = 0; index < program.kernels.size(); ++index) {
      const Kernel& kernel = program.kernels[index];
      KernelRecord record;
      record.step = static_cast<int>(step);
      record.kernel = index;
      record.boundary_begin = now_seconds();
      record.dram_bytes = kernel.dram_bytes();
      record.flops = kernel.flops;
      record.name = kernel.name;
      const double gap = kernel.continues_loop ? gpu_.launch.grid_barrier : launch_gap;
      wait_seconds(gap);
      record.start = now_seconds();
      if (trace_.record_units) {
        trace_.unit_slices.push_back(
            {"dispatcher", kernel.continues_loop ? "grid barrier" : "launch " + kernel.name,
             record.boundary_begin, record.start});
      }
      sms_.execute(kernel, record);
      record.end = now_seconds();
      trace_.kernels.push_back(record);
    }
  }
  trace_.end_time = now_seconds();
}

GpuMachine::GpuMachine(sc_core::sc_module_name name, const GpuSpec& gpu,
                       const std::vector<Program>& steps, SimulationTrace& trace,
                       TileListener* listener)
    : sc_module(name),
      hbm("hbm", gpu.hbm.bandwidth * gpu.hbm.achievable_fraction, gpu.hbm.latency, true),
      l2("l2", gpu.l2.bandwidth, 0.0, trace.record_units),
      link("link", gpu.link.bandwidth, gpu.link.latency, trace.record_units),
      sms("sms", gpu, hbm, l2, link, trace, listener),
      dispatcher("dispatcher", gpu, steps, sms, trace) {}

}  // namespace dfsim
