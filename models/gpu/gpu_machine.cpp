#include "models/gpu/gpu_machine.h"
#include "models/common/kernel_record.h"
#include "models/common/program_feed.h"
#include "models/common/sim_time.h"
#include "models/gpu/power_model.h"

#include <stdexcept>

namespace dfsim {

SmArray::SmArray(sc_core::sc_module_name name, const GpuSpec& gpu, BandwidthChannel& hbm,
                 BandwidthChannel& l2, BandwidthChannel& link, SimulationTrace& trace,
                 TileListener* listener)
    : sc_module(name),
      gpu_(gpu),
      trace_(trace),
      hbm_(hbm),
      link_(link),
      waves_({.count = gpu.sm_count,
              .inflight_bytes_per_unit = gpu.inflight_bytes_per_sm,
              .one_wave = false,
              .overlap_math = true,
              .track = "SMs",
              .unit_name = "SMs"},
             hbm, l2, trace, listener) {}

void SmArray::execute(const Kernel& kernel, KernelRecord& record) {
  if (kernel.collective != Collective::kNone) {
    // NCCL reads its input from and writes its result to HBM while the link carries the ring.
    run_collective_kernel(kernel, gpu_.sockets, hbm_, link_, gpu_.link, "link", trace_, record);
    return;
  }
  if (kernel.tiles < 1) {
    throw std::logic_error("kernel " + kernel.name + " has no tiles to run (mapper bug)");
  }
  const double tiles = static_cast<double>(kernel.tiles);
  const double tile_matmul = kernel.matmul_flops / tiles;
  const double tile_other = (kernel.flops - kernel.matmul_flops) / tiles;
  // Per-SM rates: the datasheet peaks divided evenly over the SMs.
  auto tensor = gpu_.tensor_rate.find(kernel.compute_dtype);
  // Tensor-core math at the rate the best library GEMM measurably reaches, not the datasheet's.
  const double matmul_rate =
      (tensor != gpu_.tensor_rate.end() ? tensor->second * gpu_.tensor_achievable_fraction
                                        : gpu_.vector_rate) /
      gpu_.sm_count;
  const double vector_rate = gpu_.vector_rate / gpu_.sm_count;
  // Dequantization issues on the CUDA cores, one FMA slot at a time.
  const double dequant_rate = gpu_.dequant_slot_rate() / gpu_.sm_count;
  const double tile_dequant = kernel.dequant_slots / tiles;
  const double tile_math =
      tile_matmul / matmul_rate + tile_other / vector_rate + tile_dequant / dequant_rate;
  // Under a board power limit the SM clock drops until the kernel's power fits (DVFS,
  // models/gpu/power_model.h): the math and the L2 (on the SM clock) slow by the clock ratio,
  // DRAM does not.
  const double hbm_rate = gpu_.hbm.bandwidth * gpu_.hbm.achievable_fraction;
  const KernelDemand demand{.math_seconds = tile_math * tiles / gpu_.sm_count,
                            .onchip_seconds = kernel.onchip_bytes / gpu_.l2.bandwidth,
                            .dram_bytes = kernel.dram_bytes(),
                            .dram_seconds = kernel.dram_bytes() / hbm_rate};
  const double ratio = clock_ratio_under_limit(gpu_.power, gpu_.clock, demand);
  if (ratio < 1) {
    Kernel slowed = kernel;
    slowed.onchip_bytes /= ratio;  // the L2's bandwidth falls with its clock
    waves_.execute(slowed, tile_math / ratio, record);
    return;
  }
  waves_.execute(kernel, tile_math, record);
}

GpuDispatcher::GpuDispatcher(sc_core::sc_module_name name, const GpuSpec& gpu, ProgramSource& steps,
                             SmArray& sms, SimulationTrace& trace)
    : sc_module(name), gpu_(gpu), steps_(steps), sms_(sms), trace_(trace) {
  SC_THREAD(run);
}

void GpuDispatcher::run() {
  // Launch gap of each kernel: the host submits one by one (kernel_overhead) or replays a
  // captured CUDA graph (graph_overhead). Decode steps are separate launches of the same graph.
  const double launch_gap =
      gpu_.launch.cuda_graphs ? gpu_.launch.graph_overhead : gpu_.launch.kernel_overhead;
  for (int step = 0;; ++step) {
    const Program* next = next_program(steps_);
    if (next == nullptr) break;
    const Program& program = *next;
    for (std::size_t index = 0; index < program.kernels.size(); ++index) {
      const Kernel& kernel = program.kernels[index];
      run_after_gap(trace_, step, index, kernel,
                    kernel.continues_loop ? gpu_.launch.grid_barrier : launch_gap, "dispatcher",
                    kernel.continues_loop ? "grid barrier" : "launch " + kernel.name,
                    [&](KernelRecord& record) { sms_.execute(kernel, record); });
    }
  }
  trace_.end_time = now_seconds();
}

GpuMachine::GpuMachine(sc_core::sc_module_name name, const GpuSpec& gpu, ProgramSource& steps,
                       SimulationTrace& trace, TileListener* listener)
    : sc_module(name),
      hbm("hbm", gpu.hbm.bandwidth * gpu.hbm.achievable_fraction, gpu.hbm.latency,
          trace.record_kernels),
      l2("l2", gpu.l2.bandwidth, 0.0, trace.record_units),
      link("link", gpu.link.bandwidth, gpu.link.latency, trace.record_units),
      sms("sms", gpu, hbm, l2, link, trace, listener),
      dispatcher("dispatcher", gpu, steps, sms, trace) {}

}  // namespace dfsim
