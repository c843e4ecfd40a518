// What `dfsim serving` writes beside its report: the iterations as Perfetto slices (--perfetto)
// and batch, KV use and latency over simulated time as a gnuplot image (--plot). The data of
// both are checked on hand-made runs whose every figure is derived in the comments, and the
// command's files against its own --iterations-csv.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/engine/serving_perfetto.h"
#include "sim/engine/serving_plot.h"
#include "tests/test_support.h"

using nlohmann::json;
using namespace dfsim::testing;

namespace {

// Three iterations: two back to back, then the server idles 0.5 s - 0.475 s until the third.
dfsim::ServingResult three_iterations() {
  dfsim::ServingResult result;
  result.iterations = {{.start_s = 0,
                        .end_s = 0.01,
                        .sequences = 2,
                        .tokens = 128,
                        .prefill_tokens = 128,
                        .decodes = 0,
                        .used_blocks = 4,
                        .running = 2,
                        .waiting = 1},
                       {.start_s = 0.01,
                        .end_s = 0.025,
                        .sequences = 3,
                        .tokens = 34,
                        .prefill_tokens = 32,
                        .decodes = 2,
                        .used_blocks = 6,
                        .running = 3,
                        .waiting = 0},
                       {.start_s = 0.5,
                        .end_s = 0.51,
                        .sequences = 1,
                        .tokens = 1,
                        .prefill_tokens = 0,
                        .decodes = 1,
                        .used_blocks = 2,
                        .running = 1,
                        .waiting = 0}};
  return result;
}

}  // namespace

TEST_CASE("serving Perfetto trace: one slice per iteration at its start and duration, in us",
          "[serving]") {
  const json trace = json::parse(dfsim::serving_perfetto_file(three_iterations(), "m on h"));
  std::vector<json> slices, batch;
  for (const json& event : trace["traceEvents"]) {
    if (event["ph"] == "X") slices.push_back(event);
    if (event["ph"] == "C" && event["name"] == "batch (sequences)") batch.push_back(event);
  }
  REQUIRE(slices.size() == 3);
  // 0-10 ms, 10-25 ms, 500-510 ms: ts and dur in microseconds.
  CHECK(slices[0]["ts"].get<double>() == Approx(0));
  CHECK(slices[0]["dur"].get<double>() == Approx(10000));
  CHECK(slices[1]["ts"].get<double>() == Approx(10000));
  CHECK(slices[1]["dur"].get<double>() == Approx(15000));
  CHECK(slices[2]["ts"].get<double>() == Approx(500000));
  CHECK(slices[2]["dur"].get<double>() == Approx(10000));
  // Named by what they compute: prompts only, prompts and decodes, decodes only.
  CHECK(slices[0]["name"] == "prefill");
  CHECK(slices[1]["name"] == "mixed");
  CHECK(slices[2]["name"] == "decode");
  CHECK(slices[1]["args"] == json{{"iteration", 1},
                                  {"sequences", 3},
                                  {"tokens", 34},
                                  {"prefill_tokens", 32},
                                  {"decodes", 2},
                                  {"kv_blocks", 6},
                                  {"running", 3},
                                  {"waiting", 0}});
  for (const json& slice : slices) CHECK(slice["tid"] == 1);
  // The batch counter: 2 at 0, 3 at 10 ms, 0 while idle from 25 ms, 1 at 500 ms, 0 at 510 ms.
  REQUIRE(batch.size() == 5);
  const std::vector<std::pair<double, int>> expected{
      {0, 2}, {10000, 3}, {25000, 0}, {500000, 1}, {510000, 0}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(batch[i]["ts"].get<double>() == Approx(expected[i].first));
    CHECK(batch[i]["args"]["sequences"] == expected[i].second);
  }
}

