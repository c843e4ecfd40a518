#include "models/cpu/cpu_machine.h"

#include <stdexcept>
#include <string>

#include "models/common/kernel_record.h"
#include "models/common/program_feed.h"
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

CpuMachine::CpuMachine(sc_core::sc_module_name name, const CpuSpec& cpu, ProgramSource& steps,
                       SimulationTrace& trace, TileListener* listener)
    : sc_module(name),
      ddr("ddr", cpu.ddr.bandwidth() * cpu.ddr.achievable_fraction, cpu.ddr.latency,
          trace.record_kernels),
      l3("l3", cpu.l3.bandwidth, 0.0, trace.record_units),
      upi("upi", cpu.upi.bandwidth > 0 ? cpu.upi.bandwidth : 1.0, cpu.upi.latency,
          trace.record_units),
      cpu_(cpu),
      steps_(steps),
      trace_(trace),
      // A thread streams its operands, then computes: no overlap of its misses with its own
      // unpack and dot-product instructions (see the header).
      threads_({.count = cpu.cores,
                .inflight_bytes_per_unit = cpu.inflight_bytes_per_core,
                .one_wave = true,
                .overlap_math = false,
                .track = "cores",
                .unit_name = "threads"},
               ddr, l3, trace, listener) {
  SC_THREAD(run);
}

void CpuMachine::execute(const Kernel& kernel, KernelRecord& record) {
  if (kernel.collective != Collective::kNone) {
    run_collective_kernel(kernel, cpu_.sockets, ddr, upi, cpu_.upi, "UPI", trace_, record);
    return;
  }
  if (kernel.tiles < 1)
    throw std::logic_error("kernel " + kernel.name + " has no tiles (mapper bug)");
  threads_.execute(kernel, cpu_tile_compute_seconds(cpu_, kernel), record);
}

void CpuMachine::run() {
  for (int step = 0;; ++step) {
    const Program* next = next_program(steps_);
    if (next == nullptr) break;
    const Program& program = *next;
    for (std::size_t index = 0; index < program.kernels.size(); ++index) {
      const Kernel& kernel = program.kernels[index];
      // Each op is a parallel region: the runtime wakes its threads and joins them at the end.
      // Under kernel looping the step is one persistent region: threads meet at a barrier.
      const bool looped = kernel.continues_loop;
      run_after_gap(trace_, step, index, kernel, looped ? cpu_.barrier : cpu_.fork_join, "runtime",
                    (looped ? "barrier " : "fork/join ") + kernel.name,
                    [&](KernelRecord& record) { execute(kernel, record); });
    }
  }
  trace_.end_time = now_seconds();
}

}  // namespace dfsim
