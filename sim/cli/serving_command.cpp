// dfsim serving: a request load through a simulated inference server (iteration-level batching,
// paged KV cache), every iteration run on the hardware's machine model (sim/engine/serving_run.h).
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string_view>

#include "sim/cli/commands.h"
#include "sim/cli/config_overrides.h"
#include "sim/cli/output_file.h"
#include "sim/common/atomic_file.h"
#include "sim/common/error.h"
#include "sim/engine/serving_inputs.h"
#include "sim/engine/serving_perfetto.h"
#include "sim/engine/serving_plot.h"
#include "sim/engine/serving_report.h"
#include "sim/engine/serving_run.h"
#include "sim/serving/arrivals.h"
#include "sim/serving/request_trace.h"
#include "sim/serving/serving_stats.h"
#include "sim/serving/slo.h"

namespace dfsim {

namespace {

struct ServingOptions {
  std::string model;
  std::string hw;
  std::vector<std::string> sets;
  int tp = 0;             // --tp: GPUs in tensor parallel
  bool tp_given = false;  // without --tp the config's sockets stand
  int requests = 100;
  int isl = 128;
  int osl = 128;
  double isl_std = 0;
  double osl_std = 0;
  std::uint64_t seed = 0;
  std::string trace;
  std::string rate = "inf";
  int max_batch = 256;
  int max_tokens = 8192;
  std::string chunk = "off";
  int block = 32;
  double kv_fraction = 0.9;
  std::string policy = "no-evict";
  std::string looping = "off";
  std::string slo;
  std::string format = "table";
  std::string out;
  std::string iterations_csv;
  bool exact_steps = false;
  std::string plot;
  std::string perfetto;
};

int run_serving_command(const ServingOptions& options, const CLI::App& cmd) {
  const std::vector<Override> overrides =
      command_overrides(options.sets, options.tp_given, options.tp, options.hw, options.model);
  // The run is built as a sweep's serving point builds it (serving_inputs.h), so the two agree.
  ServingInputs inputs;
  inputs.looping = *parse_looping_mode(options.looping);
  if (inputs.looping == LoopingMode::kAuto) {
    throw InputError("--looping: serving takes on or off (auto compares two runs)");
  }
  inputs.scheduler.max_batch = options.max_batch;
  inputs.scheduler.max_tokens = options.max_tokens;
  inputs.scheduler.chunk = parse_chunk(options.chunk, "--chunk");
  inputs.scheduler.block_tokens = options.block;
  inputs.scheduler.policy = *parse_kv_policy(options.policy);
  inputs.kv_fraction = options.kv_fraction;
  inputs.exact_steps = options.exact_steps;
  const std::optional<Slo> slo =
      options.slo.empty() ? std::nullopt : std::optional<Slo>(parse_slo(options.slo));

  const bool synthetic_given = cmd.count("--requests") + cmd.count("--isl") + cmd.count("--osl") +
                                   cmd.count("--isl-std") + cmd.count("--osl-std") >
                               0;
  if (!options.trace.empty() &&
      (synthetic_given || cmd.count("--rate") > 0 || cmd.count("--seed") > 0)) {
    throw InputError(
        "--trace gives the requests and their arrivals: it takes no --requests, --isl, --osl, "
        "--isl-std, --osl-std, --rate or --seed");
  }
  ServingRunRequest request;
  ServingSetup setup;
  if (options.trace.empty()) {
    inputs.rate = parse_request_rate(options.rate, "--rate");
    inputs.load = {.requests = options.requests,
                   .isl = options.isl,
                   .osl = options.osl,
                   .isl_std = options.isl_std,
                   .osl_std = options.osl_std,
                   .seed = options.seed};
    request = serving_run_request(options.model, options.hw, overrides, inputs);
    setup = serving_setup(inputs);
  } else {
    request = serving_run_request(options.model, options.hw, overrides, inputs,
                                  read_request_trace(options.trace));
    setup.looping = options.looping;
    setup.load = fmt::format("trace {} ({} requests)", options.trace, request.requests.size());
  }
  request.progress = true;

  // Checked before the run, so a misnamed image does not cost a simulation.
  std::optional<PlotFiles> plot;
  if (!options.plot.empty()) {
    const auto ends_with = [&](const char* suffix) {
      const std::string_view text(options.plot);
      return text.size() > 4 && text.substr(text.size() - 4) == suffix;
    };
    if (!ends_with(".svg") && !ends_with(".png")) {
      throw InputError("--plot " + options.plot + ": expected a .svg or .png file");
    }
    plot = ends_with(".png") ? plot_files("", options.plot) : plot_files(options.plot, "");
  }

  const ServingRun run = run_serving_simulation(request);
  const ServingStats stats = serving_stats(run.result, slo);
  if (!options.iterations_csv.empty()) {
    write_file_atomically(options.iterations_csv, iterations_csv(run.result), "--iterations-csv");
  }
  if (!options.perfetto.empty()) {
    write_file_atomically(options.perfetto,
                          serving_perfetto_file(run.result, run.model + " on " + run.hw),
                          "--perfetto");
  }
  if (plot) {
    try {
      plot_serving_run(
          run, *plot,
          fmt::format("dfsim serving: {} on {}, {}{}, looping {}", run.model, run.hw, setup.load,
                      setup.rate.empty() ? "" : ", rate " + setup.rate, setup.looping));
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "dfsim: error: %s\n", error.what());
      return 1;
    }
  }
  std::string text;
  if (options.format == "json") {
    text = serving_json(run, stats, setup).dump(2) + "\n";
  } else if (options.format == "csv") {
    text = serving_csv(run, stats, setup);
  } else {
    text = serving_table(run, stats, setup);
  }
  write_output(options.out, text, "--out");
  return 0;
}

}  // namespace

