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
#include "sim/config/cpu_spec.h"
#include "sim/config/link_spec.h"
#include "sim/config/power_spec.h"

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
  double grid_barrier = 0;     // seconds for a grid-wide barrier inside a persistent megakernel
};

// The software stack whose kernels the GPU mapper forms (sim/mapping/gpu_mapper.cpp): a
// serving engine (vLLM, TensorRT-LLM: merged projections, FlashAttention/FlashDecoding, tuned
// GEMV/GEMM libraries) or gpt-fast (torch.compile: Inductor's Triton reductions for batch-1
// matmuls and for attention, tinygemm for int4).
enum class GpuStack { kServing, kGptFast };

// The int4 weight-only matmul kernel a serving stack launches for decode GEMVs
// (sim/mapping/gpu_mapper.cpp): `generic` (a whole-SM GEMV with the family's bytes in flight),
// Marlin (vLLM's gptq_marlin / awq_marlin, Ampere and later) or Machete (vLLM's CUTLASS kernel
// for Hopper). The gpt-fast stack always runs tinygemm (aten _weight_int4pack_mm).
enum class Int4Kernel { kGeneric, kMarlin, kMachete };

// The decode attention kernel a serving stack launches (sim/mapping/gpu_mapper.cpp): `generic`
// (FlashDecoding splits with the family's bytes in flight) or TensorRT-LLM's XQA (its K/V tile
// buffers in flight; `xqa-sm90` takes the Hopper warp-specialized kernel for an fp8 KV cache).
enum class DecodeAttentionKernel { kGeneric, kXqa, kXqaSm90 };

// The tiled GEMM (more than 64 rows) a serving stack launches: `generic` (the family's bytes in
// flight), CUTLASS 2's sm80 cp.async multistage mainloop or CUTLASS 3's sm90 TMA
// warp-specialized one (their stages in flight; sim/mapping/gpu_mapper.cpp).
enum class GemmKernel { kGeneric, kSm80Multistage, kSm90TmaWarpSpecialized };

struct GpuSpec {
  double clock = 0;                     // Hz, the clock cycles are reported in
  int sm_count = 0;                     // streaming multiprocessors
  std::map<Dtype, double> tensor_rate;  // dense tensor-core FLOP/s per input dtype, whole chip
  // The share of tensor_rate the best library GEMM reaches (a measured maximum achievable matmul
  // rate over the datasheet peak; 1 where none was measured): matmul math runs at it.
  double tensor_achievable_fraction = 1;
  double vector_rate = 0;            // FP32 FLOP/s of the CUDA cores, whole chip
  double inflight_bytes_per_sm = 0;  // memory-level parallelism of one SM (Little's law)
  // Weight formats the matmul units do not take as stored: CUDA-core issue slots to turn one
  // weight into the matmul's input (unpack, convert, scale), counted in FP32-FMA slots (an
  // instruction issuing at a quarter of the FMA rate costs 4). Formats not listed are native.
  std::map<Dtype, double> dequant_slots;
  OnChipMemorySpec l2;
  DramSpec hbm;
  LaunchSpec launch;
  int sockets = 1;  // GPUs joined by `link` (tensor parallelism)
  LinkSpec link;
  GpuStack stack = GpuStack::kServing;
  Int4Kernel int4_kernel = Int4Kernel::kGeneric;  // the serving stack's int4 GEMV
  DecodeAttentionKernel decode_attention = DecodeAttentionKernel::kGeneric;  // serving stack's
  GemmKernel gemm_kernel = GemmKernel::kGeneric;  // the serving stack's tiled GEMM
  PowerSpec power;  // board power limit and clock model; not modelled without a power section

  // Dequantization slots per second, whole chip: one FP32 FMA (2 FLOPs of vector_rate) each.
  double dequant_slot_rate() const { return vector_rate / 2; }
};

// Who sequences a dataflow chip's kernel calls (SN40L paper, arXiv 2405.07518, Sec. IV-D).
// host: the host runtime issues every call to each socket and polls each socket for its
// completion. device: the schedule is offloaded to the sockets' AGCUs, which run it on their
// own and meet at a barrier over the P2P links between calls; the host issues the schedule and
// observes its end once per step.
enum class Orchestration { kHost, kDevice };

// What a kernel call costs on a dataflow chip besides the pipeline drain and refill, which the
// model simulates. On R sockets a call ends when all R have finished and the orchestrator has
// seen it; the boundary before the next call (models/dataflow/dataflow_machine.cpp):
// - host: host_sync + (R-1) poll_per_socket + launch_overhead + (R-1) launch_per_socket
//   [+ program_load for a different kernel];
// - device: ceil(log2 R) barrier_round (the rounds of a dissemination barrier, Hensgen, Finkel,
//   Manber, "Two algorithms for barrier synchronization", IJPP 1988) + device_launch
//   [+ program_load], and at the first call
//   of every step after the first the host terms above instead (the schedule's end observed,
//   the next step's schedule issued).
// The first call of a run pays only its launch. Calls inside a looped call pay none of these.
struct KernelCallSpec {
  Orchestration orchestration = Orchestration::kHost;
  double launch_overhead = 0;    // host runtime issues a call (or schedule) to one socket
  double launch_per_socket = 0;  // host: each further socket's launch
  double host_sync = 0;          // host observes one socket's completion
  double poll_per_socket = 0;    // host: each further socket polled
  double program_load = 0;       // fabric reconfigured for a different kernel
  double device_launch = 0;      // device: an AGCU starts the schedule's next call
  double barrier_round = 0;      // device: one round of the sockets' barrier over P2P

