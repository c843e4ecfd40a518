// Functional execution: every mapping's kernels, run tile by tile (GPU, Apple GPU cores, CPU
// threads) or stage by stage (dataflow) on real tensors, must agree with the naive reference
// forward pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/simulate.h"
#include "sim/config/catalog.h"
#include "sim/engine/functional_run.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/functional/functional_executor.h"
#include "sim/functional/npy.h"
#include "tests/reference_forward.h"
#include "tests/test_support.h"

namespace dfsim {
namespace {

using functional::FunctionalExecutor;
using testing::reference_generate;

const std::vector<std::int32_t> kPrompt{1, 2, 3};

struct Outcome {
  std::vector<std::int32_t> tokens;
  std::vector<float> logits;
};

// Maps and simulates `tokens` steps of `model` on `hw` with the executor listening (one
// simulate() per test case), and the reference on the same weights.
struct Run {
  ModelSpec model;
  HwConfig hw;
  functional::ModelWeights weights;
  FunctionalSteps steps;
  Outcome executed;
  testing::ReferenceRun reference;
};

Run simulate_and_reference(const std::string& model_name, const std::string& hw_name,
                           LoopingMode looping, const std::vector<std::int32_t>& prompt, int tokens,
                           const std::vector<std::string>& sets = {}) {
  std::vector<Override> overrides;
  for (const std::string& text : sets) overrides.push_back(parse_override(text));
  Run run{
      load_model_spec(model_name, overrides), load_hw_config(hw_name, overrides), {}, {}, {}, {}};
  run.weights = functional::generate_weights(run.model, 7);
  run.steps = build_functional_steps(run.model, run.hw, looping,
                                     static_cast<std::int64_t>(prompt.size()), tokens);
  FunctionalExecutor executor(run.model, run.weights, run.steps.graphs, run.steps.shapes,
                              run.steps.programs, prompt);
  simulate(run.hw, run.steps.programs, false, &executor);
  executor.finish();
  run.executed = {executor.generated(), executor.last_logits()};
  run.reference = reference_generate(run.model, run.weights, prompt, tokens);
  return run;
}

float max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

float max_magnitude(const std::vector<float>& a) {
  float worst = 0;
  for (float v : a) worst = std::max(worst, std::abs(v));
  return worst;
}

// Tolerance: programs and the reference round to bf16 at the same points but accumulate in a
// different order (split keys, online softmax), so a stored value may round the other way: one
// bf16 ulp (2^-8 relative) here and there, which the remaining layers carry on. 2 % of the
// largest logit bounds it with room; a wrong tile or a skipped op moves logits by O(1).
// Measured when written: 0 difference on every bf16 and fp16 mapping here (the roundings
// absorb the order), 3.6e-7 of 1.76 with fp32 tensors on the GPU's split-key attention.
void check_against_reference(const Run& run, float relative = 0.02f) {
  CHECK(run.executed.tokens == run.reference.tokens);
  WARN("max logit difference " << max_difference(run.executed.logits, run.reference.last_logits)
                               << " of " << max_magnitude(run.reference.last_logits));
  const float bound = relative * max_magnitude(run.reference.last_logits);
  CHECK(max_difference(run.executed.logits, run.reference.last_logits) <= bound);
}

TEST_CASE("functional: GPU per-op kernels match the reference", "[functional]") {
  Run run = simulate_and_reference("tiny-llama", "h100-sxm", LoopingMode::kOff, kPrompt, 8);
  check_against_reference(run);
}

TEST_CASE("functional: GPU persistent megakernel (looping on) matches the reference",
          "[functional]") {
  Run run = simulate_and_reference("tiny-llama", "h100-sxm", LoopingMode::kOn, kPrompt, 8);
  check_against_reference(run);
}

TEST_CASE("functional: gpt-fast's kernels (Inductor attention reductions, tinygemm grid) match",
          "[functional]") {
  // Decode attention as three kernels of Inductor's reduction tiling; int4 is not used here
  // (quantized weights change the tokens), so the matmuls keep the bf16 GEMV.
  Run run = simulate_and_reference("tiny-llama", "a100-80gb", LoopingMode::kOff, kPrompt, 8,
                                   {"hw.stack=gpt-fast"});
  REQUIRE(run.hw.gpu()->stack == GpuStack::kGptFast);
  // The decode steps (after the prefill) run q k^T as a kernel of its own.
  bool scores_apart = false;
  for (const Kernel& kernel : run.steps.programs.at(1).kernels) {
    scores_apart = scores_apart || kernel.role == "attention_scores";
  }
  CHECK(scores_apart);
  check_against_reference(run);
}

TEST_CASE("functional: Apple fused SDPA kernels match the reference", "[functional]") {
  Run run = simulate_and_reference("tiny-llama", "apple-m2-max", LoopingMode::kOff, kPrompt, 8);
  check_against_reference(run);
}

TEST_CASE("functional: Apple unfused attention (no fused SDPA) matches the reference",
          "[functional]") {
  Run run = simulate_and_reference("tiny-llama", "apple-m2-max", LoopingMode::kOff, kPrompt, 8,
                                   {"hw.fused_sdpa=false"});
  check_against_reference(run);
}

TEST_CASE("functional: CPU thread-blocked kernels match the reference", "[functional]") {
  Run run = simulate_and_reference("tiny-llama", "xeon-8480+", LoopingMode::kOff, kPrompt, 8);
  check_against_reference(run);
}

TEST_CASE("functional: dataflow fused layers unlooped match the reference", "[functional]") {
  Run run = simulate_and_reference("tiny-llama", "sn40l", LoopingMode::kOff, kPrompt, 8);
  check_against_reference(run);
}

TEST_CASE("functional: dataflow looped layers match the reference", "[functional]") {
  Run run = simulate_and_reference("tiny-llama", "sn40l", LoopingMode::kOn, kPrompt, 8);
  check_against_reference(run);
}
// A 300-token prompt: the GPU's GEMMs have three row blocks of tiles, its prefill attention
// splits the queries, and decode attention over 300+ keys splits the keys (FlashDecoding),
// whose partial softmaxes the executor must combine.
std::vector<std::int32_t> long_prompt() {
  std::vector<std::int32_t> prompt;
  for (int i = 0; i < 300; ++i) prompt.push_back((i * 37 + 11) % 256);
  return prompt;
}

const Kernel& kernel_named(const Program& program, const std::string& name) {
  for (const Kernel& kernel : program.kernels) {
    if (kernel.name == name) return kernel;
  }
  FAIL("no kernel " << name);
  throw;
}

TEST_CASE("functional: GPU tiled GEMMs and split-key attention match the reference",
          "[functional]") {
  Run run = simulate_and_reference("tiny-llama", "h100-sxm", LoopingMode::kOff, long_prompt(), 3);
  // The tiling the executor followed: 300 rows = 3 GEMM row blocks; 4 heads x 3 query blocks;
  // decode under the serving stack is XQA (h100-sxm's decode_attention, a 16-bit cache: mha.cu):
  // 2 KV heads x 2 sub-sequences (301 keys over its 256-token CTA tile).
  const Kernel& qkv = kernel_named(run.steps.programs[0], "layer0.qkv_proj");
  CHECK(qkv.tiles == 3 * 1);  // n = 64 + 32 + 32 = 128 columns: one column block
  CHECK(kernel_named(run.steps.programs[0], "layer0.attention").tiles == 4 * 3);
  CHECK(kernel_named(run.steps.programs[1], "layer0.attention").tiles == 2 * 2);
  check_against_reference(run);
}

TEST_CASE("functional: dataflow token-chunked (tiled) layers match the reference", "[functional]") {
  // A small SRAM cuts the 300-token layer into token chunks; each chunk's attention reads the
  // KV cache the earlier chunks wrote.
  Run run = simulate_and_reference("tiny-llama", "sn40l", LoopingMode::kOn, long_prompt(), 3,
                                   {"hw.sram.capacity=256KiB"});
  CHECK(kernel_named(run.steps.programs[0], "layer0.decoder_layer").token_chunks > 1);
  check_against_reference(run);
}

TEST_CASE("functional: fp32 activations agree with the reference to rounding", "[functional]") {
  // No bf16 rounding hides accumulation-order differences here: what is left is fp32 rounding
  // of sums of a few hundred terms, far below 1e-4 of the logits.
  Run run = simulate_and_reference(
      "tiny-llama", "h100-sxm", LoopingMode::kOff, long_prompt(), 3,
      {"model.activation_dtype=fp32", "model.weight_dtype=fp32", "model.kv_cache_dtype=fp32"});
  check_against_reference(run, 1e-4f);
}

TEST_CASE("functional: llama3 rope scaling, biases and a sliding window match the reference",
          "[functional]") {
  testing::TempDir dir;
  const std::string path = dir.write("variant.yaml", R"(name: tiny-variant
description: test variant
family: llama
hidden_size: 64
intermediate_size: 96
num_layers: 2
num_attention_heads: 4
num_key_value_heads: 1
head_dim: 16
vocab_size: 128
max_position_embeddings: 64
rope_theta: 500000.0
rope_scaling: {type: llama3, factor: 8.0, original_max_position_embeddings: 16, low_freq_factor: 1.0, high_freq_factor: 4.0}
attention_bias: true
attention_output_bias: true
sliding_window: 4
weight_dtype: fp16
activation_dtype: fp16
kv_cache_dtype: fp16
)");
  Run run = simulate_and_reference(path, "h100-sxm", LoopingMode::kOff, {5, 9, 2, 7, 1, 3}, 8);
  check_against_reference(run);
}

// Programs checked without a machine: an ideal driver reports every tile or stage in program
// order. A program that skips, repeats or reorders work must fail, naming what went wrong.
struct Plan {
  ModelSpec model = load_model_spec("tiny-llama", {});
  functional::ModelWeights weights = functional::generate_weights(model, 3);
  FunctionalSteps steps;
  explicit Plan(const std::string& hw, LoopingMode looping = LoopingMode::kOff)
      : steps(build_functional_steps(model, load_hw_config(hw, {}), looping, 3, 4)) {}
  std::vector<std::int32_t> execute(bool stages) {
    FunctionalExecutor executor(model, weights, steps.graphs, steps.shapes, steps.programs,
                                kPrompt);
    functional::execute_in_program_order(steps.programs, executor, stages);
    executor.finish();
    return executor.generated();
  }
};

TEST_CASE("functional: programs in program order match the reference without a machine",
          "[functional]") {
  Plan gpu("h100-sxm");
  Plan dataflow("sn40l", LoopingMode::kOn);
  const auto reference = reference_generate(gpu.model, gpu.weights, kPrompt, 4).tokens;
  CHECK(gpu.execute(false) == reference);
  CHECK(dataflow.execute(true) == reference);
}

TEST_CASE("functional: unfused attention kernels (scores, softmax, values apart) match",
          "[functional]") {
  // What a GPU or Apple mapping without fused SDPA launches: three kernels, tiled over rows.
  Plan plan("h100-sxm");
  for (Program& program : plan.steps.programs) {
    std::vector<Kernel> split;
    for (const Kernel& kernel : program.kernels) {
      if (kernel.role != "attention") {
        split.push_back(kernel);
        continue;
      }
      for (std::size_t id : kernel.ops) {
        Kernel part = kernel;
        part.ops = {id};
        part.tiles = 3;
        split.push_back(part);
      }
    }
    program.kernels = split;
  }
  CHECK(plan.execute(false) == reference_generate(plan.model, plan.weights, kPrompt, 4).tokens);
}

TEST_CASE("functional: a program that skips a kernel is caught", "[functional]") {
  Plan plan("h100-sxm");
  auto& kernels = plan.steps.programs[1].kernels;
  auto swiglu = std::find_if(kernels.begin(), kernels.end(),
                             [](const Kernel& k) { return k.name == "layer1.swiglu"; });
  REQUIRE(swiglu != kernels.end());
  kernels.erase(swiglu);
  CHECK_THROWS_WITH(plan.execute(false),
                    Catch::Contains("layer1.down_proj reads row 0 of layer1.swiglu before it is "
                                    "computed"));
}

TEST_CASE("functional: a program that runs a kernel before its inputs is caught", "[functional]") {
  Plan plan("sn40l");
  auto& kernels = plan.steps.programs[0].kernels;
  REQUIRE(kernels.size() == 4);  // embedding, two layers, head
  std::swap(kernels[1], kernels[2]);
  CHECK_THROWS_WITH(plan.execute(true),
                    Catch::Contains("layer1.attn_norm reads row 0 of "
                                    "layer0.mlp_residual before it is computed"));
}

TEST_CASE("functional: a program that drops a fused op or repeats a tile is caught",
          "[functional]") {
  SECTION("an op dropped from a fused kernel") {
    Plan plan("h100-sxm");
    Kernel& qkv = plan.steps.programs[0].kernels[2];
    REQUIRE(qkv.name == "layer0.qkv_proj");
    qkv.ops.pop_back();  // v_proj
    CHECK_THROWS_WITH(plan.execute(false), Catch::Contains("layer0.v_proj"));
  }
  SECTION("a stage that runs twice") {
    Plan plan("sn40l");
    Kernel& layer = plan.steps.programs[0].kernels[1];
    layer.token_chunks = 1;
    layer.stages.push_back(layer.stages.front());
    layer.ops.push_back(layer.ops.front());
    CHECK_THROWS_WITH(plan.execute(true), Catch::Contains("computed more than once"));
  }
}

TEST_CASE("functional: listening leaves the simulated timing unchanged", "[functional]") {
  // Each simulation in its own process (SystemC elaborates once).
  auto timing = [](const std::string& hw_name, bool listen) {
    return run_in_child([hw_name, listen] {
      Plan plan(hw_name, LoopingMode::kOn);
      FunctionalExecutor executor(plan.model, plan.weights, plan.steps.graphs, plan.steps.shapes,
                                  plan.steps.programs, kPrompt);
      HwConfig hw = load_hw_config(hw_name, {});
      SimulationTrace trace =
          simulate(hw, plan.steps.programs, false, listen ? &executor : nullptr);
      nlohmann::json ends = nlohmann::json::array();
      for (const KernelRecord& record : trace.kernels) ends.push_back(record.end);
      return nlohmann::json{{"end", trace.end_time},
                            {"kernels", ends},
                            {"tokens", listen ? executor.generated().size() : 0}};
    });
  };
  for (const char* hw : {"sn40l", "h100-sxm", "apple-m2-max", "xeon-8480+"}) {
    nlohmann::json with = timing(hw, true), without = timing(hw, false);
    CHECK(with["tokens"] == 4);  // the listener did run
    CHECK(with["end"] == without["end"]);
    CHECK(with["kernels"] == without["kernels"]);
  }
}

TEST_CASE("functional: dfsim run prints the same tokens on every mapping", "[functional][cli]") {
  testing::TempDir dir;
  std::vector<std::string> lines;
  for (const char* variant : {"--hw sn40l --looping on", "--hw sn40l --looping off",
                              "--hw h100-sxm", "--hw h100-sxm --looping on", "--hw apple-m2-max",
                              "--hw apple-m2-max --set hw.fused_sdpa=false", "--hw xeon-8480+"}) {
    auto outcome = testing::run_dfsim(
        dir, std::string("run --model tiny-llama --functional --prompt-tokens 1,2,3 --tokens 8 ") +
                 variant);
    REQUIRE(outcome.code == 0);
    auto output = testing::split_lines(outcome.out);
    REQUIRE(output.size() == 3);
    lines.push_back(output[1]);
  }
  // The reference on the default weights (seed 0) chooses these.
  ModelSpec model = load_model_spec("tiny-llama", {});
  auto reference = reference_generate(model, functional::generate_weights(model, 0), kPrompt, 8);
  std::string expected = "generated tokens:";
  for (std::int32_t token : reference.tokens) expected += " " + std::to_string(token);
  for (const std::string& line : lines) CHECK(line == expected);
}

TEST_CASE("functional: --dump-logits writes a .npy file that reads back", "[functional][cli]") {
  testing::TempDir dir;
  auto outcome = testing::run_dfsim(dir,
                                    "run --model tiny-llama --hw h100-sxm --functional "
                                    "--prompt-tokens 4,5 --tokens 2 --dump-logits logits.npy");
  REQUIRE(outcome.code == 0);
  const std::string bytes = testing::read_text(dir.path() / "logits.npy");
  // NumPy format 1.0: magic, version, little-endian header length, header, data at 64 bytes.
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header =
      static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  CHECK((10 + header) % 64 == 0);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 256), }";
  REQUIRE(header > dict.size());
  CHECK(bytes.substr(10, header) == dict + std::string(header - dict.size() - 1, ' ') + "\n");
  REQUIRE(bytes.size() == 10 + header + 256 * 4);
  std::vector<float> logits(256);
  std::memcpy(logits.data(), bytes.data() + 10 + header, 256 * 4);
  ModelSpec model = load_model_spec("tiny-llama", {});
  auto reference = reference_generate(model, functional::generate_weights(model, 0), {4, 5}, 2);
  CHECK(max_difference(logits, reference.last_logits) <= 0.02f * max_magnitude(logits));
}

