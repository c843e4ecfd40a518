#include "sim/mapping/gpu_mapper.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "sim/common/error.h"
#include "sim/common/integer_math.h"
#include "sim/common/units.h"
#include "sim/mapping/dequantization.h"
#include "sim/mapping/kernel_formation.h"

namespace dfsim {

namespace {

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
  check_resident_fits(graph, {.capacity = gpu.hbm.capacity,
                              .holder = "the hardware has",
                              .memory = " HBM",
                              .per_device = gpu.sockets > 1 ? " per GPU" : "",
                              .more = "more GPUs (e.g. --hw dgx-h100)",
                              .smaller_dtype = "fp8"});
}

// fp8 weights under a serving stack on a GPU with FP8 tensor cores: vLLM and TensorRT-LLM
// (ModelOpt FP8) quantize the activations to fp8 and run fp8 x fp8 on the tensor cores, at their
// FP8 rate (no conversion). torch.compile's weight-only fp8 (stack gpt-fast) converts each
// weight to bf16 and multiplies at the bf16 rate.
bool runs_fp8_tensor_cores(const Op& op, const GpuSpec& gpu) {
  return op.weight_dtype == Dtype::kFp8 && op.weight_elements > 0 &&
         gpu.stack == GpuStack::kServing && gpu.tensor_rate.count(Dtype::kFp8) > 0;
}

// Weights the matmul units cannot take as stored are dequantized in the kernel, on the CUDA
// cores, by every CTA that uses them (sim/mapping/dequantization.h, shared with the Apple
// family): once per kernel for a GEMV, once per 128-row block of the output for a tiled GEMM.
void count_dequantization(const WorkloadGraph& graph, const GpuSpec& gpu, Kernel& kernel) {
  for (std::size_t id : kernel.ops) {
    const Op& op = graph.op(id);
    auto it = gpu.dequant_slots.find(op.weight_dtype);
    if (it == gpu.dequant_slots.end() || op.weight_elements <= 0) continue;
    // W8A8 (model.quantization): int8 weights meet int8 activations on the tensor cores as
    // stored; only the epilogue rescales (the dequantize op).
    if (op.weight_dtype == Dtype::kInt8 && op.compute_dtype == Dtype::kInt8) continue;
    if (runs_fp8_tensor_cores(op, gpu)) continue;
    std::int64_t rows = op.m;
    if (op.kind == OpKind::kExpertMatMul) {
      const std::int64_t groups =
          std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(op.experts_read - 1e-9)));
      rows = ceil_div(op.m, groups);
    }
    kernel.dequant_slots += dequantization_slots(rows, op.weight_elements, it->second,
                                                 {.gemv_rows = kGemvRows, .tile_rows = kGemmTile});
  }
}

// gpt-fast's weight-only int4 GEMVs: its WeightOnlyInt4Linear calls
// torch.ops.aten._weight_int4pack_mm, "tinygemm" (pytorch aten/src/ATen/native/cuda/int4mm.cu).
// Its launch configuration, not a whole-SM GEMV (serving stacks' int4 kernels: Marlin and
// Machete below):
// - _weight_int4pack_mm_cuda launches HANDLE_Q_GROUP(8, 8, ...): 8 warps per CTA, 8 k-tiles
//   (16 k each) per warp iteration, one CTA per 8 output columns (kNTileSize) and 16 rows
//   (kMTileSize) spanning the whole k: grid (1, n / 8, ceil(m / 16)).
// - CTAs resident per SM: ptxas (CUDA 13.0, -arch=sm_80 -O3) assigns the kernel
//   tinygemm_m16n8k16_chunk_kernel<..., 8, 8> with BLayout_TC_int4<8, 32> 64 registers per
//   thread, no spills, 4 KiB shared memory: 65536 registers / (64 x 256 threads) = 4 CTAs (the
//   2048-thread limit would allow 8; shared memory 41).
// - Bytes in flight: the loop issues one iteration's loads per warp and consumes them before the
//   next (no prefetch): 1024 weights (8 columns x 128 k), i.e. one 16 B int4x32 load per lane
//   (512 B) plus the scales and zero points of those weights (8 columns x 4 B per group of
//   32 k: 128 B at group 32). The activations are L2/L1 hits.
constexpr std::int64_t kTinygemmColumns = 8;
constexpr std::int64_t kTinygemmRows = 16;
constexpr int kTinygemmResidentCtas = 4;
constexpr double kTinygemmWarps = 8;
constexpr double kTinygemmWeightsPerWarpIteration = 8 * 128;

