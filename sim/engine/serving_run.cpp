#include "sim/engine/serving_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "models/simulate.h"
#include "sim/common/error.h"
#include "sim/common/units.h"
#include "sim/mapping/kernel_formation.h"
#include "sim/mapping/mapper.h"
#include "sim/mapping/program_source.h"
#include "sim/serving/serving_simulator.h"
#include "sim/serving/step_memo.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

namespace {

struct KvMemory {
  double capacity = 0;
  const char* name = "";
  bool layers_elsewhere = false;  // dataflow: layer weights spill to DDR
};

KvMemory kv_memory(const HwConfig& hw) {
  if (const GpuSpec* gpu = hw.gpu()) return {gpu->hbm.capacity, "HBM", false};
  if (const DataflowSpec* chip = hw.dataflow()) return {chip->hbm.capacity, "HBM", true};
  if (const AppleSpec* soc = hw.apple()) return {soc->lpddr.capacity, "unified memory", false};
  if (const CpuSpec* cpu = hw.cpu()) return {cpu->ddr.capacity, "DDR", false};
  throw std::logic_error("no memory for family " + hw.family);
}

}  // namespace

KvBudget kv_budget(const ModelSpec& model, const HwConfig& hw, const SchedulerConfig& config,
                   double kv_fraction) {
  if (!(kv_fraction > 0 && kv_fraction <= 1)) {
    throw InputError(
        fmt::format("--kv-fraction: expected a number in (0, 1], got {}", kv_fraction));
  }
  if (model.is_dijiang()) {
    throw InputError("serving needs a paged KV cache; " + model.name +
                     " keeps a fixed linear-attention state (DiJiang) instead");
  }
  const KvMemory memory = kv_memory(hw);
  KvBudget budget;
  budget.memory_bytes = memory.capacity;
  budget.kv_fraction = kv_fraction;
  const WorkloadGraph one = build_decoder_graph(model, StepShape{1, 1, 0, false}, hw.sockets());
  for (std::size_t id = 0; id < one.op_count(); ++id) {
    const Op& op = one.op(id);
    if (!memory.layers_elsewhere || op.layer < 0) budget.weight_bytes += op.stored_weight_bytes;
    if (op.kind == OpKind::kKvAppend) budget.kv_bytes_per_token += op.cache_write_bytes;
  }
  StepShape widest;
  widest.groups = {{.count = 1, .new_tokens = config.max_tokens, .past = 0, .logits = true}};
  const WorkloadGraph step = build_decoder_graph(model, widest, hw.sockets());
  for (std::size_t id = 0; id < step.op_count(); ++id) {
    // The attention scores and probabilities stay on chip in the fused attention kernel
    // (FlashAttention); the graph's [heads, tokens, keys] tensors between its ops are never
    // stored, so those ops do not count (their q input is the RoPE's output, which does).
    const OpKind kind = step.op(id).kind;
    if (kind == OpKind::kAttentionScores || kind == OpKind::kSoftmax ||
        kind == OpKind::kAttentionValues) {
      continue;
    }
    budget.activation_bytes =
        std::max(budget.activation_bytes, step.input_bytes(id) + step.output_bytes(id));
  }
  const double left = memory.capacity - budget.weight_bytes - budget.activation_bytes;
  const double block_bytes = config.block_tokens * budget.kv_bytes_per_token;
  const double blocks = left > 0 ? std::floor(kv_fraction * left / block_bytes) : 0;
  if (blocks < 1) {
    throw InputError(fmt::format(
        "no room for a KV cache: {} of {}{} minus {} of weights and {} of activations leaves {}",
        format_quantity(memory.capacity, Dimension::kBytes), memory.name,
        hw.sockets() > 1 ? " per socket" : "",
        format_quantity(budget.weight_bytes, Dimension::kBytes),
        format_quantity(budget.activation_bytes, Dimension::kBytes),
        format_quantity(std::max(0.0, left), Dimension::kBytes)));
  }
  budget.capacity_blocks = static_cast<int>(std::min(blocks, 1e9));
  return budget;
}

