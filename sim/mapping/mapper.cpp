#include "sim/mapping/mapper.h"

#include "sim/mapping/cpu_mapper.h"
#include "sim/mapping/dataflow_mapper.h"
#include "sim/mapping/gpu_mapper.h"

namespace dfsim {

namespace {

struct FamilyMapper {
  const WorkloadGraph& graph;
  Program operator()(const GpuSpec& gpu) const { return map_to_gpu(graph, gpu); }
  Program operator()(const DataflowSpec& chip) const { return map_to_dataflow(graph, chip); }
  Program operator()(const CpuSpec& cpu) const { return map_to_cpu(graph, cpu); }
};

LoopScope loop_scope(const HwConfig& hw) {
  // GPUs and CPUs loop a whole step in one persistent kernel / parallel region.
  return hw.gpu() || hw.cpu() ? LoopScope::kWholeStep : LoopScope::kIdenticalRuns;
}

}  // namespace

Program map_program(const WorkloadGraph& graph, const HwConfig& hw, LoopingMode looping) {
  Program program = std::visit(FamilyMapper{graph}, hw.spec);
  apply_kernel_looping(program, looping, loop_scope(hw));
  return program;
}

}  // namespace dfsim