void tile_tinygemm(const WorkloadGraph& graph, Kernel& kernel) {
  std::int64_t tiles = 0;
  double weight_bytes = 0;
  double weights = 0;
  for (std::size_t id : kernel.ops) {
    const Op& op = graph.op(id);
    tiles += ceil_div(op.m, kTinygemmRows) * ceil_div(op.n, kTinygemmColumns);
    weight_bytes += op.weight_bytes;
    weights += op.weight_elements;
  }
  kernel.tiles = tiles;
  kernel.tiles_per_unit = kTinygemmResidentCtas;
  // Stored bytes per weight, scales included (0.5 + 4 / group).
  const double bytes_per_weight = weight_bytes / weights;
  kernel.inflight_bytes_per_unit =
      kTinygemmResidentCtas * kTinygemmWarps * kTinygemmWeightsPerWarpIteration * bytes_per_weight;
  // The k loop has no prefetch: a warp's next loads wait for the dequantization and mma of the
  // iteration it holds, so each window's round trip is the latency plus that math.
  kernel.loads_wait_for_math = true;
}

// A serving stack's int4 GEMVs (stack: serving, hw.int4_kernel). Both kernels below are
// persistent (one CTA per SM walks a stripe of output tiles across k) and keep their weight
// loads asynchronous to the dequantization and the mma, so a window's round trip is the latency
// alone; what differs from the generic GEMV is the bytes each SM keeps in flight.
//
// Marlin (IST-DASLab/marlin marlin/marlin_cuda_kernel.cu; vLLM's gptq_marlin / awq_marlin,
// csrc/quantization/gptq_marlin): grid = the SM count, 256 threads; for m <= 16 a CTA tile of
// thread_k = 128 x thread_n = 128 weights (m > 16: 64 x 256, the same 8 KiB of int4 per stage);
// STAGES = 4 cp.async stages in shared memory. start_pipes() issues stages - 1 fetches, and the
// main loop issues the next stage's fetch just before waiting for the oldest
// (cp_async_wait<stages - 2>), so a memory-bound CTA has stages - 1 = 3 stages of weights (and
// their group scales) outstanding: 3 x 128 x 128 weights. The weights are loaded with an
// L2::evict_first policy (read once, never kept in L2); the activations (a [m, 128] slice per
// stage) are L2 hits. Dequantization: per 32-bit word of 8 nibbles 4 LOP3 + 3 shifts and 4
// bf16x2 FMAs (the magic-number conversion), plus 4 bf16x2 multiplies by the group scale: the
// same issue slots as the hw config's dequant.int4, overlapped with the loads.
constexpr std::int64_t kMarlinThreadK = 128;
constexpr std::int64_t kMarlinThreadN = 128;
constexpr int kMarlinStagesInFlight = 4 - 1;

// Machete (vLLM csrc/quantization/machete, CUTLASS 3 sm90 warp-specialized mixed-input
// mainloop, TMA loads, StreamK persistent scheduler): generate.py's heuristic for M = 1-16 picks
// tile_shape_mn = (128, 16) (128 weight rows x 16 tokens; (256, 16) when N >= 26624) with a
// k tile of 128 x 8 / 16 bits = 64. Its stage count is as many stages as fit in shared memory
// (compute_stage_count_or_override_single_affine_transformed_input with StageCountAutoCarveout:
// (232448 B - the epilogue's storage) / (the stage's A + B tiles + one scale and one zero row +
// 32 B of barrier)); per stage 128 x 64 int4 (4096 B), 16 x 64 bf16 activations (2048 B), a
// 256 B scale row and a 256 B zero row: 6688 B. ASSUMPTION: the epilogue's storage is at most
// 16 KiB (a 128 x 16 bf16 output tile is 4 KiB), so (232448 - 16384) / 6688 = 32 stages. The TMA
// producer warp refills a stage as soon as the consumers release it: a memory-bound CTA has all
// stages but the one being consumed in flight, 31 x 128 x 64 weights. (From 17 to 64 rows the
// heuristic takes 128 x 32 / 128 x 64 tiles: larger activation tiles, fewer stages (24 at
// 128 x 32), still several times what saturates HBM; the 16-row figure is kept for all.)
constexpr std::int64_t kMacheteTileN = 128;
constexpr std::int64_t kMacheteTileK = 64;
constexpr int kMacheteStagesInFlight = 32 - 1;