TEST_CASE("functional: --format json has the tokens, each step's top logits and the timing",
          "[functional][cli]") {
  testing::TempDir dir;
  const std::string args =
      "run --model tiny-llama --hw h100-sxm --functional --prompt-tokens 4,5,6 --tokens 4 ";
  auto outcome = testing::run_dfsim(dir, args + "--format json");
  REQUIRE(outcome.code == 0);
  const nlohmann::json report = nlohmann::json::parse(outcome.out);
  ModelSpec model = load_model_spec("tiny-llama", {});
  auto reference = reference_generate(model, functional::generate_weights(model, 0), {4, 5, 6}, 4);
  CHECK(report["prompt_tokens"] == nlohmann::json{4, 5, 6});
  CHECK(report["generated_tokens"] == nlohmann::json(reference.tokens));
  CHECK(report["weights"] == nlohmann::json{{"seed", 0}});
  const nlohmann::json& steps = report["steps"];
  REQUIRE(steps.size() == 4);
  double step_sum = 0;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    INFO("step " << s);
    const nlohmann::json& top = steps[s]["top_logits"];
    REQUIRE(top.size() == 5);
    // The first is the generated token; the rest follow in decreasing order; the margin is the
    // lead of the first over the second.
    CHECK(top[0]["token"] == steps[s]["token"]);
    for (std::size_t i = 1; i < top.size(); ++i) {
      CHECK(top[i - 1]["logit"].get<double>() >= top[i]["logit"].get<double>());
    }
    CHECK(steps[s]["margin"].get<double>() ==
          top[0]["logit"].get<double>() - top[1]["logit"].get<double>());
    CHECK(steps[s]["phase"] == (s == 0 ? "prefill" : "decode"));
    step_sum += steps[s]["time_s"].get<double>();
  }
  // The last step's five largest logits agree with the reference forward pass's (as values:
  // the reference rounds at the same points, so they agree to the dump test's tolerance).
  std::vector<float> expected = reference.last_logits;
  std::sort(expected.begin(), expected.end(), std::greater<>());
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(std::abs(steps[3]["top_logits"][i]["logit"].get<float>() - expected[i]) <=
          0.02f * max_magnitude(reference.last_logits));
  }

  // Timing: the run's report per phase; the prefill is the same report as a plain prefill run
  // of the prompt (same program, and the simulation starts with it).
  const nlohmann::json& prefill = report["prefill"];
  const nlohmann::json& decode = report["decode"];
  CHECK(prefill["phase"] == "prefill");
  CHECK(prefill["context"] == 3);
  CHECK(decode["phase"] == "decode");
  CHECK(decode["context"] == 3);
  CHECK(decode["tokens"] == 3);
  CHECK(prefill["time_s"] == report["prefill_s"]);
  CHECK(decode["time_s"].get<double>() == Approx(report["decode_s"].get<double>()));
  CHECK(step_sum == Approx(prefill["time_s"].get<double>() + decode["time_s"].get<double>()));
  CHECK(decode["time_per_step_s"].get<double>() == Approx(decode["time_s"].get<double>() / 3));
  auto plain = testing::run_dfsim(
      dir, "run --model tiny-llama --hw h100-sxm --phase prefill --prompt 3 --format json");
  REQUIRE(plain.code == 0);
  const nlohmann::json alone = nlohmann::json::parse(plain.out);
  CHECK(prefill["time_s"].get<double>() == Approx(alone["time_s"].get<double>()).epsilon(1e-9));
  CHECK(prefill["sync_overhead_s"].get<double>() ==
        Approx(alone["sync_overhead_s"].get<double>()).epsilon(1e-9));
  for (const char* key : {"flops", "dram_bytes", "kernel_launches", "tokens", "peak_flops"}) {
    INFO(key);
    CHECK(prefill[key] == alone[key]);
  }
  CHECK(prefill["kernels"].size() == alone["kernels"].size());
  CHECK_FALSE(prefill.contains("simulated_transfers"));  // the run's total, at the top level
  // One token: a prefill and no decode steps.
  auto one = testing::run_dfsim(
      dir,
      "run --model tiny-llama --hw h100-sxm --functional --prompt-tokens 4 --tokens 1 "
      "--format json");
  REQUIRE(one.code == 0);
  CHECK(nlohmann::json::parse(one.out)["decode"].is_null());
}

