// What a mapper produces and a machine executes: kernels (sets of ops launched together, cut
// into tiles) in launch order. Plain values; no SystemC.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/common/dtype.h"

namespace dfsim {

struct Kernel {
  std::string name;   // "layer3.qkv_proj"
  std::string role;   // "qkv_proj": the same kernel in every layer
  int layer = -1;     // decoder layer, -1 outside the layers
  std::vector<std::size_t> ops;  // graph vertices fused into this kernel, in graph order

  // Work of the whole kernel. Bytes crossing the kernel boundary go to DRAM; tensors produced
  // and consumed inside the kernel stay on chip.
  double flops = 0;
  double matmul_flops = 0;       // part of `flops` on tensor cores / systolic arrays
  double dram_read_bytes = 0;
  double dram_write_bytes = 0;
  double onchip_bytes = 0;       // operand traffic served by the on-chip memory (L2 / SRAM)
  Dtype compute_dtype = Dtype::kBf16;

  // Tiling: `tiles` equal units of work; at most `tiles_per_unit` resident on one compute unit
  // (SM) at a time. Totals above are split evenly over the tiles.
  std::int64_t tiles = 1;
  int tiles_per_unit = 1;

  double dram_bytes() const { return dram_read_bytes + dram_write_bytes; }
};

struct Program {
  std::vector<Kernel> kernels;  // launch order
};

}  // namespace dfsim
