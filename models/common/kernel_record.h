// The record every machine opens for a kernel when its boundary begins (the previous kernel
// drained); the machine fills in start, end and the DRAM byte times as it runs it.
#pragma once

#include <cstddef>
#include <string>

#include "models/common/sim_time.h"

#include "sim/mapping/program.h"
#include "sim/report/simulation_trace.h"

namespace dfsim {

inline KernelRecord open_kernel_record(int step, std::size_t index, const Kernel& kernel,
                                       double boundary_begin) {
  KernelRecord record;
  record.step = step;
  record.kernel = index;
  record.boundary_begin = boundary_begin;
  record.dram_bytes = kernel.dram_bytes();
  record.flops = kernel.flops;
  record.name = kernel.name;
  return record;
}

// A kernel launched by a machine's host-side thread, one after another: its boundary costs `gap`
// (launch, dispatch, fork/join; traced on `track` as `gap_label`), then `execute(record)` runs
// it from the calling SystemC thread; its record goes into the trace when it is done.
template <class Execute>
void run_after_gap(SimulationTrace& trace, int step, std::size_t index, const Kernel& kernel,
                   double gap, const char* track, const std::string& gap_label, Execute&& execute) {
  KernelRecord record = open_kernel_record(step, index, kernel, now_seconds());
  wait_seconds(gap);
  record.start = now_seconds();
  if (trace.record_units) {
    trace.unit_slices.push_back({track, gap_label, record.boundary_begin, record.start});
  }
  execute(record);
  record.end = now_seconds();
  if (trace.record_kernels) trace.kernels.push_back(record);
}

}  // namespace dfsim
