// `dfsim sweep`: runs a grid or list of points, each in a forked worker, into a CSV / JSON-lines
// file that grows a row per finished point.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include "sim/cli/commands.h"
#include "sim/common/error.h"
#include "sim/engine/serving_sweep_plot.h"
#include "sim/engine/serving_sweep_table.h"
#include "sim/engine/sweep.h"
#include "sim/engine/sweep_plot.h"
#include "sim/engine/sweep_spec.h"
#include "sim/engine/sweep_table.h"
#include "sim/engine/worker_pool.h"

namespace dfsim {

namespace {

struct SweepOptions {
  std::string model, hw;
  std::vector<std::string> grids, sets;
  std::string points;
  std::string out;
  bool resume = false, overwrite = false, dry_run = false;
  int jobs = 0;
  double point_timeout = 600;
  std::string shard;
  std::string plot, svg, png;
  bool serving = false;
  std::string slo;
};

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_points_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw InputError("--points " + path + ": cannot read");
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

int sweep(const SweepOptions& options) {
  if (options.resume && options.overwrite) {
    throw InputError("--resume and --overwrite contradict each other; give one");
  }
  // `--plot latency` (or `--plot FILE.svg|FILE.png`, the same into that image): a serving
  // sweep's throughput-latency curves; anything else is an x=KEY,y=METRIC spec.
  std::string svg = options.svg, png = options.png;
  bool latency = options.plot == "latency";
  if (options.plot.find('=') == std::string::npos &&
      (ends_with(options.plot, ".svg") || ends_with(options.plot, ".png"))) {
    std::string& image = ends_with(options.plot, ".svg") ? svg : png;
    if (!image.empty()) {
      throw InputError("--plot " + options.plot + " names the image, and so does --" +
                       (ends_with(options.plot, ".svg") ? "svg" : "png") + "; give it once");
    }
    image = options.plot;
    latency = true;
  }
  if (!options.plot.empty() && svg.empty() && png.empty()) {
    throw InputError("--plot needs --svg FILE (and/or --png FILE)");
  }
  if (options.plot.empty() && (!svg.empty() || !png.empty())) {
    throw InputError("--svg/--png draw a --plot x=KEY,y=METRIC (or --plot latency); give --plot");
  }
  if (options.out.empty() && !options.dry_run)
    throw InputError("--out FILE.csv|FILE.jsonl is required");
  std::optional<SweepPlotSpec> plot;
  std::optional<PlotFiles> plot_targets;
  if (!options.plot.empty()) {
    if (!latency) plot = parse_sweep_plot(options.plot);
    plot_targets = plot_files(svg, png);
  }
  if (!options.out.empty()) (void)sweep_file_format(options.out, "--out");
  Shard shard;
  if (!options.shard.empty()) shard = parse_shard(options.shard);

  // Factor order fixes the point order: model, hw, the --points rows, then the axes as given,
  // the last varying fastest.
  std::vector<SweepFactor> factors;
  if (!options.model.empty()) factors.push_back(parse_name_list("model", options.model, "--model"));
  if (!options.hw.empty()) factors.push_back(parse_name_list("hw", options.hw, "--hw"));
  if (!options.points.empty()) {
    factors.push_back(parse_points_csv(read_points_file(options.points), options.points));
  }
  for (const std::string& text : options.sets) factors.push_back(parse_fixed(text));
  if (!options.slo.empty()) {
    SweepFactor slo = parse_fixed("serving.slo=" + options.slo);
    slo.origins.assign(slo.origins.size(), SourceLocation{"--slo " + options.slo});
    factors.push_back(slo);
  }
  for (const std::string& text : options.grids) factors.push_back(parse_grid(text));
  SweepPlan plan = build_sweep_plan(factors, 10'000'000, options.serving);
  check_sweep_overrides(factors, plan);
  if (plot) check_plot_columns(*plot, sweep_columns(plan));
  if (latency && !plan.serving) {
    throw InputError("--plot " + options.plot +
                     ": the throughput-latency plot is a serving sweep's (give --serving or "
                     "load.* / serving.* keys); a dfsim run sweep plots x=KEY,y=METRIC");
  }

  if (options.dry_run) {
    std::vector<std::string> columns{"point_id", "point_index"};
    for (const std::string& input : sweep_input_columns(plan.serving)) columns.push_back(input);
    for (const std::string& key : plan.override_keys) columns.push_back(key);
    std::string text = sweep_header_line(SweepFileFormat::kCsv, columns);
    for (const SweepPoint& point : plan.points) {
      if (!shard.contains(point.index)) continue;
      std::vector<nlohmann::json> row{point.id, point.index};
      for (const std::string& value : point_input_values(point, plan.override_keys))
        row.push_back(value);
      text += sweep_row_line(SweepFileFormat::kCsv, columns, row);
    }
    std::fputs(text.c_str(), stdout);
    return 0;
  }

  SweepRunOptions run;
  run.out = options.out;
  run.resume = options.resume;
  run.overwrite = options.overwrite;
  run.workers = options.jobs > 0 ? options.jobs : available_cpus();
  run.point_timeout_s = options.point_timeout;
  run.shard = shard;
  run.progress = ::isatty(STDERR_FILENO) != 0;
  SweepSummary summary = run_sweep(plan, run);

  std::string where =
      shard.count > 1 ? fmt::format(" (shard {}/{})", shard.index, shard.count) : "";
  std::fprintf(stderr,
               "dfsim sweep: %zu of %zu points%s: %zu ok, %zu errors, %zu already in %s; %.1f s "
               "with %d workers%s\n",
               summary.ok + summary.errors + summary.skipped, summary.in_shard, where.c_str(),
               summary.ok, summary.errors, summary.skipped, options.out.c_str(), summary.wall_s,
               run.workers, summary.interrupted ? "; interrupted, finished rows kept" : "");
  if (summary.interrupted) return 130;
  if (plan.serving) {
    // The table and the plot read the file, so a --resume'd sweep shows every point.
    const SweepFile file = read_sweep_file(options.out);
    if (summary.in_shard > 0) std::fputs(serving_sweep_table(file).c_str(), stdout);
    if (latency) {
      ServingCurves curves = serving_sweep_curves(file);
      try {
        plot_serving_sweep(
            curves, *plot_targets,
            "dfsim sweep: " + (curves.common.empty() ? std::string("serving") : curves.common));
      } catch (const InputError&) {
        throw;
      } catch (const std::exception& error) {
        std::fprintf(stderr, "dfsim: error: %s\n", error.what());
        return 1;
      }
    }
  }
  if (plot) {
    SweepCurves curves = sweep_curves(read_sweep_file(options.out), *plot);
    try {
      std::string title = "dfsim sweep: " + plot->y + " over " + plot->x;
      std::string slice;
      for (const auto& [key, value] : plot->filters)
        slice += (slice.empty() ? "" : ", ") + key + "=" + value;
      if (!slice.empty()) title += " (" + slice + ")";
      plot_sweep(curves, *plot, *plot_targets, title);
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "dfsim: error: %s\n", error.what());
      return 1;
    }
  }
  return 0;
}

}  // namespace

