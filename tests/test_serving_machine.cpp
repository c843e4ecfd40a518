// Serving on the machine models: steps handed to the SystemC machine one at a time (ProgramSource),
// a serving run whose every iteration the machine costs, and `dfsim serving`'s command line.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/simulate.h"
#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/engine/serving_run.h"
#include "sim/mapping/mapper.h"
#include "sim/mapping/program_source.h"
#include "sim/serving/arrivals.h"
#include "sim/serving/serving_stats.h"
#include "sim/serving/synthetic_requests.h"
#include "sim/workload/workload_graph.h"
#include "tests/test_support.h"

using nlohmann::json;

namespace {

// A decode step of llama3.2-1b (batch 1, context 100) on `hw`.
dfsim::Program decode_step(const dfsim::HwConfig& hw) {
  const dfsim::ModelSpec model = dfsim::load_model_spec("llama3.2-1b", {});
  return dfsim::map_program(
      dfsim::build_decoder_graph(model, dfsim::StepShape{1, 1, 100, false}, hw.sockets()), hw,
      dfsim::LoopingMode::kOff);
}

dfsim::ServingRun serving_in_child(const dfsim::ServingRunRequest& request) {
  const json reply = dfsim::run_in_child([&] {
    const dfsim::ServingRun run = dfsim::run_serving_simulation(request);
    json iterations = json::array();
    for (const dfsim::IterationRecord& it : run.result.iterations) {
      iterations.push_back({it.start_s, it.end_s, it.sequences, it.prefill_tokens, it.decodes});
    }
    json requests = json::array();
    for (const dfsim::RequestRecord& record : run.result.requests) {
      requests.push_back(
          {record.first_token_s, record.finish_s, static_cast<int>(record.token_s.size())});
    }
    return json{{"iterations", iterations},
                {"requests", requests},
                {"weights", run.kv.weight_bytes},
                {"preemptions", run.result.preemptions},
                {"blocks", run.kv.capacity_blocks}};
  });
  dfsim::ServingRun run;
  run.kv.weight_bytes = reply["weights"];
  run.kv.capacity_blocks = reply["blocks"];
  run.result.preemptions = reply["preemptions"];
  for (const json& it : reply["iterations"]) {
    run.result.iterations.push_back({.start_s = it[0],
                                     .end_s = it[1],
                                     .sequences = it[2],
                                     .prefill_tokens = it[3],
                                     .decodes = it[4]});
  }
  for (const json& record : reply["requests"]) {
    dfsim::RequestRecord r;
    r.first_token_s = record[0];
    r.finish_s = record[1];
    r.output_tokens = record[2];
    run.result.requests.push_back(r);
  }
  return run;
}

}  // namespace

TEST_CASE("a machine fed step by step idles until the source's next time", "[serving]") {
  // One elaboration per process: each simulation in a child.
  for (const char* name : {"h100-sxm", "sn40l", "apple-m2-max", "xeon-8480+"}) {
    INFO(name);
    const dfsim::HwConfig hw = dfsim::load_hw_config(name, {});
    const dfsim::Program step = decode_step(hw);
    // The same step twice from a list, and from a callback that waits 0.5 s between them.
    const json list = dfsim::run_in_child([&] {
      return json{{"end", dfsim::simulate(hw, std::vector<dfsim::Program>{step, step}).end_time}};
    });
    const json fed = dfsim::run_in_child([&] {
      int asked = 0;
      double first_end = -1;
      dfsim::ProgramCallback source([&](double now) -> dfsim::NextProgram {
        ++asked;
        if (asked == 1) return {&step, 0};
        if (asked == 2) {
          first_end = now;
          return {nullptr, now + 0.5};  // idle
        }
        if (asked == 3) return {&step, 0};
        return {};
      });
      const double end = dfsim::simulate(hw, source).end_time;
      return json{{"end", end}, {"first_end", first_end}, {"asked", asked}};
    });
    CHECK(fed["asked"] == 4);
    // Back to back the two steps end at list_end; the second starts 0.5 s later here and
    // lasts as long (nothing else runs), so the run ends 0.5 s later (the machines' first-call
    // costs fall on the first step in both).
    const double list_end = list["end"];
    const double end = fed["end"];
    CHECK(end == Approx(list_end + 0.5).epsilon(1e-9));
    CHECK(double(fed["first_end"]) > 0);
  }
}

