// The numbers a run reports. Computed from a SimulationTrace (summarize.h); printed as a table,
// JSON or CSV (report.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dfsim {

// One kernel of the program, summed over every step it ran in.
struct KernelStats {
  std::string name;
  int layer = -1;
  std::int64_t calls = 0;
  double time_s = 0;  // from first tile issued to grid drained, summed
  double cycles = 0;
  double flops = 0;
  double dram_bytes = 0;
  double bandwidth_utilization = 0;  // dram_bytes / time_s / peak bandwidth
  double compute_utilization = 0;    // flops / time_s / peak FLOP/s
  double sync_overhead_s = 0;        // the boundary before this kernel (see summarize.h)
  // What bounds one call of it on its own: "memory", "compute" or "communication" (the link
  // time of its collectives, at the algorithm the link picks, exceeds both).
  std::string bound;
  // Its collectives and the algorithm each ran: "all-reduce oneshot, all-reduce oneshot"; empty
  // without any.
  std::string collectives;
};

struct RunStats {
  std::string model;
  std::string hw;
  std::string phase;  // "decode" | "prefill"
  std::int64_t batch = 0;
  std::int64_t context = 0;  // decode: tokens cached before the first step; prefill: prompt
  std::int64_t tokens = 0;   // decode: steps; prefill: prompt tokens processed per sequence
  std::string weight_dtype;
  std::string looping = "off";  // kernel looping mode of the run
  int sockets = 1;              // tensor-parallel sockets (GPUs); totals cover all of them

  double time_s = 0;
  double cycles = 0;
  double clock_hz = 0;
  double tokens_per_second = 0;
  double time_per_step_s = 0;
  double flops = 0;
  double dram_bytes = 0;
  double achieved_bandwidth_Bps = 0;
  double peak_bandwidth_Bps = 0;
  double bandwidth_utilization = 0;
  double peak_flops = 0;
  double compute_utilization = 0;
  std::int64_t kernel_launches = 0;
  std::int64_t sync_boundaries = 0;
  double sync_overhead_s = 0;
  double sync_overhead_share = 0;
  std::uint64_t simulated_transfers = 0;
  // Tensor-parallel attention heads of the busiest socket (which sets the time) and their mean
  // over the sockets; they differ when the heads do not divide over the sockets.
  std::int64_t heads_per_socket = 0;
  std::int64_t kv_heads_per_socket = 0;
  double mean_heads_per_socket = 0;
  double mean_kv_heads_per_socket = 0;
  std::vector<KernelStats> kernels;  // program order of the first step
};

}  // namespace dfsim
