#include "sim/mapping/gpu_mapper.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "sim/common/error.h"
#include "sim/common/units.h"
#include "sim/mapping/kernel_formation.h"

namespace dfsim {

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

// Output tile of a tensor-core GEMM (CUTLASS's default 128x128 threadblock tile).
constexpr std::int64_t kGemmTile = 128;
// Below this many rows a matmul is a GEMV: each SM streams a slice of the weight matrix.
constexpr std::int64_t kGemvRows = 64;
// Elements handled by one CTA of an elementwise kernel (256 threads x 8 elements).
constexpr std::int64_t kElementwiseTile = 2048;
// Resident CTAs per SM for small elementwise CTAs (occupancy-limited by 2048 threads per SM).
constexpr int kElementwiseResident = 8;
// KV positions per split of a FlashDecoding kernel.
constexpr std::int64_t kDecodeSplit = 256;
// Query rows per CTA of a FlashAttention prefill kernel.
constexpr std::int64_t kAttentionQueryTile = 128;

void tile_matmul(const WorkloadGraph& graph, int units, Kernel& kernel) {
  const Op& first = graph.op(kernel.ops.front());
  std::int64_t m = first.m;
  std::int64_t k = first.k;
  std::int64_t n = 0;
  // Output columns of the fused matmuls (their dequantize epilogues add none).
  for (std::size_t id : kernel.ops) {
    if (graph.op(id).kind == first.kind) n += graph.op(id).n;
  }
  if (m <= kGemvRows) {
    // GEMV: one persistent CTA per SM streams n/sm_count columns (split-K when n is smaller).
    kernel.tiles = units;
    kernel.tiles_per_unit = 1;
    kernel.onchip_bytes = kernel.dram_bytes();
    return;
  }
  kernel.tiles = ceil_div(m, kGemmTile) * ceil_div(n, kGemmTile);
  kernel.tiles_per_unit = 1;
  // Each output tile reads a [128, k] stripe of activations and a [k, 128] stripe of weights
  // through L2; DRAM sees each operand once (the L2 holds the stripes shared within a wave).
  double activation_bytes = dtype_bytes(first.compute_dtype);
  double weight_bytes = first.weight_bytes / (static_cast<double>(first.n) * first.k);
  kernel.onchip_bytes =
      static_cast<double>(kernel.tiles) * kGemmTile * k * (activation_bytes + weight_bytes);
}

// Grouped expert GEMM (vLLM's fused_moe, TensorRT-LLM's MoE GEMM): the routed rows are sorted
// by expert and every expert read runs its rows as a GEMM of its own. With few rows per
// expert (decode) the kernel streams the read experts' weights like a GEMV.
void tile_grouped_matmul(const WorkloadGraph& graph, int units, Kernel& kernel) {
  const Op& op = graph.op(kernel.ops.front());
  const std::int64_t groups =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(op.experts_read - 1e-9)));
  const std::int64_t rows_per_expert = ceil_div(op.m, groups);
  if (rows_per_expert <= kGemvRows) {
    kernel.tiles = units;
    kernel.tiles_per_unit = 1;
    kernel.onchip_bytes = kernel.dram_bytes();
    return;
  }
  kernel.tiles = groups * ceil_div(rows_per_expert, kGemmTile) * ceil_div(op.n, kGemmTile);
  kernel.tiles_per_unit = 1;
  const double activation_bytes = dtype_bytes(op.compute_dtype);
  const double weight_bytes =
      op.weight_bytes / (std::max(op.experts_read, 1e-9) * static_cast<double>(op.n) * op.k);
  kernel.onchip_bytes =
      static_cast<double>(kernel.tiles) * kGemmTile * op.k * (activation_bytes + weight_bytes);
}

// Serving stacks keep every weight and the KV cache in HBM; a model that does not fit cannot
// run there at all (no stack streams weights from host memory at these speeds).
void check_fits(const WorkloadGraph& graph, const GpuSpec& gpu) {
  const auto [weights, kv_cache] = resident_bytes(graph);
  if (weights + kv_cache <= gpu.hbm.capacity) return;
  const std::string per_gpu = gpu.sockets > 1 ? " per GPU" : "";
  throw InputError(fmt::format(
      "the model needs {} of weights and {} of KV cache{}, the hardware has {} HBM{}; use more "
      "GPUs (e.g. --hw dgx-h100), a smaller weight dtype (--set model.weight_dtype=fp8) or a "
      "shorter context",
      format_quantity(weights, Dimension::kBytes), format_quantity(kv_cache, Dimension::kBytes),
      per_gpu, format_quantity(gpu.hbm.capacity, Dimension::kBytes), per_gpu));
}