TEST_CASE("functional: bad functional options exit 2 with one clear line", "[functional][cli]") {
  testing::TempDir dir;
  auto run = [&](const std::string& args) {
    return testing::run_dfsim(dir, "run --model tiny-llama --hw h100-sxm " + args);
  };
  auto bad_list = run("--functional --prompt-tokens 1,x,3");
  CHECK(bad_list.code == 2);
  CHECK_THAT(bad_list.err, Catch::Contains("--prompt-tokens: expected comma-separated token ids"));
  auto outside = run("--functional --prompt-tokens 1,999");
  CHECK(outside.code == 2);
  CHECK_THAT(outside.err, Catch::Contains("token id 999 is outside the vocabulary (256)"));
  auto csv = run("--functional --prompt-tokens 1,2 --format csv");
  CHECK(csv.code == 2);
  CHECK_THAT(csv.err, Catch::Contains("it takes no --compare-looping, --trace, --timeline, "
                                      "--format csv"));
  auto no_flag = run("--prompt-tokens 1,2");
  CHECK(no_flag.code == 2);
  CHECK_THAT(no_flag.err, Catch::Contains("need --functional"));
  auto parallel = testing::run_dfsim(
      dir, "run --model tiny-llama --hw dgx-h100 --functional --prompt-tokens 1");
  CHECK(parallel.code == 2);
  CHECK_THAT(parallel.err, Catch::Contains("executes one socket's program"));
  auto large = testing::run_dfsim(
      dir, "run --model llama3.1-8b --hw h100-sxm --functional --prompt-tokens 1");
  CHECK(large.code == 2);
  CHECK_THAT(large.err, Catch::Contains("functional execution is for small models"));
}

