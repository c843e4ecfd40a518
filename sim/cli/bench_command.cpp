// `dfsim bench`: times the simulator itself with Google Benchmark. Each iteration simulates in
// a forked child (SystemC elaborates once per process) and reports the child's own wall time
// from loading the configs to the finished report (a serving run: to its finished records), so
// fork cost is not counted.
#include <chrono>
#include <memory>
#include <vector>

#include "sim/cli/commands.h"
#include "sim/common/error.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/serving_run.h"
#include "sim/report/report.h"
#include "sim/serving/synthetic_requests.h"

#ifdef DFSIM_HAVE_BENCHMARK
#include <benchmark/benchmark.h>
#endif

namespace dfsim {

namespace {

#ifdef DFSIM_HAVE_BENCHMARK
void simulate_timed(benchmark::State& state, RunRequest request) {
  double simulated = 0;
  for (auto _ : state) {
    nlohmann::json result = run_in_child([&] {
      auto begin = std::chrono::steady_clock::now();
      RunStats stats = run_simulation(request);
      std::chrono::duration<double> wall = std::chrono::steady_clock::now() - begin;
      return nlohmann::json{{"wall_s", wall.count()}, {"time_s", stats.time_s}};
    });
    state.SetIterationTime(result["wall_s"].get<double>());
    simulated = result["time_s"].get<double>();
  }
  state.counters["simulated_s"] = simulated;
}

// A whole serving run (dfsim serving's defaults but the load), in a child as above.
void serve_timed(benchmark::State& state, ServingRunRequest request) {
  double simulated = 0;
  double iterations = 0;
  double machine_steps = 0;
  for (auto _ : state) {
    nlohmann::json result = run_in_child([&] {
      auto begin = std::chrono::steady_clock::now();
      const ServingRun run = run_serving_simulation(request);
      std::chrono::duration<double> wall = std::chrono::steady_clock::now() - begin;
      return nlohmann::json{{"wall_s", wall.count()},
                            {"simulated_s", run.simulated_s},
                            {"iterations", run.result.iterations.size()},
                            {"machine_steps", run.machine_steps}};
    });
    state.SetIterationTime(result["wall_s"].get<double>());
    simulated = result["simulated_s"].get<double>();
    iterations = result["iterations"].get<double>();
    machine_steps = result["machine_steps"].get<double>();
  }
  state.counters["simulated_s"] = simulated;
  state.counters["iterations"] = iterations;
  state.counters["machine_steps"] = machine_steps;
}

RunRequest decode(const char* model, const char* hw, std::int64_t tokens) {
  RunRequest request;
  request.model = model;
  request.hw = hw;
  request.phase.kind = PhaseKind::kDecode;
  request.phase.context = 128;
  request.phase.tokens = tokens;
  return request;
}

void register_benchmarks() {
  // Targets (README): one 70B decode step < 50 ms; a 128-token 8B decode run < 2 s.
  // 70B in bf16 (141 GB) does not fit one H100's 80 GB: fp8 weights (71 GB) do.
  RunRequest step_70b = decode("llama3.1-70b", "h100-sxm", 1);
  step_70b.overrides.push_back(parse_override("model.weight_dtype=fp8"));
  benchmark::RegisterBenchmark("decode_step/llama3.1-70b-fp8/h100-sxm", simulate_timed, step_70b)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("decode_run_128/llama3.1-8b/h100-sxm", simulate_timed,
                               decode("llama3.1-8b", "h100-sxm", 128))
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3);
  RunRequest prefill = decode("llama3.1-8b", "h100-sxm", 1);
  prefill.phase.kind = PhaseKind::kPrefill;
  prefill.phase.context = 4096;
  benchmark::RegisterBenchmark("prefill_4096/llama3.1-8b/h100-sxm", simulate_timed, prefill)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  // Target (issue 16): 30,000 requests of 128 + 128 at --rate inf on h100-sxm in < 60 s, i.e.
  // dfsim serving --model llama3.1-8b --hw h100-sxm --requests 30000 --isl 128 --osl 128
  // (memoized steps, the default).
  ServingRunRequest serving;
  serving.model = "llama3.1-8b";
  serving.hw = "h100-sxm";
  serving.requests = synthetic_requests({.requests = 30000, .isl = 128, .osl = 128});
  benchmark::RegisterBenchmark("serving_30000x128x128_inf/llama3.1-8b/h100-sxm", serve_timed,
                               serving)
      ->UseManualTime()
      ->Unit(benchmark::kSecond)
      ->Iterations(1);
}
#endif

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto extra = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time the simulator itself (Google Benchmark; --benchmark_* flags pass through)");
  cmd->allow_extras();
  // -> int: without Google Benchmark the body only throws, and a void lambda is no Action.
  return [cmd]() -> int {
#ifdef DFSIM_HAVE_BENCHMARK
    std::vector<std::string> args{"dfsim bench"};
    for (const std::string& arg : cmd->remaining()) args.push_back(arg);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    int argc = static_cast<int>(argv.size());
    benchmark::Initialize(&argc, argv.data());
    if (benchmark::ReportUnrecognizedArguments(argc, argv.data())) {
      throw InputError("dfsim bench: unrecognized argument " + std::string(argv[1]));
    }
    register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
#else
    throw InputError("dfsim was built without Google Benchmark (DFSIM_BUILD_BENCHMARKS=OFF)");
#endif
  };
}

}  // namespace dfsim
