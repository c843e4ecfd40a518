// `dfsim sweep` driving `dfsim serving`: the plan of a serving sweep (load.* / serving.* keys,
// defaults of `dfsim serving`), its rows against the command run directly with the same values,
// bad keys and values, its table and its throughput-latency curves.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/common/error.h"
#include "sim/engine/serving_sweep_plot.h"
#include "sim/engine/serving_sweep_table.h"
#include "sim/engine/sweep.h"
#include "sim/engine/sweep_spec.h"
#include "sim/engine/sweep_table.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace dfsim::testing;

namespace {

std::vector<dfsim::SweepFactor> factors(const std::vector<std::string>& grids) {
  std::vector<dfsim::SweepFactor> list{dfsim::parse_name_list("model", "tiny-llama", "--model"),
                                       dfsim::parse_name_list("hw", "h100-sxm", "--hw")};
  for (const std::string& grid : grids) list.push_back(dfsim::parse_grid(grid));
  return list;
}

std::vector<std::map<std::string, std::string>> rows_of(const std::string& path) {
  const dfsim::SweepFile file = dfsim::read_sweep_file(path);
  std::vector<std::map<std::string, std::string>> rows;
  for (const dfsim::SweepRow& row : file.rows) {
    std::map<std::string, std::string> entry;
    for (std::size_t c = 0; c < file.columns.size(); ++c) entry[file.columns[c]] = row.values[c];
    rows.push_back(std::move(entry));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return std::stoul(a.at("point_index")) < std::stoul(b.at("point_index"));
  });
  return rows;
}

}  // namespace

TEST_CASE("a serving sweep: load.* keys make every point a serving run with its defaults",
          "[sweep][serving]") {
  const dfsim::SweepPlan plan =
      dfsim::build_sweep_plan(factors({"load.rate=4,inf", "looping=off,on"}));
  CHECK(plan.serving);
  REQUIRE(plan.points.size() == 4);
  // model, hw, then every serving key: `dfsim serving`'s defaults where no factor sets it.
  CHECK(dfsim::point_input_values(plan.points[1], {}) ==
        std::vector<std::string>{"tiny-llama", "h100-sxm", "100", "128", "128", "0", "0", "0", "4",
                                 "256", "8192", "off", "32", "0.9", "no-evict", "memoized", "",
                                 "on"});
  CHECK(dfsim::sweep_input_columns(true) ==
        std::vector<std::string>{"model", "hw", "load.requests", "load.isl", "load.osl",
                                 "load.isl_std", "load.osl_std", "load.seed", "load.rate",
                                 "serving.max_batch", "serving.max_tokens", "serving.chunk",
                                 "serving.block", "serving.kv_fraction", "serving.policy",
                                 "serving.steps", "serving.slo", "looping"});
  const std::vector<std::string> columns = dfsim::sweep_columns(plan);
  CHECK(columns[5] == "model");
  CHECK(columns[13] == "load.rate");
  CHECK(std::find(columns.begin(), columns.end(), "ttft_p99_s") != columns.end());
  CHECK(std::find(columns.begin(), columns.end(), "goodput") != columns.end());
  CHECK(std::find(columns.begin(), columns.end(), "phase.batch") == columns.end());

  // --serving alone: one point, every default (rate inf).
  const dfsim::SweepPlan plain = dfsim::build_sweep_plan(factors({}), 10'000'000, true);
  REQUIRE(plain.points.size() == 1);
  CHECK(dfsim::point_input_values(plain.points[0], {})[8] == "inf");
  // A serving point and a dfsim run point never share an id.
  const dfsim::SweepPlan run = dfsim::build_sweep_plan(factors({}));
  CHECK_FALSE(run.serving);
  CHECK(run.points[0].id != plain.points[0].id);
}

