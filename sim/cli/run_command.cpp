#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "sim/cli/commands.h"
#include "sim/cli/config_overrides.h"
#include "sim/cli/output_file.h"
#include "sim/cli/phase_options.h"
#include "sim/common/error.h"
#include "sim/common/units.h"
#include "sim/engine/functional_run.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/functional/npy.h"
#include "sim/report/report.h"
#include "sim/report/timeline.h"

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
  int tp = 0;             // --tp: GPUs in tensor parallel
  bool tp_given = false;  // without --tp the config's sockets stand
  std::string format = "table";
  std::string out;
  std::string looping = "off";
  bool compare_looping = false;
  std::string trace;     // Perfetto / Chrome trace events
  std::string timeline;  // SVG of the first layers
  int timeline_layers = 3;
  // Functional execution (see run_functional_command).
  bool functional = false;
  std::string prompt_tokens;
  std::string dump_logits;
  std::string weights;
  std::uint64_t seed = 0;
  bool tokens_given = false;
};

// --functional --format json: the tokens in and out, how clear each greedy choice was, and the
// timing report of a plain run for each phase.
nlohmann::json functional_json(const FunctionalResult& result, const FunctionalRequest& request,
                               const RunOptions& options) {
  nlohmann::json steps = nlohmann::json::array();
  for (std::size_t step = 0; step < result.generated.size(); ++step) {
    const auto& top = result.top_logits.at(step);
    nlohmann::json logits = nlohmann::json::array();
    for (const functional::TokenLogit& item : top) {
      logits.push_back({{"token", item.token}, {"logit", item.logit}});
    }
    nlohmann::json entry = {{"step", step},
                            {"phase", step == 0 ? "prefill" : "decode"},
                            {"token", result.generated[step]},
                            {"time_s", result.step_s.at(step)},
                            {"top_logits", logits}};
    // The margin: how far the chosen token's logit is ahead of the runner-up's.
    entry["margin"] = top.size() > 1 ? nlohmann::json(top[0].logit - top[1].logit) : nullptr;
    steps.push_back(std::move(entry));
  }
  auto report = [](const RunStats& stats) {
    nlohmann::json json = to_json(stats);
    json.erase("simulated_transfers");  // counted for the whole run only
    return json;
  };
  return {{"model", result.model},
          {"hw", result.hw},
          {"looping", options.looping},
          {"weights", options.weights.empty() ? nlohmann::json{{"seed", options.seed}}
                                              : nlohmann::json{{"file", options.weights}}},
          {"prompt_tokens", request.prompt},
          {"generated_tokens", result.generated},
          {"prefill_s", result.prefill_s},
          {"decode_s", result.decode_s},
          {"simulated_transfers", result.simulated_transfers},
          {"steps", steps},
          {"prefill", report(result.prefill)},
          {"decode", result.decode ? report(*result.decode) : nlohmann::json(nullptr)}};
}

// --functional: prefill the prompt, generate --tokens greedily with real tensors in the tiles,
// print the token ids and the simulated time.
int run_functional_command(const RunOptions& options) {
  if (options.prompt_tokens.empty()) {
    throw InputError("--functional needs --prompt-tokens (comma-separated token ids)");
  }
  if (options.compare_looping || !options.trace.empty() || !options.timeline.empty() ||
      options.format == "csv" || options.phase != "decode" || options.batch != 1 ||
      options.context >= 0 || options.prompt >= 0) {
    throw InputError(
        "--functional runs one sequence (prefill, then decode) and prints tokens: it takes no "
        "--compare-looping, --trace, --timeline, --format csv, --phase, --batch, --context or "
        "--prompt");
  }
  FunctionalRequest request;
  request.model = options.model;
  request.hw = options.hw;
  request.overrides =
      command_overrides(options.sets, options.tp_given, options.tp, options.hw, options.model);
  request.looping = *parse_looping_mode(options.looping);
  request.prompt = parse_token_list(options.prompt_tokens, "--prompt-tokens");
  request.tokens = options.tokens_given ? options.tokens : 8;
  request.weights = options.weights;
  request.seed = options.seed;
  FunctionalResult result = run_functional(request);
  if (!options.dump_logits.empty()) {
    write_file_atomically(
        options.dump_logits,
        functional::npy_float32(result.logits, {result.logits_rows, result.vocab}),
        "--dump-logits");
  }
  if (options.format == "json") {
    write_output(options.out, functional_json(result, request, options).dump(2) + "\n", "--out");
    return 0;
  }
  std::string ids;
  for (std::int32_t token : result.generated)
    ids += (ids.empty() ? "" : " ") + std::to_string(token);
  const auto steps = static_cast<std::int64_t>(result.generated.size());
  std::string text = fmt::format(
      "dfsim run --functional: {} on {}, looping {}, {} prompt tokens, {} generated ({})\n"
      "generated tokens: {}\n"
      "simulated time: prefill {}, {} decode steps {}\n",
      result.model, result.hw, options.looping, request.prompt.size(), steps,
      options.weights.empty() ? fmt::format("weights from seed {}", options.seed)
                              : "weights " + options.weights,
      ids, format_quantity(result.prefill_s, Dimension::kDuration), steps - 1,
      format_quantity(result.decode_s, Dimension::kDuration));
  write_output(options.out, text, "--out");
  return 0;
}