  // The host's part of a boundary on `sockets` sockets: completion seen (unless `first`), and
  // the next call issued.
  double host_boundary(int sockets, bool first) const;
  // The device-orchestrated boundary between two calls of one step on `sockets` sockets.
  double device_boundary(int sockets) const;
};

// A reconfigurable dataflow unit (SN40L-like): compute units (PCUs) and memory units (PMUs) on a
// spatial fabric, HBM and DDR tiers, sockets joined by peer-to-peer links. Figures per socket.
struct DataflowSpec {
  double clock = 0;
  int sockets = 1;
  int pcu_count = 0;
  int pmu_count = 0;
  std::map<Dtype, double> compute_rate;  // dense FLOP/s per dtype, one socket
  OnChipMemorySpec sram;                 // all PMUs of one socket
  DramSpec hbm;
  DramSpec ddr;
  double stage_latency = 0;  // seconds for a tile to pass one pipeline stage
  LinkSpec link;
  KernelCallSpec kernel_call;
};

// Command-buffer costs of Metal on Apple silicon: each dependent dispatch inside one compute
// encoder (encode, dispatch, the barrier that orders it after its producer), and each
// command buffer a step commits and waits for.
struct DispatchSpec {
  double kernel_overhead = 0;          // seconds per kernel (dispatch) on the GPU timeline
  double command_buffer_overhead = 0;  // seconds per step: commit, GPU start, completion seen
};

// An Apple SoC (M1-M4): GPU cores whose ALUs run both the simdgroup-matrix GEMMs and
// everything else, a system-level cache in front of unified LPDDR memory that the CPU shares
// (weights are loaded once into it; no host-device copies). Figures for the whole GPU.
struct AppleSpec {
  double clock = 0;  // GPU clock, Hz
  int gpu_cores = 0;
  double fp32_rate = 0;                // FLOP/s of the ALUs at fp32
  double fp16_rate = 0;                // FLOP/s at fp16 (the rate of fp16/bf16 matmuls)
  double matmul_efficiency = 1;        // share of the ALU peak a simdgroup-matrix GEMM sustains
  double inflight_bytes_per_core = 0;  // memory-level parallelism of one core (Little's law)
  OnChipMemorySpec slc;                // system-level cache
  DramSpec lpddr;                      // unified memory
  DispatchSpec dispatch;
  bool fused_sdpa = true;  // scores, softmax and values as one kernel (false: three)
  int sockets = 1;         // one GPU; an Ultra's two dies appear as one
  int dies = 1;            // dies the GPU spans (Ultra: 2, joined by UltraFusion)

  // The ALU rate at a dtype: fp16/bf16 at fp16_rate, anything else at fp32_rate.
  double alu_rate(Dtype dtype) const;
  // Dequantization slots per second for a kernel computing in `dtype`: one FMA (2 FLOPs of the
  // ALU rate) each, as GpuSpec::dequant_slot_rate.
  double dequant_slot_rate(Dtype dtype) const { return alu_rate(dtype) / 2; }
};

struct HwConfig {
  std::string name;         // "h100-sxm"
  std::string description;  // one line, shown by `dfsim list`
  std::string family;       // "gpu", "dataflow", "apple", "cpu"
  std::string source_path;  // the file it was loaded from
  std::variant<GpuSpec, DataflowSpec, AppleSpec, CpuSpec> spec;

  const GpuSpec* gpu() const { return std::get_if<GpuSpec>(&spec); }
  const DataflowSpec* dataflow() const { return std::get_if<DataflowSpec>(&spec); }
  const AppleSpec* apple() const { return std::get_if<AppleSpec>(&spec); }
  const CpuSpec* cpu() const { return std::get_if<CpuSpec>(&spec); }
  // Sockets (chips) that share the model by tensor parallelism.
  int sockets() const;
  // The link between the sockets (NVLink, P2P, UPI); nullptr for a family without one.
  const LinkSpec* link() const;
  // Peak off-chip (HBM) bandwidth of all sockets; bandwidth utilization is reported against it.
  double peak_dram_bandwidth() const;
  // Peak FLOP/s of all sockets at `dtype` (the dtype of the matmuls), for compute utilization.
  double peak_flops(Dtype dtype) const;
  // The clock that cycles are reported in.
  double clock() const;
};

// Builds an HwConfig from a (merged, overridden) tree; throws InputError on any bad field.
HwConfig parse_hw_config(const ConfigNode& root);

}  // namespace dfsim