// Output tiles of `tile_k` x `tile_n` weights over the kernel's matmuls, and the stored bytes
// per weight (scales included).
void tile_persistent_int4(const WorkloadGraph& graph, int units, std::int64_t tile_k,
                          std::int64_t tile_n, int stages_in_flight, Kernel& kernel) {
  std::int64_t tiles = 0;
  double weight_bytes = 0;
  double weights = 0;
  for (std::size_t id : kernel.ops) {
    const Op& op = graph.op(id);
    tiles += ceil_div(op.k, tile_k) * ceil_div(op.n, tile_n);
    weight_bytes += op.weight_bytes;
    weights += op.weight_elements;
  }
  // One persistent CTA per SM; the striped partition spreads the k x n tiles evenly, so every
  // SM streams an equal share (fewer SMs only when there are fewer tiles than SMs).
  kernel.tiles = std::max<std::int64_t>(1, std::min<std::int64_t>(units, tiles));
  kernel.tiles_per_unit = 1;
  kernel.inflight_bytes_per_unit =
      stages_in_flight * static_cast<double>(tile_k * tile_n) * weight_bytes / weights;
  kernel.loads_wait_for_math = false;
}

bool is_int4_gemv(const WorkloadGraph& graph, const Kernel& kernel) {
  for (std::size_t id : kernel.ops) {
    const Op& op = graph.op(id);
    if (op.kind != OpKind::kMatMul || op.weight_dtype != Dtype::kInt4 || op.weight_elements <= 0 ||
        op.m > kGemvRows) {
      return false;
    }
  }
  return !kernel.ops.empty();
}

// A serving stack's tiled GEMMs (more than kGemvRows rows: the decode batches and prefill chunks
// of a serving iteration) keep their mainloop's stages in flight, not the family's figure (which
// was fitted to Inductor's batch-1 GEMVs). Only their bytes in flight change here: the output
// tiles stay kGemmTile x kGemmTile (tile_matmul).
//
// sm80 (A100): CUTLASS 2's default tensor-op configuration for 16-bit inputs
// (NVIDIA/cutlass include/cutlass/gemm/device/default_gemm_configuration.h,
// DefaultGemmConfiguration<OpClassTensorOp, Sm80, ...>): ThreadblockShape 128 x 256 x 64,
// kStages = 3. Its multistage mainloop (include/cutlass/gemm/threadblock/mma_multistage.h) issues
// kStages - 1 stages of cp.async in its prologue and then one stage per k iteration before
// waiting for the oldest (cp_async_wait<kStages - 2>): kStages - 1 = 2 stages outstanding, each
// (128 + 256) x 64 x 2 B = 48 KiB. 3 x 48 KiB = 144 KiB of shared memory: one CTA per SM
// (A100: 164 KiB). ASSUMPTION: cuBLAS's / cuBLASLt's sm80 kernels (closed source; TensorRT-LLM's
// Gemm plugin calls cuBLASLt) keep as many stages in flight as CUTLASS's default.
constexpr std::int64_t kSm80GemmTileM = 128;
constexpr std::int64_t kSm80GemmTileN = 256;
constexpr std::int64_t kSm80GemmTileK = 64;
constexpr int kSm80GemmStagesInFlight = 3 - 1;
// sm90 (H100, H200): CUTLASS 3's TMA warp-specialized kernels
// (include/cutlass/gemm/collective/builders/sm90_gmma_builder.inl with StageCountAutoCarveout):
// the CollectiveBuilder's default tile is 128 x 128 with a k tile of 128 bytes (64 bf16, 128 fp8),
// and as many stages as fit: (232448 B - the epilogue's carveout) / (the A and B tiles + 32 B of
// barrier). Per stage (128 + 128) x 128 B = 32 KiB: with an epilogue carveout of at most 24 KiB
// (ASSUMPTION: a TMA epilogue of 128 x 32 tiles, double-buffered, 16 KiB in bf16),
// (232448 - 24576) / 32800 = 6 stages. The TMA producer warp refills a stage as soon as the
// consumers release it: all stages but the one being consumed are in flight, 5 x 32 KiB.
// ASSUMPTION: cuBLASLt's sm90 kernels (TensorRT-LLM's FP8 and BF16 GEMMs) are of this family.
constexpr std::int64_t kSm90GemmTileM = 128;
constexpr std::int64_t kSm90GemmTileN = 128;
constexpr double kSm90GemmTileKBytes = 128;
constexpr int kSm90GemmStagesInFlight = 6 - 1;

