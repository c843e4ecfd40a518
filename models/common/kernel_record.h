// The record every machine opens for a kernel when its boundary begins (the previous kernel
// drained); the machine fills in start, end and the DRAM byte times as it runs it.
#pragma once

#include <cstddef>

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

}  // namespace dfsim