TEST_CASE("a serving sweep: phase keys, looping=auto and bad serving values are errors",
          "[sweep][serving]") {
  auto message = [](const std::vector<std::string>& grids) {
    return message_of<dfsim::InputError>([&] { (void)dfsim::build_sweep_plan(factors(grids)); });
  };
  CHECK(message({"load.rate=1", "phase.batch=2"}) ==
        "--grid phase.batch=2: phase.batch is a dfsim run key; a serving sweep (load.* and "
        "serving.* keys) sets its load with load.* keys");
  CHECK(message({"load.rate=1", "looping=off,auto"}) ==
        "--grid looping=off,auto: looping: expected off or on in a serving sweep, got 'auto'");
  CHECK(message({"serving.chunk=64,0"}) ==
        "--grid serving.chunk=64,0: serving.chunk: expected a number of tokens >= 1 or off, got "
        "'0'");
  CHECK(message({"load.isl=0"}) ==
        "--grid load.isl=0: load.isl: expected an integer in [1, 16777216], got '0'");
  CHECK(message({"serving.kv_fraction=1.5"}) ==
        "--grid serving.kv_fraction=1.5: serving.kv_fraction: expected a number in (0, 1], got "
        "'1.5'");
  CHECK(message({"serving.policy=lru"}) ==
        "--grid serving.policy=lru: serving.policy: expected no-evict or recompute, got 'lru'");
  CHECK(message({"serving.steps=fast"}) ==
        "--grid serving.steps=fast: serving.steps: expected memoized or exact, got 'fast'");
  CHECK(message({"load.rate=0"}) ==
        "--grid load.rate=0: load.rate: expected a number of requests/s > 0 or inf, got '0'");
  CHECK(message({"serving.looping=on"})
            .rfind("--grid serving.looping=on: unknown serving key 'serving.looping' (expected "
                   "load.requests, ",
                   0) == 0);
  CHECK(message({"serving.slo=ttft=fast"}).find("ttft") != std::string::npos);
}

