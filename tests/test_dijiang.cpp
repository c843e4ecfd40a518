// DiJiang attention (arXiv 2403.19928): costs that grow linearly with the sequence, a decode step
// whose cost does not depend on the context, the crossover against softmax attention, and its
// functional math against the reference's quadratic form.
#include <catch2/catch.hpp>

#include "models/simulate.h"
#include "sim/config/catalog.h"
#include "sim/engine/functional_run.h"
#include "sim/engine/isolated_run.h"
#include "sim/functional/functional_executor.h"
#include "sim/workload/workload_graph.h"
#include "tests/reference_forward.h"

namespace dfsim {
namespace {

ModelSpec llama8b(bool dijiang) {
  std::vector<Override> overrides;
  if (dijiang) overrides.push_back(parse_override("model.attention=dijiang"));
  return load_model_spec("llama3.1-8b", overrides);
}

double cache_bytes(const WorkloadGraph& graph) {
  double bytes = 0;
  for (std::size_t id = 0; id < graph.op_count(); ++id) {
    bytes += graph.op(id).cache_read_bytes + graph.op(id).cache_write_bytes;
  }
  return bytes;
}

double attention_flops(const WorkloadGraph& graph) {
  double flops = 0;
  for (std::size_t id = 0; id < graph.op_count(); ++id) {
    const Op& op = graph.op(id);
    switch (op.kind) {
      case OpKind::kAttentionScores:
      case OpKind::kSoftmax:
      case OpKind::kAttentionValues:
      case OpKind::kFeatureMap:
      case OpKind::kLinearAttention:
        flops += op.flops;
        break;
      default:
        break;
    }
  }
  return flops;
}

TEST_CASE("dijiang: a decode step costs the same at any context", "[dijiang]") {
  const ModelSpec model = llama8b(true);
  CHECK(model.dijiang_features == 128);  // defaults to head_dim
  WorkloadGraph short_context = build_decoder_graph(model, {1, 1, 100, false});
  WorkloadGraph long_context = build_decoder_graph(model, {1, 1, 100'000, false});
  CHECK(short_context.total_flops() == long_context.total_flops());
  // Per layer the state of 8 kv heads, S [128, 128] and z [128] in fp32, read and written:
  // 2 x 8 x 16512 x 4 = 1,056,768 bytes; 32 layers.
  CHECK(cache_bytes(short_context) == 32.0 * 1'056'768);
  CHECK(cache_bytes(long_context) == cache_bytes(short_context));
}

TEST_CASE("dijiang: prefill attention FLOPs grow linearly, softmax quadratically", "[dijiang]") {
  auto prefill = [](bool dijiang, std::int64_t n) {
    return attention_flops(build_decoder_graph(llama8b(dijiang), {1, n, 0, true}));
  };
  CHECK(prefill(true, 2000) == Approx(2 * prefill(true, 1000)).epsilon(1e-12));
  // Softmax: n(n+1)/2 causal pairs: 2000*2001 / (1000*1001) = 3.998 times the work.
  CHECK(prefill(false, 2000) / prefill(false, 1000) == Approx(2000.0 * 2001 / (1000.0 * 1001)));
  // Per token: feature maps 40 heads x (2 x 128 x 128 + 3 x 128) and linear attention
  // 40 x 2 x 128 x 128 + 8 x 128 + 32 x (2 x 128 + 128), 32 layers.
  const double per_token =
      40.0 * (2 * 128 * 128 + 3 * 128) + 40.0 * 2 * 128 * 128 + 8 * 128 + 32.0 * (2 * 128 + 128);
  CHECK(prefill(true, 1000) == Approx(32 * 1000 * per_token));
}

TEST_CASE("dijiang: the decode crossover against softmax attention in the graph", "[dijiang]") {
  // Softmax reads K and V of c + 1 positions and appends one: per layer 2 x 1024 x 2 bytes x
  // (c + 1) + 4096 = 4096 (c + 2); DiJiang moves 1,056,768 bytes of state. Equal at c = 256.
  auto bytes = [](bool dijiang, std::int64_t c) {
    return cache_bytes(build_decoder_graph(llama8b(dijiang), {1, 1, c, false}));
  };
  CHECK(bytes(false, 256) == bytes(true, 256));
  CHECK(bytes(false, 255) < bytes(true, 255));
  CHECK(bytes(false, 257) > bytes(true, 257));
}

TEST_CASE("dijiang: the simulated decode step crosses over as the context grows", "[dijiang]") {
  // Each simulation in its own process. Below the crossover DiJiang's state costs more than the
  // short KV cache; far above it, softmax attention reads a long cache and DiJiang wins.
  auto step_time = [](bool dijiang, std::int64_t context) {
    RunRequest request;
    request.model = "llama3.1-8b";
    request.hw = "h100-sxm";
    request.phase = {PhaseKind::kDecode, 1, context, 1};
    if (dijiang) request.overrides.push_back(parse_override("model.attention=dijiang"));
    return run_isolated(request).time_per_step_s;
  };
  CHECK(step_time(true, 16) > step_time(false, 16));
  CHECK(step_time(true, 32768) < step_time(false, 32768));
}

TEST_CASE("dijiang: bad attention settings are rejected", "[dijiang]") {
  auto load = [](std::vector<std::string> sets) {
    std::vector<Override> overrides;
    for (const auto& text : sets) overrides.push_back(parse_override(text));
    return load_model_spec("tiny-llama", overrides);
  };
  CHECK_THROWS_WITH(load({"model.attention=cosine"}), Catch::Contains("attention"));
  CHECK_THROWS_WITH(load({"model.dijiang_features=8"}),
                    Catch::Contains("needs attention: dijiang"));
  CHECK_THROWS_WITH(load({"model.attention=dijiang", "model.dijiang_features=17"}),
                    Catch::Contains("dijiang_features"));
  CHECK(load({"model.attention=dijiang", "model.dijiang_features=8"}).dijiang_features == 8);
}

void check_functional(const std::string& hw, LoopingMode looping, std::int64_t prompt_length) {
  std::vector<Override> overrides{parse_override("model.attention=dijiang"),
                                  parse_override("model.dijiang_features=12")};
  ModelSpec model = load_model_spec("tiny-llama", overrides);
  functional::ModelWeights weights = functional::generate_weights(model, 5);
  std::vector<std::int32_t> prompt;
  for (std::int64_t i = 0; i < prompt_length; ++i)
    prompt.push_back(static_cast<std::int32_t>((i * 53 + 7) % 256));
  FunctionalSteps steps =
      build_functional_steps(model, load_hw_config(hw, {}), looping, prompt_length, 6);
  functional::FunctionalExecutor executor(model, weights, steps.graphs, steps.shapes,
                                          steps.programs, prompt);
  simulate(load_hw_config(hw, {}), steps.programs, false, &executor);
  executor.finish();
  auto reference = testing::reference_generate(model, weights, prompt, 6);
  CHECK(executor.generated() == reference.tokens);
  // Running sums against the reference's sums recomputed per query, both fp32 inside and bf16
  // at the outputs: the same 2 % of the largest logit as the softmax mappings.
  float worst = 0, largest = 0;
  for (std::size_t i = 0; i < reference.last_logits.size(); ++i) {
    worst = std::max(worst, std::abs(executor.last_logits()[i] - reference.last_logits[i]));
    largest = std::max(largest, std::abs(reference.last_logits[i]));
  }
  CHECK(worst <= 0.02f * largest);
}

TEST_CASE("dijiang: functional GPU kernels match the reference", "[dijiang][functional]") {
  check_functional("h100-sxm", LoopingMode::kOff, 40);
}

TEST_CASE("dijiang: functional dataflow looped layers match the reference",
          "[dijiang][functional]") {
  check_functional("sn40l", LoopingMode::kOn, 5);
}

}  // namespace
}  // namespace dfsim
