#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "sim/cli/commands.h"
#include "sim/cli/phase_options.h"
#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/report/estimate_report.h"
#include "sim/workload/estimate.h"
#include "sim/workload/hf_config.h"

namespace dfsim {

namespace {

struct EstimateOptions {
  std::string model;
  std::string phase = "decode";
  std::int64_t batch = 1;
  std::int64_t context = -1;
  std::int64_t prompt = -1;
  int devices = 1;
  std::vector<std::string> sets;
  std::string format = "table";
  bool explain = false;
};

// For a Hugging Face config.json: the keys it leaves out, at transformers' defaults for its
// model_type (those a --set replaces are not used, so not listed).
std::string format_defaults(const std::string& model, const std::vector<Override>& overrides) {
  const std::string path = locate_config(ConfigKind::kWorkload, model);
  if (!is_hf_config_path(path)) return "";
  std::string out = "\nconfig.json defaults (keys it leaves out, at transformers' values):\n";
  int listed = 0;
  for (const HfDefault& item : hf_config_defaults(path)) {
    const bool replaced =
        !item.as.empty() && std::any_of(overrides.begin(), overrides.end(), [&](const Override& o) {
          return o.key == "model." + item.as;
        });
    if (replaced) continue;
    out += fmt::format("  {:<34}{}\n", item.key, item.value);
    ++listed;
  }
  if (listed == 0) out += "  none: every optional key is given\n";
  return out;
}

int estimate(const EstimateOptions& options) {
  std::vector<Override> overrides;
  for (const std::string& text : options.sets) {
    Override item = parse_override(text);
    if (item.key.rfind("model.", 0) != 0) {
      throw InputError("--set " + text + ": dfsim estimate takes only model.<key> overrides");
    }
    overrides.push_back(std::move(item));
  }
  const ModelSpec model = load_model_spec(options.model, overrides);
  EstimateRequest request;
  request.phase = options.phase == "prefill" ? PhaseKind::kPrefill : PhaseKind::kDecode;
  request.batch = options.batch;
  request.devices = options.devices;
  // Both phases are shown; one length given serves both (the prompt that was prefilled is the
  // context decode continues from), as in `dfsim run`.
  // A zero length does not stand for the other phase: --prompt 0 is rejected below, and
  // --context 0 (an empty cache) leaves the prompt at its default.
  request.context =
      phase_length(PhaseKind::kDecode, options.context, options.prompt >= 1 ? options.prompt : -1);
  request.prompt = phase_length(PhaseKind::kPrefill, options.context >= 1 ? options.context : -1,
                                options.prompt >= 1 ? options.prompt : -1);
  if (options.prompt == 0) throw InputError("--prompt: must be at least 1");
  const Estimate result = estimate_model(model, request);
  if (options.format == "json") {
    std::printf("%s\n", estimate_to_json(result).dump(2).c_str());
  } else {
    std::fputs(format_estimate(result, options.explain).c_str(), stdout);
    if (options.explain) std::fputs(format_defaults(options.model, overrides).c_str(), stdout);
  }
  return 0;
}

}  // namespace

Action add_estimate_command(CLI::App& app) {
  auto options = std::make_shared<EstimateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "estimate",
      "Parameters, FLOPs, memory and training memory of a model, summed over its workload graph "
      "(no simulation)");
  cmd->add_option("--model,-m", options->model,
                  "Workload name (see 'dfsim list'), YAML path or Hugging Face config.json")
      ->required();
  cmd->add_option("--phase", options->phase,
                  "decode (default) or prefill: the phase flops_per_token and memory refer to")
      ->check(CLI::IsMember({"decode", "prefill"}));
  cmd->add_option("--batch", options->batch, "Sequences processed together (default 1)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  cmd->add_option("--context", options->context,
                  "Decode: tokens already cached (default 128, or --prompt)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));
  cmd->add_option("--prompt", options->prompt, "Prefill: prompt length (default 512, or --context)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));
  cmd->add_option("--devices", options->devices,
                  "Tensor-parallel devices: FLOPs and memory are per device (default 1)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--set", options->sets,
                  "Override a model field: model.<path>=value, e.g. --set model.weight_dtype=int4 "
                  "(repeatable)");
  cmd->add_option("--format", options->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_flag("--explain", options->explain,
                "Follow every figure with its derivation, the numbers substituted; for a Hugging "
                "Face config.json, list the keys it leaves out and the transformers defaults "
                "they took");
  return [options] { return estimate(*options); };
}

}  // namespace dfsim
