// What a mapper produces and a machine executes: kernels (sets of ops launched together, cut
// into tiles or pipeline stages) in launch order, some of them grouped into loops. Plain values;
// no SystemC.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/common/dtype.h"

namespace dfsim {

enum class Collective { kNone, kAllReduce, kAllGather };

// Work and traffic of a kernel or of one of its pipeline stages.
struct Work {
  double flops = 0;
  double matmul_flops = 0;     // part of `flops` on tensor cores / systolic arrays
  double dram_read_bytes = 0;  // from off-chip memory (HBM, or DDR for the ddr part)
  double dram_write_bytes = 0;
  double ddr_read_bytes = 0;    // part of dram_read_bytes served by the DDR tier (spilled weights)
  double onchip_bytes = 0;      // operand traffic served by the on-chip memory (L2 / SRAM)
  double collective_bytes = 0;  // full tensor a collective produces on every rank
  // GPU and Apple: ALU FMA issue slots spent dequantizing weights for the matmuls
  // (sim/mapping/dequantization.h; not part of `flops`, which count the model's arithmetic).
  double dequant_slots = 0;
  Collective collective = Collective::kNone;

  double dram_bytes() const { return dram_read_bytes + dram_write_bytes; }
  Work& operator+=(const Work& other);
};

// A dataflow pipeline stage: one op placed on its own group of compute units.
struct Stage {
  std::string name;  // the op's role: "q_proj"
  Work work;
  int units = 1;  // compute units (PCUs) placed for it
};

// The work of the whole kernel is its Work base. Bytes crossing the kernel boundary go to DRAM;
// tensors produced and consumed inside the kernel stay on chip.
struct Kernel : Work {
  std::string name;              // "layer3.qkv_proj"
  std::string role;              // "qkv_proj": the same kernel in every layer
  int layer = -1;                // decoder layer, -1 outside the layers
  std::vector<std::size_t> ops;  // graph vertices fused into this kernel, in graph order

  Dtype compute_dtype = Dtype::kBf16;

  // GPU tiling: `tiles` equal units of work; at most `tiles_per_unit` resident on one compute
  // unit (SM) at a time. The work is split evenly over the tiles.
  std::int64_t tiles = 1;
  int tiles_per_unit = 1;
  // Tile machines (GPU, Apple, CPU): DRAM bytes each active unit keeps in flight for this
  // kernel, the Little's-law cap on its waves' DRAM rate (models/common/tile_waves.h), where
  // its loads differ from the machine's (e.g. a kernel issuing wider or more asynchronous loads).
  double inflight_bytes_per_unit = 0;  // 0: the machine's default
  // No software pipelining: each warp issues one window of loads and consumes it (the tile's
  // math) before it issues the next, so a window's round trip is the latency plus the math
  // spent on it (tinygemm's loop). False: loads of the next window overlap the math.
  bool loads_wait_for_math = false;

  // CPU: ops per core per cycle of the engine the mapper chose for the matmul FLOPs (AMX tiles
  // or AVX-512), and vector instructions besides the FLOPs (unpacking quantized weights).
  double matmul_ops_per_cycle = 0;
  double vector_instructions = 0;

  // Dataflow: the pipeline stages in order, and how many times the kernel's token range is cut
  // so its working set fits on chip (each chunk streams the weights again).
  std::vector<Stage> stages;
  std::int64_t micro_batches = 1;  // groups of token rows flowing through the stages in turn
  std::int64_t token_chunks = 1;
  double onchip_working_set = 0;  // SRAM the kernel's activations occupy (per chunk)

  // Structural identity: kernels with the same signature run the same program on different
  // weights, so consecutive ones can be looped.
  std::string signature;
  // Kernel looping: this kernel is the next iteration of the previous kernel's loop, inside the
  // same kernel call (no drain, no launch; its weights may be prefetched).
  bool continues_loop = false;
};

struct Program {
  std::vector<Kernel> kernels;  // launch order

  // Kernel calls: kernels that start a call (not continuing a loop). Each call boundary is a
  // synchronization boundary.
  std::int64_t calls() const;
};

}  // namespace dfsim