// Weights the matmul units cannot take as stored are dequantized in the kernel, on the CUDA
// cores, by every CTA that uses them: once per kernel for a GEMV (each weight is read by one
// CTA), once per 128-row block of the output for a tiled GEMM (each row block's CTAs unpack
// their weight stripe again).
void count_dequantization(const WorkloadGraph& graph, const GpuSpec& gpu, Kernel& kernel) {
  for (std::size_t id : kernel.ops) {
    const Op& op = graph.op(id);
    auto it = gpu.dequant_slots.find(op.weight_dtype);
    if (it == gpu.dequant_slots.end() || op.weight_elements <= 0) continue;
    // W8A8 (model.quantization): int8 weights meet int8 activations on the tensor cores as
    // stored; only the epilogue rescales (the dequantize op).
    if (op.weight_dtype == Dtype::kInt8 && op.compute_dtype == Dtype::kInt8) continue;
    std::int64_t rows = op.m;
    if (op.kind == OpKind::kExpertMatMul) {
      const std::int64_t groups =
          std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(op.experts_read - 1e-9)));
      rows = ceil_div(op.m, groups);
    }
    const std::int64_t row_blocks = rows <= kGemvRows ? 1 : ceil_div(rows, kGemmTile);
    kernel.dequant_slots += op.weight_elements * it->second * static_cast<double>(row_blocks);
  }
}

void tile_attention(const WorkloadGraph& graph, int units, Kernel& kernel) {
  const Op& scores = graph.op(kernel.ops.front());
  // The builder stores attention shapes per sequence: m new tokens, n keys.
  std::int64_t new_tokens = scores.m;
  std::int64_t keys = scores.n;
  std::int64_t batch_heads = scores.groups;
  if (new_tokens == 1) {
    // FlashDecoding: split the keys so that the grid covers the SMs.
    std::int64_t splits =
        std::clamp<std::int64_t>(ceil_div(units, batch_heads), 1, ceil_div(keys, kDecodeSplit));
    kernel.tiles = batch_heads * splits;
  } else {
    kernel.tiles = batch_heads * ceil_div(new_tokens, kAttentionQueryTile);
  }
  kernel.tiles_per_unit = 2;
  kernel.onchip_bytes = kernel.dram_bytes();
}

// DiJiang linear attention: one CTA per (sequence, head) and slice of the state's m feature
// rows, enough slices to cover the SMs (as FlashDecoding splits the keys): each reads and
// updates its slice of S and z.
void tile_linear_attention(const WorkloadGraph& graph, int units, Kernel& kernel) {
  const Op& op = graph.op(kernel.ops.back());
  const std::int64_t splits = std::clamp<std::int64_t>(ceil_div(units, op.groups), 1, op.k);
  kernel.tiles = op.groups * splits;
  kernel.tiles_per_unit = 2;
  kernel.onchip_bytes = kernel.dram_bytes();
}

void tile_elementwise(const WorkloadGraph& graph, Kernel& kernel) {
  std::int64_t elements = 0;
  for (std::size_t id : kernel.ops) {
    const Op& op = graph.op(id);
    elements = std::max(elements, op.m * op.n);
  }
  kernel.tiles = std::max<std::int64_t>(1, ceil_div(elements, kElementwiseTile));
  kernel.tiles_per_unit = kElementwiseResident;
  kernel.onchip_bytes = kernel.dram_bytes();
}

}  // namespace

Program map_to_gpu(const WorkloadGraph& graph, const GpuSpec& gpu) {
  check_fits(graph, gpu);
  Program program = form_gpu_program(graph, gpu.sm_count, serving_fusion_key);
  for (Kernel& kernel : program.kernels) {
    const OpKind kind = graph.op(kernel.ops.front()).kind;
    if (kind == OpKind::kMatMul || kind == OpKind::kRouter || kind == OpKind::kExpertMatMul) {
      count_dequantization(graph, gpu, kernel);
    }
  }
  return program;
}

Program form_gpu_program(const WorkloadGraph& graph, int units, const FusionKey& key) {
  Program program;
  program.kernels = form_kernels(graph, key);
  for (Kernel& kernel : program.kernels) {
    OpKind kind = graph.op(kernel.ops.back()).kind == OpKind::kLinearAttention
                      ? OpKind::kLinearAttention
                      : graph.op(kernel.ops.front()).kind;
    if (kind == OpKind::kAllReduce || kind == OpKind::kAllGather) {
      // One CTA per link channel; the time is the link's, the SMs barely work.
      kernel.tiles = 1;
    } else if (kind == OpKind::kMatMul || kind == OpKind::kRouter) {
      tile_matmul(graph, units, kernel);
    } else if (kind == OpKind::kExpertMatMul) {
      tile_grouped_matmul(graph, units, kernel);
    } else if (kind == OpKind::kAttentionScores) {
      tile_attention(graph, units, kernel);
    } else if (kind == OpKind::kLinearAttention) {
      tile_linear_attention(graph, units, kernel);
    } else {
      tile_elementwise(graph, kernel);
    }
  }
  return program;
}

}  // namespace dfsim