TEST_CASE("one request alone costs its prefill plus its decode steps as dfsim run gives them",
          "[serving]") {
  // isl 200, osl 9: the prefill samples the first token, then 8 decode steps at contexts 200 ..
  // 207 -- dfsim run --phase prefill --prompt 200 and --phase decode --context 200 --tokens 8.
  // On a GPU a step's time depends only on its program (no state carries over between steps),
  // so the sums agree to the SystemC clock's picosecond per step.
  dfsim::ServingRunRequest request;
  request.model = "llama3.1-8b";
  request.hw = "h100-sxm";
  request.requests = {{.arrival_s = 0, .input_tokens = 200, .output_tokens = 9}};
  const dfsim::ServingRun run = serving_in_child(request);
  REQUIRE(run.result.iterations.size() == 9);
  dfsim::RunRequest run_request;
  run_request.model = "llama3.1-8b";
  run_request.hw = "h100-sxm";
  run_request.phase = {.kind = dfsim::PhaseKind::kPrefill, .batch = 1, .context = 200, .tokens = 1};
  const dfsim::RunStats prefill = dfsim::run_isolated(run_request);
  run_request.phase = {.kind = dfsim::PhaseKind::kDecode, .batch = 1, .context = 200, .tokens = 8};
  const dfsim::RunStats decode = dfsim::run_isolated(run_request);
  const dfsim::RequestRecord& alone = run.result.requests.at(0);
  CHECK(alone.output_tokens == 9);
  CHECK(alone.first_token_s == Approx(prefill.time_s).margin(1e-12));
  CHECK(alone.finish_s == Approx(prefill.time_s + decode.time_s).margin(1e-11));
}

TEST_CASE("no decode iteration is faster than reading the weights at peak bandwidth", "[serving]") {
  // Roofline bound: a decode step reads every layer's weights once, so it lasts at least
  // weight bytes / peak HBM bandwidth (3.35 TB/s on h100-sxm); throughput is bounded by the
  // batch over that time.
  dfsim::ServingRunRequest request;
  request.model = "llama3.1-8b";
  request.hw = "h100-sxm";
  request.requests.assign(40, {.arrival_s = 0, .input_tokens = 64, .output_tokens = 16});
  request.scheduler.max_batch = 16;
  const dfsim::ServingRun run = serving_in_child(request);
  const dfsim::HwConfig hw = dfsim::load_hw_config("h100-sxm", {});
  const dfsim::ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
  const dfsim::WorkloadGraph graph =
      dfsim::build_decoder_graph(model, dfsim::StepShape{1, 1, 0, false});
  double weights = 0;
  for (std::size_t id = 0; id < graph.op_count(); ++id) {
    if (graph.op(id).kind == dfsim::OpKind::kMatMul) weights += graph.op(id).weight_bytes;
  }
  const double bound = weights / hw.gpu()->hbm.bandwidth;
  // llama3.1-8b's bf16 matmul weights: about 15 GB, about 4.5 ms at 3.35 TB/s.
  CHECK(bound > 4e-3);
  int decode_steps = 0;
  for (const dfsim::IterationRecord& it : run.result.iterations) {
    if (it.prefill_tokens > 0) continue;
    ++decode_steps;
    CHECK(it.end_s - it.start_s >= bound);
  }
  CHECK(decode_steps > 0);
  // Every request finished with its 16 tokens.
  for (const dfsim::RequestRecord& record : run.result.requests) {
    CHECK(record.output_tokens == 16);
    CHECK(record.finish_s > 0);
  }
}

