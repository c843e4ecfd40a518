#include "sim/report/summarize.h"

#include <algorithm>
#include <map>

#include "sim/mapping/collective_algorithm.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

double idle_streaming_time(const std::vector<RatePoint>& log, double streaming_bandwidth,
                           double begin, double end) {
  if (end <= begin) return 0;
  // Rate in force at `begin`: the last point at or before it (0 before the first point).
  auto after = std::upper_bound(log.begin(), log.end(), begin,
                                [](double t, const RatePoint& p) { return t < p.time; });
  double rate = after == log.begin() ? 0.0 : std::prev(after)->rate;
  double t = begin;
  double idle = 0;
  for (auto it = after; it != log.end() && it->time < end; ++it) {
    idle += (it->time - t) * std::max(0.0, 1.0 - rate / streaming_bandwidth);
    t = it->time;
    rate = it->rate;
  }
  idle += (end - t) * std::max(0.0, 1.0 - rate / streaming_bandwidth);
  return idle;
}

namespace {

// One call of the kernel's collectives (its own, or its pipeline stages'), at the algorithm
// the link picks: the seconds they hold the link, and their names.
struct LinkUse {
  double seconds = 0;
  std::string names;
};

LinkUse link_use(const Kernel& kernel, const HwConfig& hw) {
  LinkUse use;
  const LinkSpec* link = hw.link();
  if (!link || hw.sockets() < 2) return use;
  // `times` calls of one collective of `bytes`: every token chunk repeats a stage's collective.
  auto add = [&](Collective collective, double bytes, double times) {
    if (collective == Collective::kNone) return;
    const CollectiveCost cost = choose_collective(collective, bytes, hw.sockets(), *link);
    use.seconds += times * cost.time(*link);
    if (!use.names.empty()) use.names += ", ";
    use.names += std::string(collective_name(collective)) + " " +
                 std::string(collective_algorithm_name(cost.algorithm));
  };
  // A dataflow kernel's own Work sums its stages'; its collectives are the stages'.
  if (kernel.stages.empty()) add(kernel.collective, kernel.collective_bytes, 1);
  const double chunks = static_cast<double>(kernel.token_chunks);
  for (const Stage& stage : kernel.stages)
    add(stage.work.collective, stage.work.collective_bytes / chunks, chunks);
  return use;
}

}  // namespace

RunStats summarize(const SimulationTrace& trace, const std::vector<Program>& steps,
                   const ModelSpec& model, const HwConfig& hw, const Phase& phase) {
  RunStats stats;
  stats.model = model.name;
  stats.hw = hw.name;
  stats.phase = std::string(phase_name(phase.kind));
  stats.batch = phase.batch;
  stats.context = phase.context;
  stats.tokens = phase.kind == PhaseKind::kPrefill ? phase.context : phase.tokens;
  stats.weight_dtype = std::string(dtype_name(model.weight_dtype));
  stats.clock_hz = hw.clock();
  stats.peak_bandwidth_Bps = hw.peak_dram_bandwidth();
  stats.peak_flops = hw.peak_flops(model.activation_dtype);

  stats.sockets = hw.sockets();
  stats.time_s = trace.end_time;
  stats.cycles = stats.time_s * stats.clock_hz;
  // A launch (kernel call) is a synchronization boundary; loop iterations inside a call are not.
  for (const Program& program : steps) stats.kernel_launches += program.calls();
  stats.sync_boundaries = stats.kernel_launches;
  stats.simulated_transfers = trace.transfers;
  // The trace is one socket's, the busiest (an uneven head split or expert parallelism); totals
  // scale it by the sockets, which overstates the others' share of that imbalance.
  const double sockets = static_cast<double>(stats.sockets);
  const double socket_flops = stats.peak_flops / sockets;

  const HeadShard heads =
      head_shard(model.num_attention_heads, model.num_key_value_heads, stats.sockets);
  stats.heads_per_socket = heads.heads;
  stats.kv_heads_per_socket = heads.kv_heads;
  stats.mean_heads_per_socket = heads.mean_heads;
  stats.mean_kv_heads_per_socket = heads.mean_kv_heads;

  // Per-kernel sums, keyed by position in the program (the same in every step).
  std::map<std::size_t, KernelStats> by_index;
  double previous_last_byte = 0;
  for (const KernelRecord& record : trace.kernels) {
    const Kernel& kernel = steps.at(record.step).kernels.at(record.kernel);
    KernelStats& entry = by_index[record.kernel];
    const LinkUse link = link_use(kernel, hw);
    const double memory_seconds = record.dram_bytes / trace.streaming_bandwidth;
    const double compute_seconds = record.flops / socket_flops;
    if (entry.name.empty()) {
      entry.bound = link.seconds > std::max(memory_seconds, compute_seconds) ? "communication"
                    : compute_seconds > memory_seconds                       ? "compute"
                                                                             : "memory";
      entry.collectives = link.names;
    }
    entry.name = kernel.name;
    entry.layer = kernel.layer;
    entry.calls += 1;
    entry.time_s += record.end - record.start;
    entry.flops += record.flops * sockets;
    entry.dram_bytes += record.dram_bytes * sockets;
    stats.flops += record.flops * sockets;
    stats.dram_bytes += record.dram_bytes * sockets;
    if (record.dram_first_byte >= 0) {
      double overhead = idle_streaming_time(trace.dram_rate, trace.streaming_bandwidth,
                                            previous_last_byte, record.dram_first_byte);
      entry.sync_overhead_s += overhead;
      stats.sync_overhead_s += overhead;
      // A kernel that computes after its last byte, or waits on the link for its collectives,
      // keeps memory idle because of its own work, not a boundary: its window starts when it
      // ends. (With looping, a call's last iterations can still be draining a backlog of
      // all-reduces long after the loader has streamed the last weights.)
      const bool compute_bound = compute_seconds > memory_seconds;
      const bool communicates = link.seconds > 0;
      previous_last_byte = std::max(
          previous_last_byte, compute_bound || communicates ? record.end : record.dram_last_byte);
    } else if (link.seconds > 0) {
      // A collective kernel that moves no DRAM bytes (GPU, CPU): the link time is its own.
      previous_last_byte = std::max(previous_last_byte, record.end);
    }
  }
  for (auto& [index, entry] : by_index) {
    entry.cycles = entry.time_s * stats.clock_hz;
    if (entry.time_s > 0) {
      entry.bandwidth_utilization = entry.dram_bytes / entry.time_s / stats.peak_bandwidth_Bps;
      entry.compute_utilization = entry.flops / entry.time_s / stats.peak_flops;
    }
    stats.kernels.push_back(entry);
  }

  const double generated = static_cast<double>(phase.batch) *
                           (phase.kind == PhaseKind::kPrefill ? phase.context : phase.tokens);
  if (stats.time_s > 0) {
    stats.tokens_per_second = generated / stats.time_s;
    stats.achieved_bandwidth_Bps = stats.dram_bytes / stats.time_s;
    stats.bandwidth_utilization = stats.achieved_bandwidth_Bps / stats.peak_bandwidth_Bps;
    stats.compute_utilization = stats.flops / stats.time_s / stats.peak_flops;
    stats.sync_overhead_share = stats.sync_overhead_s / stats.time_s;
  }
  stats.time_per_step_s = stats.time_s / static_cast<double>(phase.steps());
  return stats;
}

}  // namespace dfsim
