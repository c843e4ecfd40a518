#include "sim/mapping/mapper.h"

#include "sim/mapping/gpu_mapper.h"

namespace dfsim {

Program map_program(const WorkloadGraph& graph, const HwConfig& hw) {
  return std::visit([&](const auto& spec) { return map_to_gpu(graph, spec); }, hw.spec);
}

}  // namespace dfsim