TEST_CASE("dfsim serving: same seed same output, bad values exit 2", "[serving][cli]") {
  dfsim::testing::TempDir dir;
  const std::string args =
      "serving --model llama3.2-1b --hw h100-sxm --requests 12 --isl 64 --osl 8 --isl-std 16 "
      "--osl-std 2 --rate 50 --seed 7 --chunk 32 --format json";
  const auto first = dfsim::testing::run_dfsim(dir, args);
  const auto second = dfsim::testing::run_dfsim(dir, args);
  REQUIRE(first.code == 0);
  CHECK(first.out == second.out);
  const json report = json::parse(first.out);
  CHECK(report["requests"] == 12);
  CHECK(report["ttft_s"]["count"] == 12);
  const auto other = dfsim::testing::run_dfsim(dir,
                                               "serving --model llama3.2-1b --hw h100-sxm "
                                               "--requests 12 --isl 64 --osl 8 --isl-std 16 "
                                               "--osl-std 2 --rate 50 --seed 8 --chunk 32 "
                                               "--format json");
  CHECK(other.out != first.out);

  const std::vector<std::pair<std::string, std::string>> bad{
      {"--rate abc", "--rate"},
      {"--rate 0", "--rate"},
      {"--chunk 0", "--chunk"},
      {"--chunk x", "--chunk"},
      {"--kv-fraction 2", "--kv-fraction"},
      {"--policy lru", "--policy"},
      {"--slo ttft=fast", "ttft"},
      {"--looping auto", "--looping"},
      {"--requests 0", "--requests"},
      {"--trace missing.csv --rate 4", "--trace"},
  };
  for (const auto& [option, named] : bad) {
    INFO(option);
    const auto outcome =
        dfsim::testing::run_dfsim(dir, "serving --model llama3.2-1b --hw h100-sxm " + option);
    CHECK(outcome.code == 2);
    CHECK(outcome.err.find(named) != std::string::npos);
    CHECK(outcome.out.empty());
  }
}

TEST_CASE("dfsim serving --trace serves the file's requests at their arrival times",
          "[serving][cli]") {
  dfsim::testing::TempDir dir;
  // Two requests: 100 + 10 tokens at t = 0 and 50 + 5 at t = 2 s. The first is done long before
  // the second arrives (a 1B model's 10 tokens take milliseconds), so the server idles between
  // them and the run ends after the second's arrival: 15 output tokens, 2 requests.
  dir.write("load.csv", "arrival_s,input_tokens,output_tokens\n0,100,10\n2,50,5\n");
  const auto outcome = dfsim::testing::run_dfsim(
      dir, "serving --model llama3.2-1b --hw h100-sxm --trace load.csv --format json");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json report = json::parse(outcome.out);
  CHECK(report["requests"] == 2);
  CHECK(report["output_tokens"] == 15);
  CHECK(report["load"] == "trace load.csv (2 requests)");
  CHECK(report["duration_s"].get<double>() > 2.0);
  CHECK(report["duration_s"].get<double>() < 2.5);
}

TEST_CASE("the KV cache gets kv_fraction of the memory left after weights and activations",
          "[serving]") {
  const dfsim::HwConfig hw = dfsim::load_hw_config("h100-sxm", {});
  const dfsim::ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
  dfsim::SchedulerConfig config;  // max_tokens 8192, blocks of 32 tokens
  const dfsim::KvBudget budget = dfsim::kv_budget(model, hw, config, 0.9);
  // h100-sxm: 81559 MiB usable = 85,520,809,984 B.
  CHECK(budget.memory_bytes == 85520809984.0);
  // Llama 3.1 8B: 8,030,261,248 parameters in bf16 = 16,060,522,496 B.
  CHECK(budget.weight_bytes == 16060522496.0);
  // K and V of 32 layers, 8 kv heads of 128, bf16: 2 x 32 x 8 x 128 x 2 = 131072 B per token.
  CHECK(budget.kv_bytes_per_token == 131072.0);
  // The largest op of an 8192-token step: SwiGLU reads gate and up and writes their product,
  // 3 x 8192 x 14336 x 2 B = 704,643,072 B.
  CHECK(budget.activation_bytes == 704643072.0);
  // floor(0.9 x (85,520,809,984 - 16,060,522,496 - 704,643,072) / (32 x 131072))
  // = floor(0.9 x 68,755,644,416 / 4,194,304) = floor(61,880,079,974.4 / 4,194,304) = 14753.
  CHECK(budget.capacity_blocks == 14753);
  // Nothing left: an error naming the memory.
  const dfsim::HwConfig small =
      dfsim::load_hw_config("h100-sxm", {dfsim::parse_override("hw.hbm.capacity=16GB")});
  CHECK_THROWS_AS(dfsim::kv_budget(model, small, config, 0.9), dfsim::InputError);
}

