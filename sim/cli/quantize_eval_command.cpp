#include <memory>

#include "sim/cli/commands.h"
#include "sim/cli/output_file.h"
#include "sim/common/error.h"
#include "sim/engine/quantize_eval.h"

namespace dfsim {

namespace {

struct QuantizeEvalOptions {
  std::string model;
  std::string hw = "xeon-8480+";
  std::string weights;
  std::vector<std::string> schemes;
  std::string prompts;
  std::uint64_t seed = 0;
  std::int64_t prompt_count = 4;
  std::int64_t prompt_length = 32;
  std::int64_t decode_tokens = 16;
  std::vector<std::string> sets;
  std::string format = "table";
  std::string out;
};

int quantize_eval(const QuantizeEvalOptions& options) {
  QuantizeEvalRequest request;
  request.model = options.model;
  request.hw = options.hw;
  request.weights = options.weights;
  request.schemes = parse_schemes(options.schemes);
  if (!options.prompts.empty()) request.prompts = parse_prompts(options.prompts);
  request.seed = options.seed;
  request.prompt_count = options.prompt_count;
  request.prompt_length = options.prompt_length;
  request.decode_tokens = options.decode_tokens;
  for (const std::string& text : options.sets) request.overrides.push_back(parse_override(text));
  const QuantizeEvalReport report = run_quantize_eval(request);
  write_output(options.out, format_quantize_eval(report, options.format == "json"), "--out");
  return 0;
}

}  // namespace

Action add_quantize_eval_command(CLI::App& app) {
  auto options = std::make_shared<QuantizeEvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "quantize-eval",
      "Accuracy and speed of post-training quantization: the fp32 model and each scheme run "
      "teacher-forced on the same prompts (top-1 agreement, KL divergence, max logit error vs "
      "fp32), with the scheme's simulated decode tokens/s on --hw");
  cmd->add_option("--model,-m", options->model,
                  "Workload name (see 'dfsim list') or YAML / config.json path")
      ->required();
  cmd->add_option("--weights", options->weights,
                  "Load the fp32 weights from this .safetensors file (Hugging Face Llama tensor "
                  "names) instead of generating them from --seed");
  cmd->add_option("--scheme", options->schemes,
                  "w8a8-dynamic, w8a8-static, smoothquant, int8-wo, int4-wo or q4_0; "
                  "repeatable or a comma list (default: all)");
  cmd->add_option("--hw", options->hw,
                  "Hardware config for the timing simulations (default xeon-8480+)");
  cmd->add_option("--prompts", options->prompts,
                  "Evaluation prompts as token ids, e.g. '1,2,3;4,5,6' (default: generated from "
                  "--seed)");
  cmd->add_option("--seed", options->seed,
                  "Seed of the generated weights, prompts and calibration prompts (default 0)");
  cmd->add_option("--prompt-count", options->prompt_count,
                  "Generated prompts, and calibration prompts (default 4)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{4096}));
  cmd->add_option("--prompt-length", options->prompt_length,
                  "Tokens per generated or calibration prompt, and the decode context of the "
                  "timing simulations (default 32)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  cmd->add_option("--decode-tokens", options->decode_tokens,
                  "Decode steps each timing simulation runs (default 16)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  cmd->add_option("--set", options->sets,
                  "Override a config field (model.<path>=value, hw.<path>=value; repeatable), "
                  "e.g. --set model.smoothquant_alpha=0.8");
  cmd->add_option("--format", options->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--out,-o", options->out, "Write the report to this file instead of stdout");
  return [options] { return quantize_eval(*options); };
}

}  // namespace dfsim
