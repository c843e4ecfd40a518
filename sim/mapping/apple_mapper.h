// Apple SoC mapping: kernels as llama.cpp's and MLX's Metal backends launch them — one compute
// dispatch per graph op, tiled over the GPU cores like a GPU grid (the GPU mapper's tiling), with
// scaled-dot-product attention fused into one kernel unless the config turns that off.
#pragma once

#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

// Quantized weights are dequantized on the ALUs, which also run the simdgroup-matrix GEMMs (no
// separate matrix unit), so the mapper adds that work to each matmul kernel's non-matmul FLOPs:
// see dequantization_flops(). Throws InputError when weights and KV cache exceed the unified
// memory.
Program map_to_apple(const WorkloadGraph& graph, const AppleSpec& soc);

// ALU work (in FLOP-equivalents: one ALU instruction = 2, as one FMA) to dequantize the weights
// of a matmul op with `m` rows of activations and `weight_elements` weights stored as `weight`,
// computed in `compute`. Zero when the weights are stored in the compute dtype.
double dequantization_flops(std::int64_t m, double weight_elements, Dtype weight, Dtype compute);

}  // namespace dfsim