TEST_CASE("on the machine, a cache too small for the batch preempts and every request finishes",
          "[serving]") {
  // llama3.2-1b: 16 layers x 2 x 8 kv heads x 64 x 2 B = 32 KiB per token, 1 MiB per 32-token
  // block; 1e-4 of the ~80 GB left holds 7 blocks, while 8 requests of 64 + 40 tokens need 4
  // blocks each by the end: recompute must preempt.
  dfsim::ServingRunRequest request;
  request.model = "llama3.2-1b";
  request.hw = "h100-sxm";
  request.requests.assign(8, {.arrival_s = 0, .input_tokens = 64, .output_tokens = 40});
  request.scheduler.policy = dfsim::KvPolicy::kRecompute;
  request.kv_fraction = 1e-4;
  const dfsim::ServingRun run = serving_in_child(request);
  CHECK(run.kv.capacity_blocks == 7);
  CHECK(run.result.preemptions > 0);
  for (const dfsim::RequestRecord& record : run.result.requests) {
    CHECK(record.output_tokens == 40);
    CHECK(record.finish_s > record.first_token_s);
  }
}

namespace {

// Throughput and mean TTFT and ITL of a run, in a child of its own.
json serving_figures(const dfsim::ServingRunRequest& request) {
  return dfsim::run_in_child([&] {
    const dfsim::ServingRun run = dfsim::run_serving_simulation(request);
    const dfsim::ServingStats stats = dfsim::serving_stats(run.result);
    return json{{"throughput", stats.output_tokens_per_s},
                {"ttft", stats.ttft_s.mean},
                {"itl", stats.itl_s.mean},
                {"machine_steps", run.machine_steps},
                {"memoized_steps", run.memoized_steps},
                {"iterations", run.result.iterations.size()}};
  });
}

}  // namespace

TEST_CASE("memoized step times stay within 2 % of running every step", "[serving][memo]") {
  // The bound: a memoized iteration takes the time of its canonical batch (sim/serving/
  // step_memo.h), which has the same tokens and sampled rows and differs only in contexts: the
  // decodes' mean and each chunk's context move to their bucket's middle, at most half a bucket
  // (1/64, 1.6 %) away. Only attention depends on contexts, linearly, so an iteration's time moves
  // by at most 1.6 % of its attention share, less than 1.6 % of the iteration. Throughput (tokens
  // over the sum of iteration times), ITL (means of iteration times) and TTFT (queueing behind
  // iterations, then the prefill's) are sums and means of iteration times: each within 1.6 % too
  // (a Poisson load's batches may form differently once times move, which the extra 0.4 %
  // covers: the runs below differ by far less).
  auto compare = [](dfsim::ServingRunRequest request) {
    request.exact_steps = true;
    const json exact = serving_figures(request);
    request.exact_steps = false;
    const json memo = serving_figures(request);
    INFO(exact.dump() << "\n" << memo.dump());
    CHECK(exact["memoized_steps"] == 0);
    CHECK(exact["machine_steps"] == exact["iterations"]);
    // Memoization is doing something: most iterations took a stored time.
    CHECK(memo["memoized_steps"].get<double>() > 0.5 * memo["iterations"].get<double>());
    for (const char* figure : {"throughput", "ttft", "itl"}) {
      INFO(figure);
      CHECK(memo[figure].get<double>() == Approx(exact[figure].get<double>()).epsilon(0.02));
    }
  };
  // Offline, fp8 on the FP8 tensor cores: 160 requests of 128 + 512 tokens, all at t = 0, at
  // most 64 at once (long decode phases whose contexts sweep through buckets).
  dfsim::ServingRunRequest offline;
  offline.model = "llama3.1-8b";
  offline.hw = "h100-sxm";
  offline.overrides = {
      {"model.weight_dtype", "fp8"}, {"model.kv_cache_dtype", "fp8"}, {"hw.stack", "serving"}};
  offline.requests = dfsim::synthetic_requests({.requests = 160, .isl = 128, .osl = 512});
  offline.scheduler.max_batch = 64;
  compare(offline);
  // Poisson arrivals, lengths that vary, chunked prefill mixed with decodes.
  dfsim::ServingRunRequest online;
  online.model = "llama3.1-8b";
  online.hw = "h100-sxm";
  online.requests = dfsim::synthetic_requests(
      {.requests = 120, .isl = 400, .osl = 150, .isl_std = 150, .osl_std = 50, .seed = 3});
  dfsim::assign_arrivals(online.requests, 15, 3);
  online.scheduler.chunk = 256;
  online.scheduler.max_tokens = 1024;
  compare(online);
}
