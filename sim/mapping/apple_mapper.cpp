#include "sim/mapping/apple_mapper.h"

#include <cmath>

#include <fmt/format.h>

#include "sim/common/error.h"
#include "sim/common/integer_math.h"
#include "sim/common/units.h"
#include "sim/mapping/dequantization.h"
#include "sim/mapping/gpu_mapper.h"

namespace dfsim {

namespace {

// Rows of activations per threadgroup of llama.cpp's Metal matrix-matrix kernel
// (kernel_mul_mm: a 64 x 32 output block per threadgroup, weights on the 64 side), so each
// weight is dequantized into threadgroup memory once per 32 rows. GEMV kernels (kernel_mul_mv_*)
// dequantize each weight once.
constexpr std::int64_t kMatmulTileRows = 32;
// Below this many rows llama.cpp runs the matrix-vector kernels (the GPU mapper's GEMV bound).
constexpr std::int64_t kGemvRows = 64;

bool is_matmul(const Op& op) {
  return op.kind == OpKind::kMatMul || op.kind == OpKind::kExpertMatMul ||
         op.kind == OpKind::kRouter;
}

// A unified-memory machine still cannot page weights in at these speeds: weights and KV cache
// must fit in the LPDDR.
void check_fits(const WorkloadGraph& graph, const AppleSpec& soc) {
  check_resident_fits(graph, {.capacity = soc.lpddr.capacity,
                              .holder = "the SoC has",
                              .memory = " of unified memory",
                              .per_device = "",
                              .more = "a chip with more memory",
                              .smaller_dtype = "int4"});
}

}  // namespace

double dequantization_slots_per_weight(Dtype weight, Dtype compute) {
  if (weight == compute) return 0;
  // Instructions per weight in llama.cpp's Metal dequantizers (ggml-metal.metal,
  // dequantize_q8_0 / dequantize_q4_0): convert the integer and multiply by the block scale (2);
  // 4-bit formats first mask the nibble out of its byte (3). Other floating formats: one
  // conversion. Each issues at the ALUs' FMA rate: one slot.
  if (weight == Dtype::kQ8_0 || weight == Dtype::kInt8 || weight == Dtype::kFp8) return 2;
  if (weight == Dtype::kQ4_0 || weight == Dtype::kInt4) return 3;
  return 1;
}

Program map_to_apple(const WorkloadGraph& graph, const AppleSpec& soc) {
  check_fits(graph, soc);
  const bool fuse = soc.fused_sdpa;
  // llama.cpp's Metal graph: one dispatch per op (ggml node); with flash attention (and in
  // MLX's mx.fast.scaled_dot_product_attention) scores, softmax and values are one kernel.
  auto key = [fuse](const Op& op) -> std::string {
    const bool sdpa = op.kind == OpKind::kAttentionScores || op.kind == OpKind::kSoftmax ||
                      op.kind == OpKind::kAttentionValues;
    return fuse && sdpa ? "attention" : op.role;
  };
  Program program = form_gpu_program(graph, soc.gpu_cores, key);
  for (Kernel& kernel : program.kernels) {
    for (std::size_t id : kernel.ops) {
      const Op& op = graph.op(id);
      if (!is_matmul(op)) continue;
      // The mechanism the GPU family uses (sim/mapping/dequantization.h), with the tiling of
      // llama.cpp's kernels: GEMV below kGemvRows, 32-row output blocks above.
      kernel.dequant_slots +=
          dequantization_slots(op.m, op.weight_elements,
                               dequantization_slots_per_weight(op.weight_dtype, op.compute_dtype),
                               {.gemv_rows = kGemvRows, .tile_rows = kMatmulTileRows});
    }
  }
  return program;
}

}  // namespace dfsim