TEST_CASE("functional: --tokens N simulates the prefill and N - 1 decode steps of a timed run",
          "[functional]") {
  // A functional run of a 3-token prompt and --tokens 4 prints 4 ids: step 0 prefills the 3
  // tokens (its logits give the first id), steps 1-3 decode one token each with 3, 4, 5 cached.
  // Those are the steps of a timed prefill of a 3-token prompt and a timed decode of 3 tokens
  // at context 3, so the simulated times must agree (each simulation in its own process).
  for (const char* hw : {"h100-sxm", "sn40l", "apple-m2-max", "xeon-8480+"}) {
    INFO(hw);
    const nlohmann::json functional = run_in_child([hw] {
      FunctionalRequest request;
      request.model = "tiny-llama";
      request.hw = hw;
      request.prompt = kPrompt;
      request.tokens = 4;
      FunctionalResult result = run_functional(request);
      return nlohmann::json{{"ids", result.generated.size()},
                            {"prefill", result.prefill_s},
                            {"decode", result.decode_s}};
    });
    auto timed = [hw](PhaseKind kind, std::int64_t tokens) {
      RunRequest request;
      request.model = "tiny-llama";
      request.hw = hw;
      request.phase.kind = kind;
      request.phase.context = 3;
      request.phase.tokens = tokens;
      return run_isolated(request).time_s;
    };
    // A dataflow chip's first call skips the host sync on a previous call's completion; a
    // decode that follows the prefill pays it once (sn40l: 2 us), a decode-only run does not.
    const HwConfig config = load_hw_config(hw, {});
    const DataflowSpec* chip = config.dataflow();
    const double sync = chip ? chip->kernel_call.host_sync : 0;
    const double prefill = timed(PhaseKind::kPrefill, 1), decode = timed(PhaseKind::kDecode, 3);
    CHECK(functional["ids"] == 4);
    CHECK(functional["prefill"].get<double>() + functional["decode"].get<double>() ==
          Approx(prefill + decode + sync).epsilon(1e-9));
    // The functional prefill ends with its last kernel; a dataflow call still writes its
    // results back and drains the pipeline after that, which counts in its decode time.
    if (chip) {
      CHECK(functional["prefill"].get<double>() < prefill);
    } else {
      CHECK(functional["prefill"].get<double>() == Approx(prefill).epsilon(1e-9));
    }
  }
}

}  // namespace
}  // namespace dfsim
