#include <cstdio>
#include <fstream>
#include <memory>

#include "sim/cli/commands.h"
#include "sim/common/error.h"
#include "sim/engine/run_request.h"
#include "sim/report/report.h"

namespace dfsim {

namespace {

struct RunOptions {
  std::string model;
  std::string hw;
  std::string phase = "decode";
  std::int64_t batch = 1;
  std::int64_t context = -1;
  std::int64_t prompt = -1;
  std::int64_t tokens = 128;
  std::vector<std::string> sets;
  std::string format = "table";
  std::string out;
  std::string looping = "off";
};

int run(const RunOptions& options) {
  RunRequest request;
  request.model = options.model;
  request.hw = options.hw;
  request.phase.kind = options.phase == "prefill" ? PhaseKind::kPrefill : PhaseKind::kDecode;
  request.phase.batch = options.batch;
  request.phase.tokens = options.tokens;
  // Decode starts with --context tokens cached (--prompt is accepted as the same thing: the
  // prompt that was prefilled); prefill processes a --prompt-token prompt.
  if (options.context >= 0 && options.prompt >= 0 && options.context != options.prompt) {
    throw InputError("--context and --prompt disagree (" + std::to_string(options.context) +
                     " vs " + std::to_string(options.prompt) + "); give one");
  }
  std::int64_t length = options.context >= 0 ? options.context : options.prompt;
  if (request.phase.kind == PhaseKind::kPrefill) {
    request.phase.context = length >= 0 ? length : 512;
    if (request.phase.context < 1) throw InputError("--prompt: must be at least 1 for prefill");
  } else {
    request.phase.context = length >= 0 ? length : 128;
  }
  for (const std::string& text : options.sets) request.overrides.push_back(parse_override(text));
  request.looping = *parse_looping_mode(options.looping);

  RunStats stats = run_simulation(request);
  ReportFormat format = options.format == "json"  ? ReportFormat::kJson
                        : options.format == "csv" ? ReportFormat::kCsv
                                                  : ReportFormat::kTable;
  std::string text = format_report(stats, format);
  if (options.out.empty()) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::string temporary = options.out + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << text;
    if (!file) throw InputError("--out " + options.out + ": cannot write");
  }
  if (std::rename(temporary.c_str(), options.out.c_str()) != 0) {
    throw InputError("--out " + options.out + ": cannot write");
  }
  return 0;
}

}  // namespace

Action add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Simulate a model on a hardware config and report");
  cmd->add_option("--model,-m", options->model, "Workload name (see 'dfsim list') or YAML path")
      ->required();
  cmd->add_option("--hw", options->hw, "Hardware config name (see 'dfsim list') or YAML path")
      ->required();
  cmd->add_option("--phase", options->phase, "decode (default) or prefill")
      ->check(CLI::IsMember({"decode", "prefill"}));
  cmd->add_option("--batch", options->batch, "Sequences processed together (default 1)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  cmd->add_option("--context", options->context,
                  "Decode: tokens already in the KV cache at the first step (default 128)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));
  cmd->add_option("--prompt", options->prompt,
                  "Prefill: prompt length (default 512); decode: same as --context")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));
  cmd->add_option("--tokens", options->tokens, "Decode: tokens generated (steps, default 128)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 24));
  cmd->add_option("--set", options->sets,
                  "Override a config field: hw.<path>=value or model.<path>=value, e.g. "
                  "--set hw.hbm.bandwidth=2TB/s --set model.weight_dtype=fp16 (repeatable)");
  cmd->add_option("--looping", options->looping,
                  "Kernel looping: off (default), on (loop identical layers; a GPU runs one "
                  "persistent megakernel per step) or auto (loop where legal)")
      ->check(CLI::IsMember({"off", "on", "auto"}));
  cmd->add_option("--format", options->format, "table (default), json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  cmd->add_option("--out,-o", options->out, "Write the report to this file instead of stdout");
  return [options] { return run(*options); };
}

}  // namespace dfsim