Action add_serving_command(CLI::App& app) {
  auto options = std::make_shared<ServingOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serving",
      "A request load through a simulated inference server: iteration-level (continuous) "
      "batching with chunked prefill and a paged KV cache, every iteration run on the "
      "hardware's machine model; reports throughput, TTFT, TPOT, ITL, E2E latency, queueing, "
      "batch and KV use, preemptions and goodput");
  cmd->add_option("--model,-m", options->model, "Workload name (see 'dfsim list') or YAML path")
      ->required();
  cmd->add_option("--hw", options->hw, "Hardware config name (see 'dfsim list') or YAML path")
      ->required();
  cmd->add_option("--set", options->sets,
                  "Override a config value: hw.<path>=<value> or model.<field>=<value>");
  cmd->add_option("--tp", options->tp,
                  "Tensor parallelism over N GPUs of the --hw kind (see 'dfsim run --help'; "
                  "default: the config's sockets)")
      ->each([options](const std::string&) { options->tp_given = true; });
  cmd->add_option("--requests", options->requests, "Synthetic requests (default 100)")
      ->check(CLI::Range(1, 10000000));
  cmd->add_option("--isl", options->isl, "Mean prompt length, tokens (default 128)")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--osl", options->osl, "Mean output length, tokens (default 128)")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--isl-std", options->isl_std,
                  "Standard deviation of the prompt length (default 0: all equal)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--osl-std", options->osl_std,
                  "Standard deviation of the output length (default 0: all equal)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--seed", options->seed, "Seed of the lengths and the arrivals (default 0)");
  cmd->add_option("--trace", options->trace,
                  "Requests from a CSV: arrival_s,input_tokens,output_tokens or the Azure "
                  "traces' TIMESTAMP,ContextTokens,GeneratedTokens");
  cmd->add_option("--rate", options->rate,
                  "Poisson arrivals at this many requests/s, or inf: all at t = 0 (default)");
  cmd->add_option("--max-batch", options->max_batch,
                  "Requests admitted at once (max_num_seqs; default 256)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-tokens", options->max_tokens,
                  "Tokens per iteration (max_num_batched_tokens; default 8192)")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--chunk", options->chunk,
                  "Longest prefill chunk per request and iteration, or off (default)");
  cmd->add_option("--block", options->block, "Tokens per KV block (default 32)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--kv-fraction", options->kv_fraction,
                  "Share of the memory left after weights and activations given to the KV "
                  "cache (default 0.9)")
      ->check(CLI::Range(1e-9, 1.0));
  cmd->add_option("--policy", options->policy,
                  "no-evict (TensorRT-LLM's guaranteed no evict, default) or recompute (vLLM's "
                  "preemption)")
      ->check(CLI::IsMember({"no-evict", "recompute"}));
  cmd->add_option("--looping", options->looping,
                  "Kernel looping per iteration: off (default) or on")
      ->check(CLI::IsMember({"off", "on"}));
  cmd->add_option("--slo", options->slo,
                  "Goodput bounds, e.g. ttft=200ms,tpot=50ms (keys ttft, tpot, e2e)");
  cmd->add_option("--format", options->format, "table (default), json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  cmd->add_option("--out,-o", options->out, "Write the report to this file instead of stdout");
  cmd->add_option("--iterations-csv", options->iterations_csv,
                  "Write one row per iteration (times, batch, tokens, KV blocks) to this CSV");
  cmd->add_flag("--exact-steps", options->exact_steps,
                "Run every iteration on the machine as the scheduler formed it. By default an "
                "iteration is reduced to a canonical batch (decodes at their mean context, "
                "contexts in buckets 1/32 wide) and each canonical batch runs once, later "
                "iterations taking its time: throughput and latencies within 2 % of exact, "
                "several times faster");
  cmd->add_option("--plot", options->plot,
                  "Draw batch size, KV-cache use and latency over simulated time into this "
                  ".svg or .png (gnuplot; the .dat and .gp are kept beside it)");
  cmd->add_option("--perfetto", options->perfetto,
                  "Write the iterations as Chrome/Perfetto trace slices, with batch and KV "
                  "counters, to this JSON file (ui.perfetto.dev; what dfsim run calls --trace, "
                  "which here reads requests)");
  return [options, cmd] { return run_serving_command(*options, *cmd); };
}

}  // namespace dfsim
