// Chooses the mapper of a hardware family and applies kernel looping.
#pragma once

#include "sim/config/hw_config.h"
#include "sim/mapping/kernel_looping.h"
#include "sim/mapping/program.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

Program map_program(const WorkloadGraph& graph, const HwConfig& hw,
                    LoopingMode looping = LoopingMode::kOff);

}  // namespace dfsim
