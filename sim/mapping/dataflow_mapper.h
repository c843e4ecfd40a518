// Dataflow mapping (SN40L-like): each decoder layer is one kernel whose ops are pipeline stages,
// each stage given compute units (PCUs) in proportion to its FLOPs; the embedding and the LM
// head are kernels of their own. Weights stream from HBM, or from DDR for the layers that do
// not fit in HBM beside the KV cache. When a layer's on-chip working set exceeds the SRAM, its
// tokens are processed in chunks, each streaming the weights again.
#pragma once

#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

// Throws InputError when weights and KV cache do not fit in HBM and DDR together.
Program map_to_dataflow(const WorkloadGraph& graph, const DataflowSpec& chip);

// Micro-batches a stage processes in pipeline fashion: token rows in groups of this many.
inline constexpr std::int64_t kDataflowMicroBatchRows = 128;

}  // namespace dfsim
