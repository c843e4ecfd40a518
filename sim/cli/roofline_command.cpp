// `dfsim roofline`: simulates a step per phase (each in its own process) and places every kernel
// under the machine's roofline; table, JSON and a gnuplot SVG/PNG.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "sim/cli/commands.h"
#include "sim/cli/config_overrides.h"
#include "sim/cli/output_file.h"
#include "sim/cli/phase_options.h"
#include "sim/common/error.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/report/report.h"
#include "sim/report/roofline.h"

namespace dfsim {

namespace {

struct RooflineOptions {
  std::string model, hw;
  std::string phases = "decode";
  std::int64_t batch = 1;
  std::int64_t context = -1, prompt = -1;
  std::int64_t tokens = 1;
  std::vector<std::string> sets;
  int tp = 0;             // --tp: GPUs in tensor parallel
  bool tp_given = false;  // without --tp the config's sockets stand
  std::string looping = "off";
  std::string format = "table";
  std::string out, svg, png;
  bool all_kernels = false;
};

std::vector<std::string> split_phases(const std::string& text) {
  std::vector<std::string> phases;
  std::size_t begin = 0;
  for (;;) {
    std::size_t comma = text.find(',', begin);
    std::string phase = text.substr(begin, comma - begin);
    if (phase != "decode" && phase != "prefill") {
      throw InputError("--phase " + text +
                       ": expected decode, prefill or both (decode,prefill), got '" + phase + "'");
    }
    if (std::find(phases.begin(), phases.end(), phase) != phases.end()) {
      throw InputError("--phase " + text + ": " + phase + " is given twice");
    }
    phases.push_back(phase);
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return phases;
}

int roofline(const RooflineOptions& options) {
  std::optional<PlotFiles> plot;
  if (!options.svg.empty() || !options.png.empty()) plot = plot_files(options.svg, options.png);
  RunRequest base;
  base.model = options.model;
  base.hw = options.hw;
  base.overrides =
      command_overrides(options.sets, options.tp_given, options.tp, options.hw, options.model);
  base.looping = *parse_looping_mode(options.looping);
  check_override_prefixes(base.overrides);
  // Configs load here (no SystemC) for the ceilings and the kernels' dtypes and matmul shares.
  const HwConfig hw = load_hw_config(base.hw, base.overrides);
  const ModelSpec model = load_model_spec(base.model, base.overrides);

  std::vector<RooflineKernel> kernels;
  for (const std::string& phase : split_phases(options.phases)) {
    RunRequest request = base;
    request.phase.batch = options.batch;
    request.phase.tokens = options.tokens;
    request.phase.kind = phase == "prefill" ? PhaseKind::kPrefill : PhaseKind::kDecode;
    request.phase.context = phase_length(request.phase.kind, options.context, options.prompt);
    if (request.phase.kind == PhaseKind::kPrefill && request.phase.context < 1) {
      throw InputError("--prompt: must be at least 1 for prefill");
    }
    // SystemC elaborates once per process: each phase simulates in a child of its own.
    RunStats stats = run_isolated(request);
    Phase first = request.phase;
    first.tokens = 1;
    const std::vector<Program> programs = build_programs(model, hw, first, request.looping);
    for (RooflineKernel& k : roofline_kernels(stats, programs.front(), hw, !options.all_kernels)) {
      kernels.push_back(std::move(k));
    }
  }

  const RooflineCeilings ceilings = roofline_ceilings(hw);
  std::string batch = options.batch > 1 ? fmt::format(", batch {}", options.batch) : "";
  const std::string heading =
      fmt::format("{} on {} ({}{})", model.name, hw.name, options.phases, batch);
  const std::string title = "Roofline: " + heading;
  if (plot) {
    try {
      plot_roofline(title, ceilings, kernels, *plot);
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "dfsim: error: %s\n", error.what());
      return 1;
    }
  }
  const std::string text =
      options.format == "json"
          ? roofline_json(model.name, hw.name, ceilings, kernels).dump(2) + "\n"
          : format_roofline_table("dfsim roofline: " + heading, ceilings, kernels);
  write_output(options.out, text, "--out");
  return 0;
}

}  // namespace

Action add_roofline_command(CLI::App& app) {
  auto options = std::make_shared<RooflineOptions>();
  CLI::App* cmd = app.add_subcommand(
      "roofline", "Place every kernel of a step under the machine's roofline (table, JSON, plot)");
  cmd->add_option("--model,-m", options->model, "Workload name or YAML path")->required();
  cmd->add_option("--hw", options->hw, "Hardware config name or YAML path")->required();
  cmd->add_option("--phase", options->phases,
                  "decode (default), prefill, or decode,prefill (both on one plot)");
  cmd->add_option("--batch", options->batch, "Sequences processed together (default 1)")
      ->check(CLI::Range(std::int64_t{1}, kMaxBatch));
  cmd->add_option("--context", options->context,
                  "Decode: tokens already in the KV cache (default 128, or --prompt)")
      ->check(CLI::Range(std::int64_t{0}, kMaxContext));
  cmd->add_option("--prompt", options->prompt, "Prefill: prompt length (default 512)")
      ->check(CLI::Range(std::int64_t{0}, kMaxContext));
  cmd->add_option("--tokens", options->tokens, "Decode: steps simulated and summed (default 1)")
      ->check(CLI::Range(std::int64_t{1}, kMaxDecodeSteps));
  cmd->add_option("--set", options->sets,
                  "Override a config field: hw.<path>=value or "
                  "model.<path>=value (repeatable)");
  cmd->add_option("--tp", options->tp,
                  "Tensor parallelism over N GPUs of the --hw kind (see 'dfsim run --help'; "
                  "default: the config's sockets)")
      ->each([options](const std::string&) { options->tp_given = true; });
  cmd->add_option("--looping", options->looping, "Kernel looping: off (default), on or auto")
      ->check(CLI::IsMember({"off", "on", "auto"}));
  cmd->add_flag("--all-kernels", options->all_kernels,
                "One point per kernel instead of one per role (all layers' qkv_proj together)");
  cmd->add_option("--format", options->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--out,-o", options->out, "Write the table or JSON to this file");
  cmd->add_option("--svg", options->svg,
                  "Draw the roofline (gnuplot) to this SVG; the .dat and "
                  ".gp are kept beside it");
  cmd->add_option("--png", options->png, "Draw the roofline to this PNG");
  return [options] { return roofline(*options); };
}

}  // namespace dfsim
