// Chooses the mapper of a hardware family and applies kernel looping.
#pragma once

#include "sim/config/hw_config.h"
#include "sim/mapping/kernel_looping.h"
#include "sim/mapping/program.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

Program map_program(const WorkloadGraph& graph, const HwConfig& hw,
                    LoopingMode looping = LoopingMode::kOff);

// StepShape::cache_positions for a run that holds up to `max_positions` tokens per sequence
// (prompt plus generated): what the stack on `hw` attends each step. 0 (the positions written
// so far) except on a GPU under gpt-fast, whose setup_caches(max_seq_length) allocates
// prompt + new tokens rounded up to a multiple of 8 (find_multiple(max_seq_length, 8), model.py)
// and whose every step attends all of them under the causal mask.
std::int64_t attended_cache_positions(const HwConfig& hw, std::int64_t max_positions);

}  // namespace dfsim
