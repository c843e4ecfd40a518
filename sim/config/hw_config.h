// Hardware descriptions as plain values, parsed from hw_configs/*.yaml. Nothing here knows
// SystemC: models/ builds machines from these values (Timeloop's Specs/model split).
// All quantities are in SI base units: bytes, bytes/s, FLOP/s, Hz, seconds.
#pragma once

#include <map>
#include <string>
#include <variant>

#include "sim/common/dtype.h"
#include "sim/common/error.h"
#include "sim/config/config_tree.h"

namespace dfsim {

// Off-chip memory (HBM, LPDDR, DDR).
struct DramSpec {
  double capacity = 0;             // bytes
  double bandwidth = 0;            // peak, bytes/s (the datasheet figure)
  double achievable_fraction = 1;  // share of peak a streaming access pattern sustains
  double latency = 0;              // seconds from request to first byte under load
};

// On-chip cache or scratchpad shared by all compute units.
struct OnChipMemorySpec {
  double capacity = 0;   // bytes
  double bandwidth = 0;  // bytes/s, whole chip
};

struct LaunchSpec {
  double kernel_overhead = 0;  // seconds between kernels on a stream launched one by one
  double graph_overhead = 0;   // seconds between kernels replayed from a CUDA graph
  bool cuda_graphs = false;    // launch mode of decode steps
};

struct GpuSpec {
  double clock = 0;                       // Hz, the clock cycles are reported in
  int sm_count = 0;                       // streaming multiprocessors
  std::map<Dtype, double> tensor_rate;    // dense tensor-core FLOP/s per input dtype, whole chip
  double vector_rate = 0;                 // FP32 FLOP/s of the CUDA cores, whole chip
  double inflight_bytes_per_sm = 0;       // memory-level parallelism of one SM (Little's law)
  OnChipMemorySpec l2;
  DramSpec hbm;
  LaunchSpec launch;
};

struct HwConfig {
  std::string name;         // "h100-sxm"
  std::string description;  // one line, shown by `dfsim list`
  std::string family;       // "gpu", ...
  std::string source_path;  // the file it was loaded from
  std::variant<GpuSpec> spec;

  const GpuSpec* gpu() const { return std::get_if<GpuSpec>(&spec); }
  // Peak off-chip bandwidth the bandwidth utilization is reported against.
  double peak_dram_bandwidth() const;
  // Peak FLOP/s at `dtype` (the dtype of the matmuls), for compute utilization.
  double peak_flops(Dtype dtype) const;
  // The clock that cycles are reported in.
  double clock() const;
};

// Builds an HwConfig from a (merged, overridden) tree; throws InputError on any bad field.
HwConfig parse_hw_config(const ConfigNode& root);

}  // namespace dfsim
