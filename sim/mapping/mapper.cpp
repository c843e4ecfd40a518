#include "sim/mapping/mapper.h"

#include "sim/common/integer_math.h"
#include "sim/mapping/apple_mapper.h"
#include "sim/mapping/cpu_mapper.h"
#include "sim/mapping/dataflow_mapper.h"
#include "sim/mapping/gpu_mapper.h"

namespace dfsim {

namespace {

struct FamilyMapper {
  const WorkloadGraph& graph;
  Program operator()(const GpuSpec& gpu) const { return map_to_gpu(graph, gpu); }
  Program operator()(const DataflowSpec& chip) const { return map_to_dataflow(graph, chip); }
  Program operator()(const AppleSpec& soc) const { return map_to_apple(graph, soc); }
  Program operator()(const CpuSpec& cpu) const { return map_to_cpu(graph, cpu); }
};

LoopScope loop_scope(const HwConfig& hw) {
  // GPUs, Apple GPUs and CPUs loop a whole step in one persistent kernel / parallel region.
  return hw.dataflow() ? LoopScope::kIdenticalRuns : LoopScope::kWholeStep;
}

}  // namespace

Program map_program(const WorkloadGraph& graph, const HwConfig& hw, LoopingMode looping) {
  Program program = std::visit(FamilyMapper{graph}, hw.spec);
  apply_kernel_looping(program, looping, loop_scope(hw));
  return program;
}

std::int64_t attended_cache_positions(const HwConfig& hw, std::int64_t max_positions) {
  const GpuSpec* gpu = hw.gpu();
  if (gpu == nullptr || gpu->stack != GpuStack::kGptFast) return 0;
  constexpr std::int64_t kMultiple = 8;
  return ceil_div(max_positions, kMultiple) * kMultiple;
}

}  // namespace dfsim
