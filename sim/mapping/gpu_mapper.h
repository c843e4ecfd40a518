// GPU mapping: one kernel per op, with the fusions production stacks (vLLM, TensorRT-LLM,
// gpt-fast with torch.compile) apply, and the tile grid each kernel launches.
#pragma once

#include "sim/config/hw_config.h"
#include "sim/mapping/kernel_formation.h"
#include "sim/mapping/program.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

// Fusions (serving_fusion_key): q/k/v projections as one matmul (concatenated weights),
// gate/up likewise; rope and the KV-cache append; scores, softmax and values as one FlashAttention
// kernel; the residual add with the following RMSNorm. Everything else is one kernel per op: a
// mixture-of-experts layer runs the router (gate GEMM with softmax/top-k), a grouped expert GEMM
// for gate/up, SwiGLU, and a grouped expert GEMM for down that also combines each token's experts.
// That is the serving stack (GpuSpec::stack, the default). Under gpt-fast, decode attention is
// three Inductor reductions (q k^T, softmax, p v) and int4 matmuls are tinygemm's grid, gate and
// up apart. Throws InputError when the weights and KV cache do not fit in one GPU's HBM.
Program map_to_gpu(const WorkloadGraph& graph, const GpuSpec& gpu);

// Kernel formation and tiling for any machine that runs a kernel as a grid of tiles over
// `units` cores (NVIDIA SMs, Apple GPU cores), with the fusions `key` chooses.
Program form_gpu_program(const WorkloadGraph& graph, int units, const FusionKey& key);

}  // namespace dfsim
