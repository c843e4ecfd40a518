// A functional run: the prompt is prefilled and tokens are generated greedily, each step's
// program executed by the machine with real tensors (sim/functional) flowing through its tiles
// or stages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/config/hw_config.h"
#include "sim/functional/ops.h"
#include "sim/mapping/kernel_looping.h"
#include "sim/mapping/program.h"
#include "sim/report/run_stats.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

struct FunctionalRequest {
  std::string model;  // name or path (YAML or HF config.json)
  std::string hw;
  std::vector<Override> overrides;
  LoopingMode looping = LoopingMode::kOff;
  std::vector<std::int32_t> prompt;  // token ids
  std::int64_t tokens = 8;           // generated: the prefill's, then tokens - 1 decode steps
  std::string weights;               // .safetensors path; empty: generated from `seed`
  std::uint64_t seed = 0;
};

struct FunctionalResult {
  std::string model;
  std::string hw;
  std::vector<std::int32_t> generated;
  // Per step, sequence 0's largest logits, largest first (see FunctionalExecutor).
  std::vector<std::vector<functional::TokenLogit>> top_logits;
  std::vector<double> step_s;  // simulated time of each step (prefill first)
  std::vector<float> logits;   // the last step's, [rows, vocab]
  std::int64_t logits_rows = 1;
  std::int64_t vocab = 0;
  double prefill_s = 0;  // simulated time of the prefill step
  double decode_s = 0;   // simulated time of the decode steps
  // The timing report of a plain run (`dfsim run`) for each phase, summarized from its part of
  // the trace: the prefill of the prompt, and the decode steps after it (absent for one token).
  RunStats prefill;
  std::optional<RunStats> decode;
  std::uint64_t simulated_transfers = 0;  // of the whole run (the machine does not split them)
};

// The steps of a functional run: step 0 prefills `prompt` tokens, step s > 0 decodes one token
// with prompt + s - 1 cached; `tokens` steps in all, each mapped for `hw`.
struct FunctionalSteps {
  std::vector<WorkloadGraph> graphs;
  std::vector<StepShape> shapes;
  std::vector<Program> programs;
};
FunctionalSteps build_functional_steps(const ModelSpec& model, const HwConfig& hw,
                                       LoopingMode looping, std::int64_t prompt,
                                       std::int64_t tokens);

// Loads, maps and simulates with functional execution, in this process (SystemC: once per
// process). Throws InputError for runs functional execution does not support.
FunctionalResult run_functional(const FunctionalRequest& request);

// Parses "1,2,3" (token ids, comma-separated); throws InputError naming `option`.
std::vector<std::int32_t> parse_token_list(const std::string& text, const std::string& option);

}  // namespace dfsim
