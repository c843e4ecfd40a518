// Forms kernels from groups of graph ops and accounts what crosses each kernel's boundary.
// Shared by every mapper: a mapper only decides which ops go together and how to tile.
#pragma once

#include <functional>
#include <string>

#include "sim/mapping/program.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

// Which kernel an op belongs to: ops with the same key that follow each other in graph order
// (and share a layer) are fused into one kernel named "<layer prefix><key>".
using FusionKey = std::function<std::string(const Op& op)>;

// The fusions serving stacks apply on GPUs and CPUs alike (vLLM, TensorRT-LLM, gpt-fast, ITREX,
// llama.cpp): q/k/v and gate/up as single matmuls on concatenated weights, rope with the KV
// append, scores/softmax/values as one attention kernel, the residual add with the next norm.
// Every other op is a kernel of its own, named by its role.
std::string serving_fusion_key(const Op& op);

// What a step keeps resident in device memory: the weights held and the KV cache it reads.
struct ResidentBytes {
  double weights = 0;
  double kv_cache = 0;
};
ResidentBytes resident_bytes(const WorkloadGraph& graph);

// The memory a step's weights and KV cache must fit in (serving stacks keep both resident), in
// the words of the error that says they do not: "<holder> <capacity><memory><per_device>".
struct ResidentMemory {
  double capacity = 0;        // bytes
  std::string holder;         // "the hardware has"
  std::string memory;         // " HBM", " DDR", " of unified memory"
  std::string per_device;     // "", " per GPU", " per socket"
  std::string more;           // the first remedy: "more GPUs (e.g. --hw dgx-h100)"
  std::string smaller_dtype;  // a weight dtype to suggest: "fp8"
};
// Throws InputError naming both sizes and the remedies when the graph does not fit.
void check_resident_fits(const WorkloadGraph& graph, const ResidentMemory& memory);

// Walks the graph in order and forms kernels; work and DRAM bytes are summed, tiling is left at
// one tile for the mapper to set.
std::vector<Kernel> form_kernels(const WorkloadGraph& graph, const FusionKey& key);

}  // namespace dfsim
