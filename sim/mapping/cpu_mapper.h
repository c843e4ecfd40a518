// CPU mapping: the kernels of a CPU serving runtime (Intel Extension for Transformers' LLM
// runtime, llama.cpp): the same fusions as the GPU stacks, every kernel a parallel region whose
// work is split over the threads in blocks, matmuls on AMX tiles or AVX-512 as their row count
// and dtype allow.
#pragma once

#include "sim/config/cpu_spec.h"
#include "sim/mapping/program.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

// Output columns one thread computes at a time (a weight panel of a GEMV/GEMM block).
inline constexpr std::int64_t kCpuColumnBlock = 64;

// Throws InputError when the weights and KV cache do not fit in one socket's DDR.
Program map_to_cpu(const WorkloadGraph& graph, const CpuSpec& cpu);

}  // namespace dfsim