// Bytes one SM keeps in flight in a serving stack's tiled GEMM (`kernel`'s first matmul).
double serving_gemm_inflight(const Op& op, Dtype compute_dtype, GemmKernel gemm) {
  const double activation_bytes = dtype_bytes(compute_dtype);
  const double weight_bytes = op.weight_elements > 0
                                  ? op.weight_bytes / op.weight_elements
                                  : op.weight_bytes / (static_cast<double>(op.n) * op.k);
  if (gemm == GemmKernel::kSm80Multistage) {
    return kSm80GemmStagesInFlight * static_cast<double>(kSm80GemmTileK) *
           (kSm80GemmTileM * activation_bytes + kSm80GemmTileN * weight_bytes);
  }
  // The k tile is 128 bytes of the activations; the weights' share of a stage scales with
  // their bytes per element against the activations'.
  const double tile_k = kSm90GemmTileKBytes / activation_bytes;
  return kSm90GemmStagesInFlight * tile_k *
         (kSm90GemmTileM * activation_bytes + kSm90GemmTileN * weight_bytes);
}

// TensorRT-LLM's decode attention, XQA (NVIDIA/TensorRT-LLM cpp/kernels/xqa; the generation
// phase of its GPT attention plugin runs it for grouped-query heads, Llama 3.x's group of 8).
// One CTA per (sequence, KV head, sub-sequence) streams the sequence's K and V of that head in
// tiles of 64 tokens through shared-memory buffers, all query heads of the group at once.
// - xqa-sm90 with an fp8 KV cache: mha_sm90.cu (kHOPPER_WARP_SPECIALIZED): gemm0CtaTileNbTokens
//   = 64; SharedMem holds nbKBuf = 2 K buffers of 64 tokens x min(head bytes, 128) and nbVBuf = 2
//   V buffers of 64 tokens x the head's bytes; 3 warp groups (384 threads), one of them the TMA
//   producer. __launch_bounds__(128 * 3) names no minimum of resident CTAs unless
//   USE_H100_WARP_SPECIALIZED_2CTA_PER_SM (off by default) asks for 2 and trims registers with
//   setmaxnreg: ASSUMPTION, one CTA per SM. Sub-sequences (launchHopperF8MHA): min(max(1,
//   round(floor(SMs x 3 / (batch x KV heads)) x 0.25)), tiles of the longest sequence).
// - otherwise (A100; fp16/bf16 caches): mha.cu (kAMPERE_WARP_SPECIALIZED): 256 threads,
//   ctaShapeInWarps {4, 1, 2}: 4 warps each with nbKBuffers = 2 K buffers of 64 tokens x
//   kHeadPartBytes (128 B on sm80/sm90) and nbVBuffers = 2 V buffers per gemm1 warp (2 groups x
//   2 warps for a 128-wide head) of cacheVTileSeqLen = 64 tokens x 64 elements. Shared memory
//   64 KiB of K + 64 KiB of V at 16 bits: one CTA per SM on A100 (164 KiB) and H100 (227 KiB),
//   though __launch_bounds__(256, nbCtaPerSM) asks 2 on sm90. Sub-sequences (launchMHA):
//   min(max(1, SMs / (batch x KV heads)), the 256-token CTA tiles of the longest sequence).
// Its loads are asynchronous (TMA / cp.async) and a buffer is refilled as soon as its consumer
// releases it, so a memory-bound CTA keeps all its buffers in flight and each buffer's round
// trip is the latency plus the math on it (loads_wait_for_math). The source's own note (mha.cu,
// nbVBuffers: "H100 SXM need more in-flight requests") is about these buffers.
constexpr std::int64_t kXqaTileTokens = 64;
constexpr double kXqaPartBytes = 128;

