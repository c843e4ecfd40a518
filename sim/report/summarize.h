// Turns a machine's trace into the reported numbers.
//
// Synchronization overhead is measured, not assumed: for every kernel boundary, the window from
// the last DRAM byte of one kernel to the first DRAM byte of the next kernel that moves data is
// the time the boundary (grid drain, launch, refill latency) keeps memory from streaming. Its
// overhead is that window's time not spent streaming: the integral of
// (1 - delivered rate / streaming rate) over the window, so traffic that overlaps the boundary
// (a prefetch) shrinks it. The first kernel's window starts at time 0. A kernel that is
// compute-bound on its own roofline (its FLOPs at peak take longer than its bytes at the
// streaming rate) keeps memory idle because it computes, not because of the boundary: its
// window starts when its grid has drained instead. So does a kernel with collectives: time it
// spends waiting on the link is its own (the table calls it communication-bound), not the
// boundary's, so sync overhead is the call boundary's cost only.
#pragma once

#include <string>
#include <vector>

#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/report/run_stats.h"
#include "sim/report/simulation_trace.h"
#include "sim/workload/model_spec.h"
#include "sim/workload/phase.h"

namespace dfsim {

RunStats summarize(const SimulationTrace& trace, const std::vector<Program>& steps,
                   const ModelSpec& model, const HwConfig& hw, const Phase& phase);

// Time during [begin, end] the memory was not streaming: integral of (1 - rate/streaming)+.
double idle_streaming_time(const std::vector<RatePoint>& log, double streaming_bandwidth,
                           double begin, double end);

}  // namespace dfsim