TEST_CASE("dfsim sweep over load.rate: one serving point per rate, as dfsim serving runs it",
          "[sweep][serving][cli]") {
  TempDir dir;
  const std::string load =
      "--set load.requests=6 --set load.isl=64 --set load.osl=4 "
      "--set serving.chunk=32 --slo ttft=20ms";
  const Outcome sweep =
      run_dfsim(dir, "sweep --model llama3.2-1b --hw h100-sxm --grid load.rate=20,inf " + load +
                         " -j 2 -o out.csv --plot latency --svg curve.svg");
  INFO(sweep.err);
  REQUIRE(sweep.code == 0);
  const auto rows = rows_of(dir.file("out.csv"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("load.rate") == "20");
  CHECK(rows[1].at("load.rate") == "inf");
  for (const auto& row : rows) {
    CHECK(row.at("status") == "ok");
    // 6 requests of 64 prompt and 4 output tokens.
    CHECK(row.at("requests") == "6");
    CHECK(row.at("input_tokens") == "384");
    CHECK(row.at("output_tokens") == "24");
    CHECK(row.at("serving.slo") == "ttft=20ms");
  }
  // At rate inf every request arrives at 0: the first is scheduled at once.
  CHECK(std::stod(rows[1].at("queueing_p50_s")) >= 0);
  CHECK(std::stod(rows[1].at("ttft_max_s")) > std::stod(rows[1].at("ttft_p50_s")) * 0.999);

  // The same points through dfsim serving: the same numbers (JSON doubles round-trip).
  for (const auto& [rate, row] :
       std::vector<std::pair<std::string, std::map<std::string, std::string>>>{{"20", rows[0]},
                                                                               {"inf", rows[1]}}) {
    INFO("rate " << rate);
    const Outcome direct = run_dfsim(dir,
                                     "serving --model llama3.2-1b --hw h100-sxm --requests 6 "
                                     "--isl 64 --osl 4 --chunk 32 --slo ttft=20ms --format json "
                                     "--rate " +
                                         rate);
    REQUIRE(direct.code == 0);
    const json report = json::parse(direct.out);
    CHECK(std::stod(row.at("request_throughput")) == report["request_throughput"].get<double>());
    CHECK(std::stod(row.at("output_tokens_per_s")) == report["output_tokens_per_s"].get<double>());
    CHECK(std::stod(row.at("duration_s")) == report["duration_s"].get<double>());
    CHECK(std::stoi(row.at("iterations")) == report["iterations"].get<int>());
    CHECK(std::stod(row.at("goodput")) == report["goodput"].get<double>());
    for (const char* latency : {"ttft", "itl", "tpot", "e2e"}) {
      for (const char* stat : {"mean", "p50", "p99"}) {
        INFO(latency << " " << stat);
        CHECK(std::stod(row.at(fmt::format("{}_{}_s", latency, stat))) ==
              report[std::string(latency) + "_s"][stat].get<double>());
      }
    }
  }

  // JSON lines keep counts as numbers and the rate, which may be inf, as a string in every row.
  const Outcome lines =
      run_dfsim(dir, "sweep --model llama3.2-1b --hw h100-sxm --grid load.rate=20,inf " + load +
                         " -o out.jsonl");
  REQUIRE(lines.code == 0);
  const json first = json::parse(split_lines(read_text(dir.path() / "out.jsonl")).at(0));
  CHECK(first["load.requests"] == 6);
  CHECK(first["serving.max_batch"] == 256);
  CHECK(first["load.rate"].is_string());
  CHECK(first["serving.chunk"] == "32");

  // The table: a header and a line per rate.
  const std::vector<std::string> table = split_lines(sweep.out);
  REQUIRE(table.size() == 3);
  CHECK(table[0].rfind("load.rate  ", 0) == 0);
  CHECK(table[0].find("req/s  out tok/s  TTFT mean") != std::string::npos);
  CHECK(table[0].find("goodput") != std::string::npos);
  CHECK(table[1].rfind("20  ", 0) == 0);
  CHECK(table[2].rfind("inf ", 0) == 0);
  // The curve: one series (only the rate varies), its points in rate order.
  CHECK(read_text(dir.path() / "curve.svg").find("<svg") != std::string::npos);
  const std::vector<std::string> data = split_lines(read_text(dir.path() / "curve.dat"));
  REQUIRE(data.size() >= 4);
  CHECK(data[0] == "# serving");
  CHECK(data[1] == "# output_tokens_per_s ttft_mean_s itl_mean_ms load.rate");
  CHECK(data[2] == fmt::format("{:.17g} {:.17g} {:.17g} 20",
                               std::stod(rows[0].at("output_tokens_per_s")),
                               std::stod(rows[0].at("ttft_mean_s")),
                               std::stod(rows[0].at("itl_mean_s")) * 1e3));
  CHECK(data[3].substr(data[3].size() - 4) == " inf");
  CHECK(read_text(dir.path() / "curve.gp")
            .find("title 'dfsim sweep: llama3.2-1b, 6 x (64 + 4) tokens (points: load.rate)'") !=
        std::string::npos);
}

TEST_CASE("dfsim sweep: bad serving keys and values exit 2 naming the key",
          "[sweep][serving][cli]") {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> bad{
      {"--grid load.rate=4,fast",
       "dfsim: error: --grid load.rate=4,fast: load.rate: expected a number of requests/s > 0 or "
       "inf, got 'fast'\n"},
      {"--grid load.osl=8,-1",
       "dfsim: error: --grid load.osl=8,-1: load.osl: expected an integer in [1, 16777216], got "
       "'-1'\n"},
      {"--grid load.speed=1", ""},
      {"--serving --set phase.tokens=4", ""},
      {"--serving --slo ttft=soon", ""},
      {"--grid phase.batch=1,2 --plot latency --svg c.svg", ""},
  };
  for (const auto& [options, expected] : bad) {
    INFO(options);
    const Outcome outcome =
        run_dfsim(dir, "sweep --model llama3.2-1b --hw h100-sxm -o out.csv " + options);
    CHECK(outcome.code == 2);
    if (!expected.empty()) CHECK(outcome.err == expected);
    CHECK(split_lines(outcome.err).size() == 1);
    CHECK_FALSE(fs::exists(dir.path() / "out.csv"));
  }
  // The key each message names.
  CHECK(run_dfsim(dir, "sweep --model llama3.2-1b --hw h100-sxm -o o.csv --grid load.speed=1")
            .err.find("unknown serving key 'load.speed'") != std::string::npos);
  CHECK(run_dfsim(dir,
                  "sweep --model llama3.2-1b --hw h100-sxm -o o.csv --serving --set "
                  "phase.tokens=4")
            .err.find("phase.tokens is a dfsim run key") != std::string::npos);
  CHECK(run_dfsim(dir,
                  "sweep --model llama3.2-1b --hw h100-sxm -o o.csv --serving --slo "
                  "ttft=soon")
            .err.find("ttft") != std::string::npos);
  // A --points cell: file:line:column and the column's key.
  write_text(dir.path() / "points.csv", "load.rate,looping\n4,off\nsoon,on\n");
  const Outcome cell =
      run_dfsim(dir, "sweep --model llama3.2-1b --hw h100-sxm --points points.csv -o o.csv");
  CHECK(cell.code == 2);
  CHECK(cell.err ==
        "dfsim: error: points.csv:3:1: column 'load.rate': load.rate: expected a number of "
        "requests/s > 0 or inf, got 'soon'\n");
}

TEST_CASE("throughput-latency curves: a series per hardware, points in load order, labels",
          "[sweep][serving]") {
  // A serving sweep's file cut to the columns the curves read (the inputs end at the first
  // metric, output_tokens_per_s); the error row is left out.
  const std::string text =
      "point_id,point_index,points_total,status,error,model,hw,load.rate,looping,"
      "output_tokens_per_s,ttft_mean_s,itl_mean_s,wall_s\n"
      "a,0,5,ok,,m,dgx-h100,1,off,100,0.05,0.011,1\n"
      "c,2,5,ok,,m,sn40l-8,1,off,90,0.06,0.014,1\n"
      "b,1,5,ok,,m,dgx-h100,inf,off,5000,2.5,0.02,1\n"
      "d,3,5,ok,,m,sn40l-8,inf,off,4000,3,0.025,1\n"
      "e,4,5,error,boom,m,sn40l-8,8,off,,,,1\n";
  const dfsim::SweepFile file = dfsim::parse_sweep_text(text, "s.csv");
  const dfsim::ServingCurves curves = dfsim::serving_sweep_curves(file);
  CHECK(curves.along == "load.rate");
  CHECK(curves.common == "m");  // the one model; the file has no load lengths
  REQUIRE(curves.curves.size() == 2);
  CHECK(curves.curves[0].label == "dgx-h100");
  CHECK(curves.curves[1].label == "sn40l-8");
  REQUIRE(curves.curves[0].points.size() == 2);
  CHECK(curves.curves[0].points[0].load == "1");
  CHECK(curves.curves[0].points[1].load == "inf");  // point order: b (index 1) after a
  CHECK(curves.curves[0].points[1].output_tokens_per_s == 5000);
  CHECK(curves.curves[1].points[1].ttft_mean_s == 3);
  CHECK(curves.curves[1].points[1].itl_mean_s == 0.025);

  // The table keeps the error row, with its message.
  const std::vector<std::string> table = split_lines(dfsim::serving_sweep_table(file));
  REQUIRE(table.size() == 6);
  CHECK(table[0].rfind("hw        load.rate  req/s", 0) == 0);
  CHECK(table[1].rfind("dgx-h100  1  ", 0) == 0);
  CHECK(table[5] == "sn40l-8   8          error: boom");
  // Not a serving sweep's file.
  CHECK(message_of<dfsim::InputError>([] {
          (void)dfsim::serving_sweep_curves(
              dfsim::parse_sweep_text("point_id,point_index,status,error,hw,time_s\n", "r.csv"));
        }) == "--plot latency: not a serving sweep (no load.rate column)");
}