struct XqaLaunch {
  double inflight_bytes = 0;  // per CTA
  int ctas_per_sm = 1;
  std::int64_t tokens_per_sub_sequence = 0;  // the sub-sequence bound's tile
};

XqaLaunch xqa_launch(DecodeAttentionKernel kind, double head_bytes, double kv_element_bytes) {
  XqaLaunch launch;
  if (kind == DecodeAttentionKernel::kXqaSm90 && kv_element_bytes == 1) {
    launch.inflight_bytes =
        2 * kXqaTileTokens * std::min(head_bytes, kXqaPartBytes) + 2 * kXqaTileTokens * head_bytes;
    launch.tokens_per_sub_sequence = kXqaTileTokens;
    return launch;
  }
  // mha.cu: K: 4 warps x 2 buffers x 64 tokens x min(head bytes, 128 B); V: 4 warps (2 groups
  // split along the keys x 2 warps of 64 elements across a 128-wide head) x 2 buffers x 64 tokens
  // x 64 elements.
  launch.inflight_bytes = 4 * 2 * kXqaTileTokens * std::min(head_bytes, kXqaPartBytes) +
                          4 * 2 * kXqaTileTokens * 64 * kv_element_bytes;
  launch.tokens_per_sub_sequence = 4 * kXqaTileTokens;
  return launch;
}

bool has_decode_attention(const WorkloadGraph& graph, const Kernel& kernel) {
  for (std::size_t id : kernel.ops) {
    const Op& op = graph.op(id);
    if (op.kind == OpKind::kAttentionScores && op.m == 1 && op.kv_groups > 0) return true;
  }
  return false;
}

// The decode groups' CTAs as XQA launches them; prefill groups of a mixed iteration keep the
// context kernel's tiles (tile_attention's). ASSUMPTION: TensorRT-LLM's context FMHA, which a
// mixed iteration runs beside XQA, keeps no fewer bytes in flight per SM than XQA does.
void tile_xqa(const WorkloadGraph& graph, const GpuSpec& gpu, Kernel& kernel) {
  std::int64_t batch_kv_heads = 0;
  for (std::size_t id : kernel.ops) {
    const Op& op = graph.op(id);
    if (op.kind == OpKind::kAttentionScores && op.m == 1) batch_kv_heads += op.kv_groups;
  }
  const bool hopper = gpu.decode_attention == DecodeAttentionKernel::kXqaSm90;
  std::int64_t tiles = 0;
  XqaLaunch launch;
  for (std::size_t id : kernel.ops) {
    const Op& scores = graph.op(id);
    if (scores.kind != OpKind::kAttentionScores) continue;
    if (scores.m != 1) {
      tiles += scores.groups * ceil_div(scores.m, kAttentionQueryTile);
      continue;
    }
    // The cache's element size: its bytes over (sequence, KV head) x keys x head_dim.
    const double element_bytes =
        scores.cache_read_bytes / (static_cast<double>(scores.kv_groups) * scores.n * scores.k);
    launch = xqa_launch(gpu.decode_attention, scores.k * element_bytes, element_bytes);
    const bool sm90_kernel = hopper && element_bytes == 1;
    const std::int64_t per_sm =
        sm90_kernel ? 3 * gpu.sm_count / batch_kv_heads : gpu.sm_count / batch_kv_heads;
    const std::int64_t wanted =
        sm90_kernel ? std::max<std::int64_t>(1, std::llround(static_cast<double>(per_sm) * 0.25))
                    : std::max<std::int64_t>(1, per_sm);
    const std::int64_t sub_sequences =
        std::min(wanted, ceil_div(scores.n, launch.tokens_per_sub_sequence));
    tiles += scores.kv_groups * sub_sequences;
  }
  kernel.tiles = std::max<std::int64_t>(1, tiles);
  kernel.tiles_per_unit = launch.ctas_per_sm;
  kernel.inflight_bytes_per_unit = launch.ctas_per_sm * launch.inflight_bytes;
  kernel.loads_wait_for_math = true;
}