// Runs one variant in a child process; the child hands back the stats and as much of the trace
// as the outputs need.
RunResult run_variant(const RunRequest& request, const RunOptions& options) {
  nlohmann::json reply = run_in_child([&] {
    RunResult result = run_simulation_traced(request);
    SimulationTrace trace;
    if (!options.trace.empty()) {
      trace = std::move(result.trace);
    } else if (!options.timeline.empty()) {
      trace =
          trace_window(result.trace, 0, first_layers_end(result.trace, options.timeline_layers));
    }
    return nlohmann::json{{"stats", to_json(result.stats)}, {"trace", trace_to_json(trace)}};
  });
  return {run_stats_from_json(reply["stats"]), trace_from_json(reply["trace"])};
}

void write_timelines(const RunOptions& options,
                     const std::vector<std::pair<std::string, RunResult>>& runs) {
  if (!options.trace.empty()) {
    nlohmann::json events = nlohmann::json::array();
    int pid = 1;
    for (const auto& [label, run] : runs) {
      for (auto& event : perfetto_events(run.trace, label, pid)) events.push_back(event);
      ++pid;
    }
    write_file_atomically(options.trace, perfetto_file(events), "--trace");
  }
  if (!options.timeline.empty()) {
    std::vector<std::pair<std::string, SimulationTrace>> rows;
    double end = 0;
    for (const auto& [label, run] : runs) {
      double run_end = first_layers_end(run.trace, options.timeline_layers);
      end = std::max(end, run_end);
      rows.emplace_back(label, trace_window(run.trace, 0, run_end));
    }
    const RunStats& stats = runs.front().second.stats;
    std::string title = fmt::format("{} on {}: first {} decoder layers of a {} step", stats.model,
                                    stats.hw, options.timeline_layers, stats.phase);
    write_file_atomically(options.timeline,
                          timeline_svg(rows, end, stats.peak_bandwidth_Bps / stats.sockets, title),
                          "--timeline");
  }
}

// Both variants of a run, looping off and on, as one table.
std::string format_comparison(const RunStats& off, const RunStats& on) {
  auto duration = [](double v) { return format_quantity(v, Dimension::kDuration); };
  auto percent = [](double v) { return fmt::format("{:.1f} %", 100.0 * v); };
  std::string out = fmt::format(
      "dfsim run --compare-looping: {} on {}, {} (batch {}, {} {}, {} tokens)\n", off.model, off.hw,
      off.phase, off.batch, off.phase == "decode" ? "context" : "prompt", off.context, off.tokens);
  auto row = [&](std::string_view name, const std::string& a, const std::string& b) {
    out += fmt::format("  {:<28}{:>16}{:>16}\n", name, a, b);
  };
  row("", "looping off", "looping on");
  row("time per token (step)", duration(off.time_per_step_s), duration(on.time_per_step_s));
  row("tokens per second", fmt::format("{:.2f}", off.tokens_per_second),
      fmt::format("{:.2f}", on.tokens_per_second));
  row("bandwidth utilization", percent(off.bandwidth_utilization),
      percent(on.bandwidth_utilization));
  row("sync boundaries", fmt::format("{}", off.sync_boundaries),
      fmt::format("{}", on.sync_boundaries));
  row("sync overhead", duration(off.sync_overhead_s), duration(on.sync_overhead_s));
  row("sync overhead share", percent(off.sync_overhead_share), percent(on.sync_overhead_share));
  out += fmt::format("  {:<28}{:>32}\n", "speedup from looping",
                     fmt::format("{:.3f}x", off.time_s / on.time_s));
  return out;
}

