#include "sim/engine/run_request.h"

#include "models/simulate.h"
#include "sim/mapping/mapper.h"
#include "sim/report/summarize.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

std::vector<Program> build_programs(const ModelSpec& model, const HwConfig& hw, const Phase& phase,
                                    LoopingMode looping) {
  std::vector<Program> programs;
  programs.reserve(static_cast<std::size_t>(phase.steps()));
  const std::int64_t positions =
      phase.context + (phase.kind == PhaseKind::kDecode ? phase.tokens : 0);
  const std::int64_t cache_positions = attended_cache_positions(hw, positions);
  for (std::int64_t step = 0; step < phase.steps(); ++step) {
    StepShape shape = step_shape(phase, step);
    shape.cache_positions = cache_positions;
    WorkloadGraph graph = build_decoder_graph(model, shape, hw.sockets());
    programs.push_back(map_program(graph, hw, looping));
  }
  return programs;
}

RunResult run_simulation_traced(const RunRequest& request) {
  check_override_prefixes(request.overrides);
  HwConfig hw = load_hw_config(request.hw, request.overrides);
  ModelSpec model = load_model_spec(request.model, request.overrides);
  std::vector<Program> programs = build_programs(model, hw, request.phase, request.looping);
  SimulationTrace trace = simulate(hw, programs, request.record_units);
  RunStats stats = summarize(trace, programs, model, hw, request.phase);
  stats.looping = std::string(looping_mode_name(request.looping));
  return {std::move(stats), std::move(trace)};
}

RunStats run_simulation(const RunRequest& request) {
  return run_simulation_traced(request).stats;
}

}  // namespace dfsim