StepShape step_shape_of(const StepBatch& batch) {
  std::map<std::tuple<long long, long long, bool>, std::int64_t> counts;
  for (const StepSequence& sequence : batch.sequences) {
    ++counts[{sequence.tokens, sequence.context, sequence.samples}];
  }
  StepShape shape;
  for (const auto& [key, count] : counts) {
    const auto& [tokens, context, samples] = key;
    shape.groups.push_back(
        {.count = count, .new_tokens = tokens, .past = context, .logits = samples});
  }
  return shape;
}

ServingRun run_serving_simulation(const ServingRunRequest& request) {
  check_override_prefixes(request.overrides);
  const HwConfig hw = load_hw_config(request.hw, request.overrides);
  const ModelSpec model = load_model_spec(request.model, request.overrides);
  ServingRun run;
  run.model = model.name;
  run.hw = hw.name;
  run.sockets = hw.sockets();
  SchedulerConfig config = request.scheduler;
  validate_scheduler_config({.max_batch = config.max_batch,
                             .max_tokens = config.max_tokens,
                             .chunk = config.chunk,
                             .block_tokens = config.block_tokens,
                             .capacity_blocks = 1,
                             .policy = config.policy});
  run.kv = kv_budget(model, hw, config, request.kv_fraction);
  config.capacity_blocks = run.kv.capacity_blocks;
  ServingSimulator server(request.requests, config);

  // The machine's thread calls this when a step ends; an error in it (a step that does not fit,
  // say) ends the run and is rethrown once the machine stopped.
  Program current;
  bool running = false;
  StepMemo memo;
  // The key of the step on the machine now, whose time is stored when it ends (none when the
  // step took a memoized time, or with exact_steps).
  std::optional<std::vector<std::int64_t>> measuring;
  double step_start = 0;
  std::exception_ptr failure;
  const bool progress = request.progress && isatty(STDERR_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  std::size_t finished_requests = 0;
  ProgramCallback source(
      [&](double now) -> NextProgram {
        try {
          if (running) {
            if (measuring) memo.store(*measuring, now - step_start);
            measuring.reset();
            server.step_done(now);
            running = false;
          }
          if (progress) {
            const auto wall = std::chrono::steady_clock::now();
            if (wall - last_report > std::chrono::seconds(1)) {
              last_report = wall;
              finished_requests = 0;
              for (const RequestRecord& record : server.records()) {
                finished_requests += record.finish_s >= 0 ? 1 : 0;
              }
              std::fprintf(
                  stderr,
                  "\rdfsim serving: %zu of %zu requests done, %zu iterations, %.3f s simulated",
                  finished_requests, server.requests().size(), server.iterations().size(), now);
            }
          }
          if (std::optional<StepBatch> batch = server.next_step(now)) {
            running = true;
            if (request.exact_steps) {
              ++run.machine_steps;
              current = map_program(build_decoder_graph(model, step_shape_of(*batch), hw.sockets()),
                                    hw, request.looping);
              return {&current, 0};
            }
            CanonicalStep canonical = canonical_step(*batch);
            if (std::optional<double> seconds = memo.find(canonical.key)) {
              // The machine idles for the step's time and asks again when it ends.
              ++run.memoized_steps;
              return {nullptr, now + *seconds};
            }
            ++run.machine_steps;
            current = map_program(
                build_decoder_graph(model, step_shape_of(canonical.batch), hw.sockets()), hw,
                request.looping);
            measuring = std::move(canonical.key);
            step_start = now;
            return {&current, 0};
          }
          if (std::optional<double> arrival = server.next_arrival_s()) return {nullptr, *arrival};
          return {};
        } catch (...) {
          failure = std::current_exception();
          return {};
        }
      },
      /*record_kernels=*/false);
  const SimulationTrace trace = simulate(hw, source);
  if (progress) std::fprintf(stderr, "\r\033[K");
  if (failure) std::rethrow_exception(failure);
  if (!server.done())
    throw std::logic_error("the serving run stopped before every request finished");
  run.simulated_s = trace.end_time;
  run.result = server.result();
  return run;
}

}  // namespace dfsim
