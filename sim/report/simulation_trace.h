// What a machine hands back after executing programs: when each kernel ran and how fast the
// off-chip memory delivered bytes over time. Plain values; reports are computed from these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dfsim {

struct KernelRecord {
  int step = 0;                 // index of the program (decode step)
  std::size_t kernel = 0;       // index of the kernel in its program
  std::string name;             // the kernel's name ("layer3.qkv_proj")
  double boundary_begin = 0;    // the previous kernel had drained: the launch gap begins
  double start = 0;             // first tile issued
  double end = 0;               // last tile finished (grid drained)
  double dram_first_byte = -1;  // first byte of this kernel delivered by DRAM (-1: none)
  double dram_last_byte = -1;   // last byte delivered
  double dram_bytes = 0;
  double flops = 0;
};

// Total rate the off-chip memory delivers from `time` on, until the next point.
struct RatePoint {
  double time = 0;
  double rate = 0;  // bytes/s
};

// What one hardware unit worked on, and when: the GPU's dispatcher (launch gaps), its SMs (waves)
// and link (collectives); the dataflow chip's host interface (call overhead), loader (each
// stage's bytes streaming in), the PCUs of each pipeline stage, and link. For timelines only.
struct UnitSlice {
  std::string unit;  // the track: "dispatcher", "SMs", "loader", "PCUs: gate_up_proj", "link"
  std::string name;  // what it did: the kernel, a wave, a stage's load
  double start = 0;
  double end = 0;
};

// Delivered rate over time of a memory other than DRAM (L2, DDR, link), for timelines.
struct MemoryRateLog {
  std::string memory;  // "L2", "DDR", "link"
  std::vector<RatePoint> rate;
};

struct SimulationTrace {
  // Asked for by the caller before simulation: record unit_slices and memory_rates (costly on
  // long runs, so only for timelines).
  bool record_units = false;
  // Keep every kernel's record and the DRAM rate log (what dfsim run summarizes). A serving run,
  // which needs only when each step ended, turns it off: thousands of iterations would
  // otherwise hold about 0.25 MB each (llama3.1-8b).
  bool record_kernels = true;

  std::vector<KernelRecord> kernels;   // in execution order
  std::vector<RatePoint> dram_rate;    // non-decreasing times
  double end_time = 0;                 // seconds of simulated time
  double streaming_bandwidth = 0;      // what DRAM sustains when streaming (bytes/s)
  std::uint64_t transfers = 0;         // DRAM transfers simulated (a measure of simulator work)
  std::vector<UnitSlice> unit_slices;  // only with record_units
  std::vector<MemoryRateLog> memory_rates;  // only with record_units
};

}  // namespace dfsim
