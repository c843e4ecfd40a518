// A kernel's tiles run in waves over an array of identical compute units (a GPU's SMs, an Apple
// GPU's cores, a CPU's cores): the one executor the tile machines share.
//
// Timing assumptions:
// - A wave is the set of tiles resident at once (units x tiles_per_unit); the busiest unit holds
//   ceil(wave / units) of them and the wave ends when it is done (wave quantization). A CPU's
//   threads take all their tiles in one parallel region: one wave.
// - A unit keeps at most `inflight_bytes_per_unit` (or all its tiles' bytes, if fewer) of DRAM
//   requests outstanding; the wave's DRAM rate is capped at that over the latency (Little's law),
//   so a wave on few units cannot reach the streaming bandwidth. A kernel may set its own
//   figure (Kernel::inflight_bytes_per_unit) where its loads differ from the machine's; that
//   figure is for a unit holding tiles_per_unit of its tiles, and a unit of a partial wave that
//   holds fewer keeps only their share in flight.
// - Within a wave, loads and math overlap (software pipelining: the wave lasts max(DRAM, on-chip,
//   math)), or, where a core does not overlap its misses with its own instructions, math starts
//   when the operands have arrived.
// - A kernel without software pipelining (Kernel::loads_wait_for_math) issues a unit's window of
//   in-flight bytes only after the math on the previous window: each window's round trip is the
//   latency plus that math, and the Little's-law cap divides by their sum (little_law_cap's
//   `window_math`).
#pragma once

#include <cstdint>
#include <string>

#include "models/common/bandwidth_channel.h"
#include "sim/config/link_spec.h"
#include "sim/mapping/program.h"
#include "sim/mapping/tile_listener.h"
#include "sim/report/simulation_trace.h"

namespace dfsim {

// What differs between the machines that run tiles in waves.
struct WaveUnits {
  int count = 1;                       // SMs, GPU cores, CPU cores
  double inflight_bytes_per_unit = 0;  // the machine's default DRAM bytes in flight per unit
  bool one_wave = false;               // all tiles at once, looped over by their unit (CPU threads)
  bool overlap_math = true;            // loads overlap math within a wave
  std::string track;                   // trace row: "SMs"
  std::string unit_name;               // in wave labels: "SMs", "cores", "threads"
};

// Bytes each active unit keeps in flight for `kernel`: the kernel's own figure where it sets one,
// else the machine's default.
double inflight_bytes_per_unit(const Kernel& kernel, const WaveUnits& units);

// Little's law cap (bytes/s) on a wave's DRAM rate: `active` units each keep
// min(in-flight bytes per unit, their tiles' bytes) outstanding over the DRAM latency; 0
// (uncapped) when the memory has no latency.
double little_law_cap(double inflight_per_unit, std::int64_t active, std::int64_t tiles_per_active,
                      double tile_dram_bytes, double latency, double window_math = 0);

// Seconds of math a unit spends on one window of its in-flight bytes, when its `tiles` tiles of
// `tile_dram_bytes` each take `tile_math` seconds of math and it keeps `window_bytes` in flight.
double window_math_seconds(std::int64_t tiles, double tile_math, double tile_dram_bytes,
                           double window_bytes);

class TileWaves {
 public:
  TileWaves(WaveUnits units, BandwidthChannel& dram, BandwidthChannel& onchip,
            SimulationTrace& trace, TileListener* listener);

  // Runs `kernel` (not a collective) from the calling SystemC thread; `tile_math` is the seconds
  // one unit computes one tile. Returns when the last wave finished.
  void execute(const Kernel& kernel, double tile_math, KernelRecord& record);

  const WaveUnits& units() const { return units_; }

 private:
  WaveUnits units_;
  BandwidthChannel& dram_;
  BandwidthChannel& onchip_;
  SimulationTrace& trace_;
  TileListener* listener_;
};

// A collective kernel (tensor parallelism over `ranks`): its input and result stream through
// `dram` while `link` carries the algorithm `spec` picks (named in the trace). Returns when
// both finished.
void run_collective_kernel(const Kernel& kernel, int ranks, BandwidthChannel& dram,
                           BandwidthChannel& link, const LinkSpec& spec, const std::string& track,
                           SimulationTrace& trace, KernelRecord& record);

}  // namespace dfsim