Action add_sweep_command(CLI::App& app) {
  auto options = std::make_shared<SweepOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "Run a grid of simulations, each in a forked worker, into a CSV/JSON-lines file");
  cmd->add_option("--model,-m", options->model,
                  "Workload name(s) or YAML path(s), comma-separated");
  cmd->add_option("--hw", options->hw, "Hardware config name(s) or YAML path(s), comma-separated");
  cmd->add_option("--grid,-g", options->grids,
                  "An axis: KEY=v1,v2,... | KEY=lo:hi:step | KEY=lo..hi*factor. Keys: hw.<path>, "
                  "model.<path>, phase.kind, phase.batch, phase.context, phase.tokens, looping "
                  "(repeatable; the last varies fastest). Serving keys (each point a dfsim "
                  "serving run): load.requests, load.isl, load.osl, load.isl_std, load.osl_std, "
                  "load.seed, load.rate, serving.max_batch, serving.max_tokens, serving.chunk, "
                  "serving.block, serving.kv_fraction, serving.policy, serving.steps, serving.slo");
  cmd->add_flag("--serving", options->serving,
                "Every point is a dfsim serving run (implied by any load.* or serving.* key); "
                "prints a table of throughput and latency per point when done");
  cmd->add_option("--slo", options->slo,
                  "A serving sweep's goodput bounds, e.g. ttft=200ms,tpot=50ms (the key "
                  "serving.slo for every point)");
  cmd->add_option("--set", options->sets,
                  "A fixed value for every point: KEY=value (any sweep key; repeatable)");
  cmd->add_option("--points", options->points,
                  "A CSV file of points: a header of keys, one point per row (crossed with the "
                  "grids; an empty cell keeps the default)");
  cmd->add_option("--out,-o", options->out,
                  "Output file, .csv or .jsonl: one row per point, appended as points finish");
  cmd->add_flag("--resume", options->resume, "Skip the points the output file already holds");
  cmd->add_flag("--overwrite", options->overwrite, "Replace an existing output file");
  cmd->add_option("--jobs,-j", options->jobs, "Worker processes (default: the CPUs available)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--point-timeout", options->point_timeout,
                  "Seconds a point may run before it is killed and recorded as an error "
                  "(default 600; 0: no limit)")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option(
      "--shard", options->shard,
      "Run only slice K of N (K = 0..N-1; points whose index % N == K), e.g. "
      "--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with sbatch --array=0-(N-1)");
  cmd->add_flag("--dry-run", options->dry_run,
                "Print the points (id, index, inputs) as CSV and run nothing");
  cmd->add_option("--plot", options->plot,
                  "After the sweep, draw x=KEY,y=METRIC[,series=KEY][,KEY=VALUE...][,logx][,logy] "
                  "with gnuplot (KEY=VALUE keeps a slice of the rows); a serving sweep: latency "
                  "(mean TTFT and ITL over output tokens/s, a curve per hw, looping, ...), or "
                  "FILE.svg|FILE.png for latency into that image");
  cmd->add_option("--svg", options->svg, "Plot image (SVG); the .dat and .gp are kept beside it");
  cmd->add_option("--png", options->png, "Plot image (PNG)");
  return [options] { return sweep(*options); };
}

}  // namespace dfsim
