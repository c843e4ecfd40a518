// The SM clock of a GPU under a board power limit (DVFS), per kernel. No SystemC: plain math
// on a PowerSpec (sim/config/power_spec.h) that the GPU machine applies to each kernel's math.
//
// Model (the clock ratio s = SM clock / the config's clock, at which its rates hold):
// - Dynamic power of CMOS logic is C V^2 f, and over a GPU's DVFS range the voltage rises
//   roughly linearly with the clock, so the dynamic power of busy SMs scales as s^3:
//   sm_dynamic x s^3 with all SMs busy.
// - A kernel keeps the SMs busy for the share u of its time that its math or its L2 traffic
//   takes: u = max(math, L2) / s / t, with t = max(math / s, L2 / s, DRAM time) (loads and math
//   overlap, as the wave model has them; the L2 runs on the SM clock). ASSUMPTION: streaming
//   operands from L2 at full rate keeps the SMs' datapaths and register files as busy as the
//   math does (a GEMM that waits on L2 still draws near the TDP in practice). In the
//   DRAM-bound regime u falls as the clock rises, so there the SM power grows only as s^2.
// - DRAM power is the energy per byte times the bytes over the kernel's time. The HBM clock is
//   not scaled by DVFS, so the DRAM time does not depend on s.
// - The rest (leakage, uncore, DRAM refresh) is `idle`, constant.
// - The driver lowers the clock until the kernel's power fits the limit, not below min_clock.
// Not modelled: the control loop's time constant (the driver averages power over milliseconds,
// i.e. over many kernels; here each kernel gets the clock its own power allows), temperature,
// and latency-bound kernels (their time is taken as the longest of math, L2 and DRAM
// streaming, so their power is overestimated: a conservative clock).
#pragma once

#include "sim/config/power_spec.h"

namespace dfsim {

// What one kernel asks of the board at the config's clock (s = 1).
struct KernelDemand {
  double math_seconds = 0;    // the SMs' compute time, all SMs busy
  double onchip_seconds = 0;  // L2 traffic at the L2 bandwidth (on the SM clock: scales as 1/s)
  double dram_bytes = 0;      // read and written in DRAM
  double dram_seconds = 0;    // those bytes at the streaming bandwidth (independent of s)
};

// Board power (W) while the kernel runs at clock ratio s (0 < s <= 1).
double kernel_power(const PowerSpec& power, const KernelDemand& demand, double s);

// The clock ratio the kernel runs at under power.limit: 1 when its power at full clock fits,
// else the ratio at which it equals the limit (kernel_power rises with s), and never below
// min_clock / clock. 1 when the config has no power section.
double clock_ratio_under_limit(const PowerSpec& power, double clock, const KernelDemand& demand);

}  // namespace dfsim
