#include "models/cpu/cpu_machine.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "models/common/collective.h"
#include "models/common/sim_time.h"

namespace dfsim {

double cpu_tile_compute_seconds(const CpuSpec& cpu, const Kernel& kernel) {
  const double tiles = static_cast<double>(kernel.tiles);
  const double matmul_rate = kernel.matmul_ops_per_cycle > 0
                                 ? kernel.matmul_ops_per_cycle
                                 : cpu.matmul_ops_per_cycle(kernel.compute_dtype, cpu.amx_rows);
  // Ops other than matmuls (norms, softmax, SwiGLU, adds) run as fp32 AVX-512.
  const double cycles = kernel.matmul_flops / matmul_rate +
                        (kernel.flops - kernel.matmul_flops) / cpu.avx512_fp32 +
                        kernel.vector_instructions / cpu.vector_instructions;
  return cycles / cpu.clock / tiles;
}

CpuMachine::CpuMachine(sc_core::sc_module_name name, const CpuSpec& cpu,
                       const std::vector<Program>& steps, SimulationTrace& trace)
    : sc_module(name),
      ddr("ddr", cpu.ddr.bandwidth() * cpu.ddr.achievable_fraction, cpu.ddr.latency, true),
      l3("l3", cpu.l3.bandwidth, 0.0, trace.record_units),
      upi("upi", cpu.upi_bandwidth > 0 ? cpu.upi_bandwidth : 1.0, cpu.upi_latency,
          trace.record_units),
      cpu_(cpu),
      steps_(steps),
      trace_(trace) {
  SC_THREAD(run);
}

void CpuMachine::execute(const Kernel& kernel, KernelRecord& record) {
  if (kernel.tiles < 1)
    throw std::logic_error("kernel " + kernel.name + " has no tiles (mapper bug)");
  auto note_dram = [&](BandwidthChannel::Transfer* dram) {
    if (!dram) return;
    if (!dram->finished) sc_core::wait(dram->done);
    record.dram_first_byte = dram->first_byte;
    record.dram_last_byte = dram->last_byte;
    ddr.release(*dram);
  };
  if (kernel.collective != Collective::kNone) {
    BandwidthChannel::Transfer* dram =
        kernel.dram_bytes() > 0 ? &ddr.issue(kernel.dram_bytes(), 0) : nullptr;
    const double begin = now_seconds();
    run_collective(upi, kernel.collective, kernel.collective_bytes, cpu_.sockets);
    if (trace_.record_units)
      trace_.unit_slices.push_back({"UPI", kernel.name, begin, now_seconds()});
    note_dram(dram);
    return;
  }
  const std::int64_t threads = std::min<std::int64_t>(cpu_.cores, kernel.tiles);
  const std::int64_t per_thread = (kernel.tiles + threads - 1) / threads;
  const double begin = now_seconds();
  // Little's law: the active threads keep at most inflight_bytes_per_core outstanding each.
  const double cap =
      cpu_.ddr.latency > 0 ? threads * cpu_.inflight_bytes_per_core / cpu_.ddr.latency : 0;
  BandwidthChannel::Transfer* dram =
      kernel.dram_bytes() > 0 ? &ddr.issue(kernel.dram_bytes(), cap) : nullptr;
  BandwidthChannel::Transfer* cache =
      kernel.onchip_bytes > 0 ? &l3.issue(kernel.onchip_bytes, 0) : nullptr;
  note_dram(dram);
  if (cache) {
    if (!cache->finished) sc_core::wait(cache->done);
    l3.release(*cache);
  }
  wait_seconds(static_cast<double>(per_thread) * cpu_tile_compute_seconds(cpu_, kernel));
  if (trace_.record_units) {
    trace_.unit_slices.push_back({"cores",
                                  kernel.name + " (" + std::to_string(threads) + " threads)", begin,
                                  now_seconds()});
  }
}

void CpuMachine::run() {
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
      // Each op is a parallel region: the runtime wakes its threads and joins them at the end.
      // Under kernel looping the step is one persistent region: threads meet at a barrier.
      wait_seconds(kernel.continues_loop ? cpu_.barrier : cpu_.fork_join);
      record.start = now_seconds();
      if (trace_.record_units) {
        trace_.unit_slices.push_back(
            {"runtime", (kernel.continues_loop ? "barrier " : "fork/join ") + kernel.name,
             record.boundary_begin, record.start});
      }
      execute(kernel, record);
      record.end = now_seconds();
      trace_.kernels.push_back(record);
    }
  }
  trace_.end_time = now_seconds();
}

}  // namespace dfsim
