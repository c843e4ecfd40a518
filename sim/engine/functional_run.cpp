#include "sim/engine/functional_run.h"

#include <algorithm>
#include <charconv>

#include "models/simulate.h"
#include "sim/common/error.h"
#include "sim/engine/run_request.h"
#include "sim/functional/functional_executor.h"
#include "sim/functional/safetensors.h"
#include "sim/mapping/mapper.h"
#include "sim/report/summarize.h"

namespace dfsim {

std::vector<std::int32_t> parse_token_list(const std::string& text, const std::string& option) {
  std::vector<std::int32_t> tokens;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    std::int32_t value = 0;
    auto [next, error] = std::from_chars(text.data() + begin, text.data() + end, value);
    if (error != std::errc() || next != text.data() + end || value < 0) {
      throw InputError(option +
                       ": expected comma-separated token ids (non-negative integers), got '" +
                       text + "'");
    }
    tokens.push_back(value);
    begin = end + 1;
  }
  return tokens;
}

namespace {

// Steps [first, last) of a trace as a trace of their own: steps renumbered from 0, times from
// `begin` (where the step before them ended) to `end`.
SimulationTrace trace_of_steps(const SimulationTrace& trace, int first, int last, double begin,
                               double end) {
  SimulationTrace part;
  part.end_time = end - begin;
  part.streaming_bandwidth = trace.streaming_bandwidth;
  auto shift = [begin](double t) { return t < 0 ? t : std::max(0.0, t - begin); };
  for (const KernelRecord& record : trace.kernels) {
    if (record.step < first || record.step >= last) continue;
    KernelRecord moved = record;
    moved.step -= first;
    moved.boundary_begin = shift(record.boundary_begin);
    moved.start = shift(record.start);
    moved.end = shift(record.end);
    moved.dram_first_byte = shift(record.dram_first_byte);
    moved.dram_last_byte = shift(record.dram_last_byte);
    part.kernels.push_back(moved);
  }
  // The rate in force at `begin`, then every change up to `end`.
  double rate = 0;
  for (const RatePoint& point : trace.dram_rate) {
    if (point.time <= begin) {
      rate = point.rate;
    } else if (point.time < end) {
      if (part.dram_rate.empty()) part.dram_rate.push_back({0.0, rate});
      part.dram_rate.push_back({point.time - begin, point.rate});
    }
  }
  if (part.dram_rate.empty()) part.dram_rate.push_back({0.0, rate});
  return part;
}

}  // namespace

FunctionalSteps build_functional_steps(const ModelSpec& model, const HwConfig& hw,
                                       LoopingMode looping, std::int64_t prompt,
                                       std::int64_t tokens) {
  FunctionalSteps steps;
  const std::int64_t cache_positions = attended_cache_positions(hw, prompt + tokens);
  for (std::int64_t step = 0; step < tokens; ++step) {
    StepShape shape =
        step == 0 ? StepShape{1, prompt, 0, true} : StepShape{1, 1, prompt + step - 1, false};
    shape.cache_positions = cache_positions;
    steps.shapes.push_back(shape);
    steps.graphs.push_back(build_decoder_graph(model, shape, 1));
    steps.programs.push_back(map_program(steps.graphs.back(), hw, looping));
  }
  return steps;
}

FunctionalResult run_functional(const FunctionalRequest& request) {
  check_override_prefixes(request.overrides);
  HwConfig hw = load_hw_config(request.hw, request.overrides);
  ModelSpec model = load_model_spec(request.model, request.overrides);
  functional::check_functional_model(model);
  if (hw.sockets() != 1) {
    throw InputError("--functional executes one socket's program; " + request.hw + " has " +
                     std::to_string(hw.sockets()) +
                     " (tensor-parallel collectives are not executed functionally)");
  }
  const auto prompt = static_cast<std::int64_t>(request.prompt.size());
  if (prompt < 1) throw InputError("--prompt-tokens: give at least one token id");
  for (std::int32_t token : request.prompt) {
    if (token >= model.vocab_size) {
      throw InputError("--prompt-tokens: token id " + std::to_string(token) +
                       " is outside the vocabulary (" + std::to_string(model.vocab_size) + ")");
    }
  }
  if (model.max_position_embeddings > 0 &&
      prompt + request.tokens > model.max_position_embeddings) {
    throw InputError("--prompt-tokens and --tokens: " + std::to_string(prompt + request.tokens) +
                     " positions exceed max_position_embeddings (" +
                     std::to_string(model.max_position_embeddings) + ")");
  }
  functional::ModelWeights weights =
      request.weights.empty() ? functional::generate_weights(model, request.seed)
                              : functional::load_safetensors_weights(request.weights, model);

  FunctionalSteps steps =
      build_functional_steps(model, hw, request.looping, prompt, request.tokens);
  functional::FunctionalExecutor executor(model, weights, steps.graphs, steps.shapes,
                                          steps.programs, request.prompt);
  SimulationTrace trace = simulate(hw, steps.programs, false, &executor);
  executor.finish();

  FunctionalResult result;
  result.model = model.name;
  result.hw = hw.name;
  result.generated = executor.generated();
  result.logits = executor.last_logits();
  result.vocab = model.vocab_size;
  result.logits_rows = static_cast<std::int64_t>(result.logits.size()) / model.vocab_size;
  double prefill_end = 0;
  for (const KernelRecord& record : trace.kernels) {
    if (record.step == 0) prefill_end = std::max(prefill_end, record.end);
  }
  result.prefill_s = prefill_end;
  result.decode_s = trace.end_time - prefill_end;
  result.top_logits = executor.step_top_logits();
  result.step_s.assign(static_cast<std::size_t>(request.tokens), 0.0);
  std::vector<double> step_end(static_cast<std::size_t>(request.tokens), 0.0);
  for (const KernelRecord& record : trace.kernels) {
    double& last = step_end.at(static_cast<std::size_t>(record.step));
    last = std::max(last, record.end);
  }
  for (std::size_t step = 0; step < step_end.size(); ++step) {
    result.step_s[step] = step_end[step] - (step == 0 ? 0.0 : step_end[step - 1]);
  }

  // The same reports as `dfsim run --phase prefill --prompt P` and `--phase decode --context P
  // --tokens N - 1`, from this run's trace.
  const std::string looping(looping_mode_name(request.looping));
  const std::vector<Program> prefill_programs(steps.programs.begin(), steps.programs.begin() + 1);
  result.prefill = summarize(trace_of_steps(trace, 0, 1, 0.0, prefill_end), prefill_programs, model,
                             hw, Phase{PhaseKind::kPrefill, 1, prompt, 1});
  result.prefill.looping = looping;
  if (request.tokens > 1) {
    const std::vector<Program> decode_programs(steps.programs.begin() + 1, steps.programs.end());
    result.decode = summarize(
        trace_of_steps(trace, 1, static_cast<int>(request.tokens), prefill_end, trace.end_time),
        decode_programs, model, hw, Phase{PhaseKind::kDecode, 1, prompt, request.tokens - 1});
    result.decode->looping = looping;
  }
  result.simulated_transfers = trace.transfers;
  return result;
}

}  // namespace dfsim
