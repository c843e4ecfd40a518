// Roofline view of a run: each kernel (or each kernel role, all layers together) as arithmetic
// intensity (FLOPs per DRAM byte) against achieved FLOP/s, under the machine's compute ceilings
// (per dtype) and bandwidth slopes (per memory level), with the bound that limits it.
//
// Intensity is against off-chip (DRAM) bytes, the traffic every kernel pays; the L2 / SRAM and
// DDR slopes are drawn as the ceilings a kernel would meet if that level fed it (Williams et al.'s
// "bandwidth ceilings"). Achieved FLOP/s is FLOPs over the simulated kernel time (first tile to
// drain), so launch gaps are not in it; the synchronization overhead is reported by `dfsim run`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/report/gnuplot.h"
#include "sim/report/run_stats.h"

namespace dfsim {

struct RooflineCeiling {
  std::string name;  // "bf16", "fp32 vector", "HBM", "L2"
  double value = 0;  // FLOP/s for compute, bytes/s for bandwidth; all sockets
};

struct RooflineCeilings {
  std::vector<RooflineCeiling> compute;    // highest first
  std::vector<RooflineCeiling> bandwidth;  // the DRAM (HBM) slope first
};

// What the hardware lists: tensor-core rates per dtype and the CUDA-core rate (GPU), or the
// compute rate per dtype (dataflow); HBM and L2 (GPU) or HBM, SRAM and DDR (dataflow).
RooflineCeilings roofline_ceilings(const HwConfig& hw);

// A kernel below `kRooflineMargin` of the roof that bounds it is labelled latency/overhead: it
// is neither streaming memory nor computing at rate (too little work to fill the machine, a
// fixed startup cost, waves that do not fill the SMs).
inline constexpr double kRooflineMargin = 0.5;

struct RooflineKernel {
  std::string phase;  // "decode" | "prefill"
  std::string name;   // role ("qkv_proj", all layers) or the kernel name ("layer3.qkv_proj")
  std::int64_t calls = 0;
  double flops = 0, dram_bytes = 0, time_s = 0;  // summed over the calls, all sockets
  std::string dtype;                             // of its matmuls
  double intensity = 0;                          // FLOP / DRAM byte (infinite without DRAM traffic)
  double achieved = 0;                           // FLOP/s
  // FLOP/s its mix of matmul and other FLOPs reaches at peak, with the weights it dequantizes
  // on a GPU's CUDA cores (dequant_slots at the FP32-FMA rate)
  double compute_roof = 0;
  double memory_roof = 0;    // intensity x DRAM bandwidth
  double share_of_roof = 0;  // achieved / min(compute_roof, memory_roof)
  // compute | dequantization (compute, most of it unpacking weights) | memory |
  // latency/overhead | communication
  std::string bottleneck;
};

// One entry per kernel of `stats`, or per role with `by_role` (summed). `first_step` is the
// program of the run's first step; it supplies what RunStats does not carry (matmul share,
// dtype, collectives), matched by kernel name.
std::vector<RooflineKernel> roofline_kernels(const RunStats& stats, const Program& first_step,
                                             const HwConfig& hw, bool by_role);

std::string format_roofline_table(const std::string& title, const RooflineCeilings& ceilings,
                                  const std::vector<RooflineKernel>& kernels);
nlohmann::json roofline_json(const std::string& model, const std::string& hw,
                             const RooflineCeilings& ceilings,
                             const std::vector<RooflineKernel>& kernels);

// The compute ceiling of the dtype that carries the most FLOPs of `kernels` (the roof they
// meet; the ridge point is where the DRAM slope reaches it).
const RooflineCeiling& main_compute_ceiling(const RooflineCeilings& ceilings,
                                            const std::vector<RooflineKernel>& kernels);

// Log-log plot: the DRAM roof under the main compute ceiling, the other ceilings dashed (equal
// ones drawn once), one point style per phase, labels on the kernels that take at least
// `label_share` of their phase's kernel time (kernels on the same spot share one label).
void plot_roofline(const std::string& title, const RooflineCeilings& ceilings,
                   const std::vector<RooflineKernel>& kernels, const PlotFiles& files,
                   double label_share = 0);

}  // namespace dfsim
