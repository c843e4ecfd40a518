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

// Walks the graph in order and forms kernels; work and DRAM bytes are summed, tiling is left at
// one tile for the mapper to set.
std::vector<Kernel> form_kernels(const WorkloadGraph& graph, const FusionKey& key);

}  // namespace dfsim