TEST_CASE("serving plot data: a row per iteration with the idle gaps, or time bins", "[serving]") {
  dfsim::ServingRun run;
  run.kv.capacity_blocks = 100;
  // 0-1 s: 2 sequences, 1 waiting, 10 blocks; 1-3 s: 4 sequences, 20 blocks; idle; 3.5-4 s: 1
  // sequence, 50 blocks.
  run.result.iterations = {
      {.start_s = 0, .end_s = 1, .sequences = 2, .used_blocks = 10, .running = 2, .waiting = 1},
      {.start_s = 1, .end_s = 3, .sequences = 4, .used_blocks = 20, .running = 4, .waiting = 0},
      {.start_s = 3.5, .end_s = 4, .sequences = 1, .used_blocks = 50, .running = 1, .waiting = 0}};
  dfsim::RequestRecord request;
  request.arrival_s = 0;
  request.first_token_s = 1;
  request.finish_s = 3;
  run.result.requests = {request};

  const std::vector<std::string> raw = split_lines(dfsim::serving_plot_data(run, 10));
  // start, sequences, running, waiting, KV % of 100 blocks, iteration time; a zero row where
  // the server idles (3 s to 3.5 s, and after the end).
  CHECK(std::vector<std::string>(raw.begin() + 1, raw.begin() + 6) ==
        std::vector<std::string>{"0 2 2 1 10 1", "1 4 4 0 20 2", "3 0 0 0 0 NaN",
                                 "3.5 1 1 0 50 0.5", "4 0 0 0 0 NaN"});
  // Requests: first token at 1 s (TTFT 1 s), finish at 3 s (E2E 3 s).
  CHECK(raw.back() == "1 1 3 3");

  // Two bins of 2 s, each the time-weighted mean over the bin (idle counts as 0):
  //  [0, 2): half of the 1st (2 seq, 1 waiting, 10 %) + half of the 2nd (4 seq, 20 %)
  //          = 3 seq, 3 running, 0.5 waiting, 15 %; iterations starting in it: 1 s, 2 s -> 1.5
  //  [2, 4): half of the 2nd + a quarter of the 3rd (1 seq, 50 %) = 2.25 seq, 22.5 %; 0.5 s.
  const std::vector<std::string> binned = split_lines(dfsim::serving_plot_data(run, 2));
  CHECK(binned[1] == "0 3 3 0.5 15 1.5");
  CHECK(binned[2] == "2 2.25 2.25 0 22.5 0.5");
}

TEST_CASE("dfsim serving --perfetto and --plot: a slice per iteration, an image",
          "[serving][cli]") {
  TempDir dir;
  const Outcome outcome =
      run_dfsim(dir,
                "serving --model llama3.2-1b --hw h100-sxm --requests 6 --isl 64 --osl 4 --rate 40 "
                "--chunk 32 --iterations-csv it.csv --perfetto trace.json --plot state.svg");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const std::vector<std::string> rows = split_lines(read_text(dir.path() / "it.csv"));
  REQUIRE(rows.size() > 2);
  const json trace = json::parse(read_text(dir.path() / "trace.json"));
  std::vector<json> slices;
  for (const json& event : trace["traceEvents"]) {
    if (event["ph"] == "X") slices.push_back(event);
  }
  // Exactly one slice per iteration, each at the iteration's start and of its duration.
  REQUIRE(slices.size() == rows.size() - 1);
  for (std::size_t i = 0; i < slices.size(); ++i) {
    const double start = std::stod(rows[i + 1]);
    const double end = std::stod(rows[i + 1].substr(rows[i + 1].find(',') + 1));
    CHECK(slices[i]["ts"].get<double>() == Approx(start * 1e6).margin(1e-3));
    CHECK(slices[i]["dur"].get<double>() == Approx((end - start) * 1e6).margin(1e-3));
    CHECK(slices[i]["args"]["iteration"] == i);
  }
  CHECK(read_text(dir.path() / "state.svg").find("<svg") != std::string::npos);
  const std::string script = read_text(dir.path() / "state.gp");
  CHECK(script.find("set multiplot layout 3,1") != std::string::npos);
  CHECK(script.find("'state.dat' index 1 using 3:4") != std::string::npos);  // E2E at finish

  const Outcome bad = run_dfsim(dir, "serving --model llama3.2-1b --hw h100-sxm --plot state.pdf");
  CHECK(bad.code == 2);
  CHECK(bad.err == "dfsim: error: --plot state.pdf: expected a .svg or .png file\n");
}
