// Apple SoC mapping: kernels as llama.cpp's and MLX's Metal backends launch them — one compute
// dispatch per graph op, tiled over the GPU cores like a GPU grid (the GPU mapper's tiling), with
// scaled-dot-product attention fused into one kernel unless the config turns that off.
#pragma once

#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

// Quantized weights are dequantized on the ALUs, which also run the simdgroup-matrix GEMMs (no
// separate matrix unit): the mapper counts that work in each matmul kernel's dequant_slots, by
// the mechanism the GPU family uses (sim/mapping/dequantization.h). Throws InputError when
// weights and KV cache exceed the unified memory.
Program map_to_apple(const WorkloadGraph& graph, const AppleSpec& soc);

// ALU issue slots (one FMA each) llama.cpp's Metal kernels spend to dequantize one weight stored
// as `weight` for a matmul computed in `compute`. Zero when the weights are stored in the compute
// dtype.
double dequantization_slots_per_weight(Dtype weight, Dtype compute);

}  // namespace dfsim