int run(const RunOptions& options) {
  if (options.functional) return run_functional_command(options);
  if (!options.prompt_tokens.empty() || !options.dump_logits.empty() || !options.weights.empty()) {
    throw InputError("--prompt-tokens, --dump-logits and --weights need --functional");
  }
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
  request.phase.context = phase_length(request.phase.kind, options.context, options.prompt);
  if (request.phase.kind == PhaseKind::kPrefill && request.phase.context < 1) {
    throw InputError("--prompt: must be at least 1 for prefill");
  }
  request.overrides =
      command_overrides(options.sets, options.tp_given, options.tp, options.hw, options.model);
  request.looping = *parse_looping_mode(options.looping);
  request.record_units = !options.trace.empty();

  ReportFormat format = options.format == "json"  ? ReportFormat::kJson
                        : options.format == "csv" ? ReportFormat::kCsv
                                                  : ReportFormat::kTable;
  std::string text;
  if (options.compare_looping) {
    // SystemC elaborates once per process: each variant runs in a child of its own.
    RunRequest off = request;
    off.looping = LoopingMode::kOff;
    RunRequest on = request;
    on.looping = request.looping == LoopingMode::kOff ? LoopingMode::kOn : request.looping;
    RunResult off_run = run_variant(off, options);
    RunResult on_run = run_variant(on, options);
    const RunStats& off_stats = off_run.stats;
    const RunStats& on_stats = on_run.stats;
    write_timelines(options, {{"looping off", off_run}, {"looping on", on_run}});
    if (format == ReportFormat::kTable) {
      text = format_comparison(off_stats, on_stats);
    } else if (format == ReportFormat::kJson) {
      nlohmann::json both = {{"looping_off", to_json(off_stats)},
                             {"looping_on", to_json(on_stats)},
                             {"speedup", off_stats.time_s / on_stats.time_s}};
      text = both.dump(2) + "\n";
    } else {
      text = format_csv(off_stats) + format_csv(on_stats, false);
    }
  } else {
    RunResult run = run_simulation_traced(request);
    write_timelines(options, {{"looping " + run.stats.looping, run}});
    text = format_report(run.stats, format);
  }
  write_output(options.out, text, "--out");
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
      ->check(CLI::Range(std::int64_t{1}, kMaxBatch));
  cmd->add_option("--context", options->context,
                  "Decode: tokens already in the KV cache at the first step (default 128)")
      ->check(CLI::Range(std::int64_t{0}, kMaxContext));
  cmd->add_option("--prompt", options->prompt,
                  "Prefill: prompt length (default 512); decode: same as --context")
      ->check(CLI::Range(std::int64_t{0}, kMaxContext));
  cmd->add_option("--tokens", options->tokens,
                  "Decode: tokens generated (steps, default 128); --functional: N token ids "
                  "printed, generated greedily: the prefill's, then one from each of N - 1 decode "
                  "steps (default 8)")
      ->check(CLI::Range(std::int64_t{1}, kMaxDecodeSteps))
      ->each([options](const std::string&) { options->tokens_given = true; });
  cmd->add_option("--set", options->sets,
                  "Override a config field: hw.<path>=value or model.<path>=value, e.g. "
                  "--set hw.hbm.bandwidth=2TB/s --set model.weight_dtype=fp16 (repeatable)");
  cmd->add_option("--tp", options->tp,
                  "Tensor parallelism over N GPUs of the --hw kind, joined by the link of the "
                  "system the config describes (NVLink/NVSwitch baseboard or PCIe; at most its "
                  "link.max_sockets); N must divide the attention heads and MLP width and the kv "
                  "heads must split or replicate evenly (default: the config's sockets)")
      ->each([options](const std::string&) { options->tp_given = true; });
  cmd->add_option("--looping", options->looping,
                  "Kernel looping: off (default), on (loop identical layers; a GPU runs one "
                  "persistent megakernel per step) or auto (loop where legal)")
      ->check(CLI::IsMember({"off", "on", "auto"}));
  cmd->add_flag("--compare-looping", options->compare_looping,
                "Run with looping off and on (the --looping mode, 'on' by default), each in its "
                "own process, and print them side by side with the speedup");
  cmd->add_option("--format", options->format,
                  "table (default), json or csv (--functional: table or json)")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  cmd->add_option("--out,-o", options->out, "Write the report to this file instead of stdout");
  cmd->add_option("--trace", options->trace,
                  "Write Chrome/Perfetto trace events (kernels, boundaries, HBM bandwidth) to "
                  "this JSON file; open it in ui.perfetto.dev");
  cmd->add_option("--timeline", options->timeline,
                  "Draw the first layers' kernels and HBM bandwidth over time to this SVG file");
  cmd->add_option("--timeline-layers", options->timeline_layers,
                  "Decoder layers the --timeline shows (default 3)")
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--functional", options->functional,
                "Execute the mapped kernels on real tensors, tile by tile as the machine runs them "
                "(timing unchanged): prefill --prompt-tokens, generate --tokens greedily, print "
                "the token ids (--format json: with each step's top logits and the timing "
                "reports)");
  cmd->add_option("--prompt-tokens", options->prompt_tokens,
                  "--functional: the prompt as comma-separated token ids, e.g. 1,2,3");
  cmd->add_option("--dump-logits", options->dump_logits,
                  "--functional: write the last step's logits to this .npy file (float32, "
                  "[rows, vocab])");
  cmd->add_option("--weights", options->weights,
                  "--functional: load weights from this .safetensors file (Hugging Face Llama "
                  "tensor names; F32, F16, BF16) instead of generating them");
  cmd->add_option("--seed", options->seed,
                  "--functional: seed of the generated weights (default 0)");
  return [options] { return run(*options); };
}

}  // namespace dfsim