void tile_attention(const WorkloadGraph& graph, int units, Kernel& kernel) {
  // One scores op per group of sequences of equal shape (one for a uniform batch; a serving
  // iteration has several, run by one variable-length kernel): the grid is the sum of theirs.
  kernel.tiles = 0;
  for (std::size_t id : kernel.ops) {
    const Op& scores = graph.op(id);
    if (scores.kind != OpKind::kAttentionScores) continue;
    // The builder stores attention shapes per sequence: m new tokens, n keys.
    std::int64_t new_tokens = scores.m;
    std::int64_t keys = scores.n;
    std::int64_t batch_heads = scores.groups;
    if (new_tokens == 1) {
      // FlashDecoding: split the keys so that the grid covers the SMs.
      std::int64_t splits =
          std::clamp<std::int64_t>(ceil_div(units, batch_heads), 1, ceil_div(keys, kDecodeSplit));
      kernel.tiles += batch_heads * splits;
    } else {
      kernel.tiles += batch_heads * ceil_div(new_tokens, kAttentionQueryTile);
    }
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

// gpt-fast's decode attention: generate.py's decode_n_tokens runs each step under
// sdp_kernel(enable_flash=False, enable_mem_efficient=False, enable_math=True) ("Actually better
// for Inductor to codegen attention here"), so SDPA decomposes into q k^T, softmax and p v, and
// Inductor generates a Triton kernel for each: the two batched matmuls reduce over different
// axes (head_dim, then keys) than the softmax (keys, per head row), which Inductor cannot fuse
// into one loop nest. Prefill runs eagerly (gpt-fast compiles only the decode step by default)
// with SDPA's fused flash kernel.
bool is_gpt_fast_decode_attention(const Op& op) {
  const bool attention_part = op.kind == OpKind::kAttentionScores || op.kind == OpKind::kSoftmax ||
                              op.kind == OpKind::kAttentionValues;
  return attention_part && op.m == 1;
}

// gpt-fast's FeedForward keeps w1 (gate) and w3 (up) as two Linear modules (model.py). In bf16
// and int8 Inductor turns both batch-1 matmuls into reductions over the same input and fuses
// them into one kernel; int4 replaces each with a WeightOnlyInt4Linear whose
// _weight_int4pack_mm is an extern kernel torch.compile cannot fuse, so the int4 decode step
// launches gate and up apart. (q/k/v are one wqkv Linear there: still one kernel.)
FusionKey gpu_fusion_key(GpuStack stack) {
  return [stack](const Op& op) {
    if (stack == GpuStack::kGptFast) {
      if ((op.role == "gate_proj" || op.role == "up_proj") && op.kind == OpKind::kMatMul &&
          op.weight_dtype == Dtype::kInt4 && op.m <= kGemvRows) {
        return op.role;
      }
      if (is_gpt_fast_decode_attention(op)) return op.role;
    }
    return serving_fusion_key(op);
  };
}

// One of gpt-fast's attention reductions (above), as Inductor launches a reduction
// (torch/_inductor/runtime/triton_heuristics.py): each program (CTA) computes XBLOCK outputs,
// reducing RBLOCK = rnumel rounded up to a power of two at once ("persistent") when
// rnumel <= 1024, looping with XBLOCK = 1 otherwise. The persistent configs are XBLOCK in
// {1, 8, 32, 128} with XBLOCK x RBLOCK <= 4096 and XBLOCK <= xnumel, only XBLOCK = 1 for an
// inner (contiguous) reduction of rnumel >= 256. ASSUMPTION: the autotuner keeps the largest
// allowed XBLOCK (fewest programs: these kernels move little data, so their time is latency).
// q k^T and the softmax reduce along contiguous memory (inner); p v reduces over the keys of V
// whose contiguous axis is head_dim (outer). 8 programs resident per SM; the products are
// tl.sum of elementwise products on the CUDA cores, not tensor-core dots.
constexpr std::int64_t kPersistentReductionMax = 1024;
constexpr std::int64_t kPersistentBlockNumel = 4096;

std::int64_t reduction_xblock(std::int64_t xnumel, std::int64_t rnumel, bool inner) {
  if (rnumel > kPersistentReductionMax || (inner && rnumel >= 256)) return 1;
  std::int64_t rblock = 1;
  while (rblock < rnumel) rblock *= 2;
  std::int64_t xblock = 1;
  for (std::int64_t candidate : {8, 32, 128}) {
    if (candidate * rblock <= kPersistentBlockNumel && candidate <= xnumel) xblock = candidate;
  }
  return xblock;
}

void tile_attention_reduction(const WorkloadGraph& graph, Kernel& kernel) {
  const Op& op = graph.op(kernel.ops.front());
  // Attention shapes are per sequence (the builder's): groups (sequence, head) pairs, m new
  // tokens; q k^T: n keys reduced over k = head_dim; p v: n = head_dim over k keys; softmax:
  // rows of n keys.
  const bool softmax = op.kind == OpKind::kSoftmax;
  const std::int64_t xnumel = op.groups * op.m * (softmax ? 1 : op.n);
  const std::int64_t rnumel = softmax ? op.n : op.k;
  const bool inner = op.kind != OpKind::kAttentionValues;
  kernel.tiles =
      std::max<std::int64_t>(1, ceil_div(xnumel, reduction_xblock(xnumel, rnumel, inner)));
  kernel.tiles_per_unit = kElementwiseResident;
  kernel.matmul_flops = 0;
  kernel.onchip_bytes = kernel.dram_bytes();
}

}  // namespace

Program map_to_gpu(const WorkloadGraph& graph, const GpuSpec& gpu) {
  check_fits(graph, gpu);
  Program program = form_gpu_program(graph, gpu.sm_count, gpu_fusion_key(gpu.stack));
  for (Kernel& kernel : program.kernels) {
    const Op& first = graph.op(kernel.ops.front());
    if (first.kind == OpKind::kMatMul || first.kind == OpKind::kRouter ||
        first.kind == OpKind::kExpertMatMul) {
      count_dequantization(graph, gpu, kernel);
      if (runs_fp8_tensor_cores(first, gpu)) {
        kernel.compute_dtype = Dtype::kFp8;
        // Each output tile's activation stripe is fp8 too (1 byte, not the model's 2).
        if (kernel.tiles > 0 && first.m > kGemvRows) {
          kernel.onchip_bytes -= static_cast<double>(kernel.tiles) * kGemmTile * first.k *
                                 (dtype_bytes(first.compute_dtype) - 1);
        }
      }
    }
    if (gpu.stack != GpuStack::kGptFast) {
      if (first.kind == OpKind::kAttentionScores &&
          gpu.decode_attention != DecodeAttentionKernel::kGeneric &&
          has_decode_attention(graph, kernel)) {
        tile_xqa(graph, gpu, kernel);
        continue;
      }
      if (first.kind == OpKind::kMatMul && first.m > kGemvRows &&
          gpu.gemm_kernel != GemmKernel::kGeneric) {
        kernel.inflight_bytes_per_unit =
            serving_gemm_inflight(first, kernel.compute_dtype, gpu.gemm_kernel);
        continue;
      }
      if (!is_int4_gemv(graph, kernel)) continue;
      if (gpu.int4_kernel == Int4Kernel::kMarlin) {
        tile_persistent_int4(graph, gpu.sm_count, kMarlinThreadK, kMarlinThreadN,
                             kMarlinStagesInFlight, kernel);
      } else if (gpu.int4_kernel == Int4Kernel::kMachete) {
        tile_persistent_int4(graph, gpu.sm_count, kMacheteTileK, kMacheteTileN,
                             kMacheteStagesInFlight, kernel);
      }
      continue;
    }
    if (is_int4_gemv(graph, kernel)) tile_tinygemm(graph, kernel);
    if (is_gpt_fast_decode_attention(first)) tile_attention_reduction(graph, kernel);
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
