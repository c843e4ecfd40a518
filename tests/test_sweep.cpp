// Sweeps: grid expressions, the point plan and its ids, shards, CSV files, the worker pool
// (crash, timeout, stop), merge; and the real `dfsim sweep` / `dfsim merge` (DFSIM_BINARY),
// whose rows are checked against `dfsim run` and against each other (resume, shards).
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim/common/error.h"
#include "sim/engine/sweep.h"
#include "sim/engine/sweep_merge.h"
#include "sim/engine/sweep_plot.h"
#include "sim/engine/sweep_spec.h"
#include "sim/engine/sweep_table.h"
#include "sim/engine/worker_pool.h"

#include "tests/test_support.h"

namespace fs = std::filesystem;
using dfsim::InputError;
using nlohmann::json;

namespace {

using namespace dfsim::testing;

std::string message_of(const std::function<void()>& action) {
  return dfsim::testing::message_of<InputError>(action);
}

// The rows of a sweep file as column -> value maps.
std::vector<std::map<std::string, std::string>> rows_of(const std::string& path) {
  dfsim::SweepFile file = dfsim::read_sweep_file(path);
  std::vector<std::map<std::string, std::string>> rows;
  for (const dfsim::SweepRow& row : file.rows) {
    std::map<std::string, std::string> entry;
    for (std::size_t c = 0; c < file.columns.size(); ++c) entry[file.columns[c]] = row.values[c];
    rows.push_back(std::move(entry));
  }
  return rows;
}

// A sweep's rows without the one column that depends on the run (wall_s), in point order.
std::vector<std::map<std::string, std::string>> timing_free(const std::string& path) {
  auto rows = rows_of(path);
  for (auto& row : rows) row.erase("wall_s");
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return std::stoul(a.at("point_index")) < std::stoul(b.at("point_index"));
  });
  return rows;
}

std::vector<dfsim::SweepFactor> tiny_factors(const std::vector<std::string>& grids) {
  std::vector<dfsim::SweepFactor> factors{dfsim::parse_name_list("model", "tiny-llama", "--model"),
                                          dfsim::parse_name_list("hw", "h100-sxm", "--hw")};
  for (const std::string& grid : grids) factors.push_back(dfsim::parse_grid(grid));
  return factors;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Grid expressions, plan, ids, shards

TEST_CASE("grid values: lists, arithmetic and geometric ranges, with units", "[sweep]") {
  using dfsim::expand_grid_values;
  using V = std::vector<std::string>;
  CHECK(expand_grid_values("1.6TB/s,2TB/s", "w") == V{"1.6TB/s", "2TB/s"});
  CHECK(expand_grid_values("decode", "w") == V{"decode"});
  CHECK(expand_grid_values("../my-h100.yaml", "w") == V{"../my-h100.yaml"});  // a path, not a range
  CHECK(expand_grid_values("1:4:1", "w") == V{"1", "2", "3", "4"});
  CHECK(expand_grid_values("1:10:4", "w") == V{"1", "5", "9"});
  // lo + i*step, printed to 15 digits: no 0.30000000000000004.
  CHECK(expand_grid_values("0.1:0.5:0.1", "w") == V{"0.1", "0.2", "0.3", "0.4", "0.5"});
  CHECK(expand_grid_values("1TB/s:2TB/s:0.25TB/s", "w") ==
        V{"1TB/s", "1.25TB/s", "1.5TB/s", "1.75TB/s", "2TB/s"});
  CHECK(expand_grid_values("1 TB/s:2 TB/s:0.5", "w") == V{"1TB/s", "1.5TB/s", "2TB/s"});
  CHECK(expand_grid_values("1..256*4", "w") == V{"1", "4", "16", "64", "256"});
  CHECK(expand_grid_values("1..100*2", "w") == V{"1", "2", "4", "8", "16", "32", "64"});
  CHECK(expand_grid_values("1GB/s..8GB/s*2", "w") == V{"1GB/s", "2GB/s", "4GB/s", "8GB/s"});
  CHECK(expand_grid_values("0.5..2*2", "w") == V{"0.5", "1", "2"});
}

TEST_CASE("grid values: malformed ranges are one-line errors naming the grid", "[sweep]") {
  auto error = [](const std::string& spec) {
    return message_of([&] { dfsim::expand_grid_values(spec, "--grid k=" + spec); });
  };
  CHECK(error("1:x:2") == "--grid k=1:x:2: 'x' is not a number");
  CHECK(error("1:2") == "--grid k=1:2: expected lo:hi:step");
  CHECK(error("1:2:3:4") == "--grid k=1:2:3:4: expected lo:hi:step");
  CHECK(error("4:1:1") == "--grid k=4:1:1: hi is below lo");
  CHECK(error("1:4:0") == "--grid k=1:4:0: step must be positive");
  CHECK(error("1TB/s:2GB/s:1") ==
        "--grid k=1TB/s:2GB/s:1: lo, hi and step must have the same unit ('TB/s', 'GB/s', '')");
  CHECK(error("1,,2") == "--grid k=1,,2: empty value at position 2");
  CHECK(error("") == "--grid k=: no values");
  CHECK(error("0..8*2") == "--grid k=0..8*2: lo must be positive");
  CHECK(error("1..8*1") == "--grid k=1..8*1: factor must be greater than 1");
  CHECK(error("1..8") == "--grid k=1..8: expected lo..hi*factor");
  CHECK(error("1:100000000:1") == "--grid k=1:100000000:1: more than 1000000 values");
}

TEST_CASE("grid keys and phase values are checked when parsed", "[sweep]") {
  CHECK(message_of([] { dfsim::parse_grid("phase.batch=1:x:2"); }) ==
        "--grid phase.batch=1:x:2: 'x' is not a number");
  CHECK(message_of([] { dfsim::parse_grid("phase.foo=1"); }) ==
        "--grid phase.foo=1: unknown key 'phase.foo' (expected hw.<config path>, "
        "model.<config path>, phase.kind, phase.batch, phase.context, phase.tokens, looping, "
        "model or hw; a serving sweep: load.* and serving.* keys)");
  CHECK(message_of([] { dfsim::parse_grid("phase.batch=0,1"); }) ==
        "--grid phase.batch=0,1: phase.batch: expected an integer >= 1, got '0'");
  CHECK(message_of([] { dfsim::parse_grid("phase.batch=1.5"); }) ==
        "--grid phase.batch=1.5: phase.batch: expected an integer >= 1, got '1.5'");
  CHECK(message_of([] { dfsim::parse_grid("phase.context=-1"); }) ==
        "--grid phase.context=-1: phase.context: expected an integer >= 0, got '-1'");
  CHECK(message_of([] { dfsim::parse_grid("phase.kind=train"); }) ==
        "--grid phase.kind=train: phase.kind: expected decode or prefill, got 'train'");
  CHECK(message_of([] { dfsim::parse_grid("looping=maybe"); }) ==
        "--grid looping=maybe: looping: expected off, on or auto, got 'maybe'");
  CHECK(message_of([] { dfsim::parse_grid("=1"); }) ==
        "--grid =1: expected key=value, e.g. phase.batch=1,2,4");
  CHECK(message_of([] { dfsim::parse_fixed("hw.hbm.bandwidth="); }) ==
        "--set hw.hbm.bandwidth=: empty value");
  // --set does not split at commas: a value is a value.
  CHECK(dfsim::parse_fixed("model.name=a,b").alternatives ==
        std::vector<std::vector<dfsim::SweepAssignment>>{{{"model.name", "a,b"}}});
}

TEST_CASE("the plan is the cartesian product, last grid fastest, defaults filled in", "[sweep]") {
  dfsim::SweepPlan plan =
      dfsim::build_sweep_plan(tiny_factors({"phase.batch=1,2,3", "looping=off,on"}));
  REQUIRE(plan.points.size() == 6);
  const std::vector<std::pair<std::int64_t, std::string>> expected{
      {1, "off"}, {1, "on"}, {2, "off"}, {2, "on"}, {3, "off"}, {3, "on"}};
  for (std::size_t i = 0; i < plan.points.size(); ++i) {
    const dfsim::SweepPoint& point = plan.points[i];
    CHECK(point.index == i);
    CHECK(point.batch == expected[i].first);
    CHECK(std::string(dfsim::looping_mode_name(point.looping)) == expected[i].second);
    CHECK(point.model == "tiny-llama");
    CHECK(point.hw == "h100-sxm");
    CHECK(point.phase_kind == dfsim::PhaseKind::kDecode);
    CHECK(point.context == 128);  // dfsim run's decode default
    CHECK(point.tokens == 128);
  }
  CHECK(plan.override_keys.empty());
  // Prefill's default prompt is 512 tokens, as in dfsim run.
  dfsim::SweepPlan prefill = dfsim::build_sweep_plan(tiny_factors({"phase.kind=prefill"}));
  CHECK(prefill.points.at(0).context == 512);
  CHECK(dfsim::point_input_values(prefill.points.at(0), {}) ==
        std::vector<std::string>{"tiny-llama", "h100-sxm", "prefill", "1", "512", "128", "off"});
}

TEST_CASE("point ids are stable, unique, and do not depend on the grid order", "[sweep]") {
  dfsim::SweepPlan a = dfsim::build_sweep_plan(
      tiny_factors({"phase.batch=1,2", "phase.tokens=2", "looping=off,on"}));
  dfsim::SweepPlan b = dfsim::build_sweep_plan(
      tiny_factors({"looping=on,off", "phase.tokens=2", "phase.batch=2,1"}));
  std::set<std::string> ids_a, ids_b;
  for (const auto& point : a.points) ids_a.insert(point.id);
  for (const auto& point : b.points) ids_b.insert(point.id);
  CHECK(ids_a.size() == 4);
  CHECK(ids_a == ids_b);
  // Pinned: ids written into result files must never change between versions, or --resume and
  // merge would no longer recognize old rows. (FNV-1a 64 of the resolved inputs.)
  CHECK(a.points.at(0).id == "9463d3f0db606ea4");
  for (const auto& point : a.points) {
    CHECK(point.id.size() == 16);
    CHECK(point.id.find_first_not_of("0123456789abcdef") == std::string::npos);
  }
  // A default given explicitly is the same point.
  dfsim::SweepPlan c =
      dfsim::build_sweep_plan(tiny_factors({"phase.tokens=2", "phase.context=128", "looping=off"}));
  CHECK(c.points.at(0).id == "9463d3f0db606ea4");
}

TEST_CASE("a key given twice, or a point without a model, is an error", "[sweep]") {
  CHECK(message_of([] {
          dfsim::build_sweep_plan(tiny_factors({"phase.batch=1,2", "phase.batch=3"}));
        }) == "--grid phase.batch=3: key 'phase.batch' is also given by --grid phase.batch=1,2");
  CHECK(message_of([] {
          dfsim::build_sweep_plan({dfsim::parse_name_list("hw", "h100-sxm", "--hw")});
        }) == "point 0 has no model (give --model, or a 'model' column in --points)");
  CHECK(message_of([] {
          dfsim::build_sweep_plan(tiny_factors({"phase.batch=1:4000:1", "phase.tokens=1:4000:1"}),
                                  1'000'000);
        }) == "the sweep has more than 1000000 points");
}

TEST_CASE("override values are validated against every config before the sweep", "[sweep]") {
  auto check = [](const std::vector<std::string>& grids) {
    return message_of([&] {
      std::vector<dfsim::SweepFactor> factors{
          dfsim::parse_name_list("model", "tiny-llama", "--model"),
          dfsim::parse_name_list("hw", "sn40l", "--hw")};
      for (const std::string& grid : grids) factors.push_back(dfsim::parse_grid(grid));
      dfsim::check_sweep_overrides(factors, dfsim::build_sweep_plan(factors));
    });
  };
  CHECK(check({"hw.hbm.bandwidth=1.6TB/s,2TB/s"}) == "(no error)");
  CHECK(check({"hw.hbm.bandwidth=fast,2TB/s"}) ==
        "--grid hw.hbm.bandwidth=fast,2TB/s: hw.hbm.bandwidth=fast on sn40l: hbm.bandwidth: "
        "expected a bandwidth like '3.35 TB/s', got 'fast'");
  CHECK(check({"hw.hbm.bandwith=1TB/s"}) ==
        "--grid hw.hbm.bandwith=1TB/s: hw.hbm.bandwith=1TB/s on sn40l: hbm.bandwith: unknown key "
        "(known here: achievable_fraction, bandwidth, capacity, latency)");
  CHECK(check({"model.weight_dtype=fp5"})
            .rfind("--grid model.weight_dtype=fp5: model.weight_dtype=fp5 on tiny-llama: ", 0) ==
        0);
  CHECK(message_of([] {
          std::vector<dfsim::SweepFactor> factors{
              dfsim::parse_name_list("model", "tiny-llama", "--model"),
              dfsim::parse_name_list("hw", "sn40l,nope", "--hw")};
          dfsim::check_sweep_overrides(factors, dfsim::build_sweep_plan(factors));
        }).rfind("hw 'nope': unknown hardware 'nope' (known: ", 0) == 0);
}

TEST_CASE("shards: K of N, counted from 0, cover every point once", "[sweep]") {
  dfsim::Shard shard = dfsim::parse_shard("1/3");
  std::vector<std::size_t> mine;
  for (std::size_t i = 0; i < 10; ++i) {
    if (shard.contains(i)) mine.push_back(i);
  }
  CHECK(mine == std::vector<std::size_t>{1, 4, 7});
  std::vector<int> covered(10, 0);
  for (std::size_t k = 0; k < 3; ++k) {
    dfsim::Shard s = dfsim::parse_shard(std::to_string(k) + "/3");
    for (std::size_t i = 0; i < 10; ++i) covered[i] += s.contains(i) ? 1 : 0;
  }
  CHECK(covered == std::vector<int>(10, 1));
  CHECK(message_of([] { dfsim::parse_shard("2/2"); }) ==
        "--shard 2/2: K counts from 0 and must be below N (SLURM_ARRAY_TASK_ID of --array=0-1)");
  CHECK(message_of([] { dfsim::parse_shard("1/0"); }) == "--shard 1/0: N must be at least 1");
  CHECK(message_of([] { dfsim::parse_shard("a/2"); }) ==
        "--shard a/2: expected K/N with integers, e.g. 0/4");
  CHECK(message_of([] { dfsim::parse_shard("3"); }) == "--shard 3: expected K/N, e.g. 0/4");
}

// ---------------------------------------------------------------------------------------------
// Points tables and CSV

TEST_CASE("a --points table: header of keys, one point per row, empty cells keep defaults",
          "[sweep]") {
  dfsim::SweepFactor points = dfsim::parse_points_csv(
      "# comment\nhw,hw.sockets,phase.batch\nsn40l,1,2\n\nsn40l-8,,\"4\"\r\n", "p.csv");
  REQUIRE(points.alternatives.size() == 2);
  using A = std::vector<dfsim::SweepAssignment>;
  CHECK(points.alternatives[0] == A{{"hw", "sn40l"}, {"hw.sockets", "1"}, {"phase.batch", "2"}});
  CHECK(points.alternatives[1] == A{{"hw", "sn40l-8"}, {"phase.batch", "4"}});
  CHECK(points.origins[1].str() == "p.csv:5:1");
  dfsim::SweepPlan plan =
      dfsim::build_sweep_plan({dfsim::parse_name_list("model", "tiny-llama", "--model"), points});
  REQUIRE(plan.points.size() == 2);
  CHECK(plan.override_keys == std::vector<std::string>{"hw.sockets"});
  CHECK(dfsim::point_input_values(plan.points[1], plan.override_keys) ==
        std::vector<std::string>{"tiny-llama", "sn40l-8", "decode", "4", "128", "128", "off", ""});
}

TEST_CASE("a --points table: errors name file, line, column and key", "[sweep]") {
  auto error = [](const std::string& text) {
    return message_of([&] {
      dfsim::SweepFactor points = dfsim::parse_points_csv(text, "p.csv");
      std::vector<dfsim::SweepFactor> factors{
          dfsim::parse_name_list("model", "tiny-llama", "--model"), points};
      dfsim::check_sweep_overrides(factors, dfsim::build_sweep_plan(factors));
    });
  };
  CHECK(error("hw,hw.sockets,phase.batch\nsn40l,1,2\nsn40l,x,4\n") ==
        "p.csv:3:7: column 'hw.sockets': hw.sockets=x on sn40l: sockets: expected an integer, got "
        "'x'");
  CHECK(error("hw,hw.sockets,phase.batch\nsn40l,1,0\n") ==
        "p.csv:2:9: column 'phase.batch': phase.batch: expected an integer >= 1, got '0'");
  CHECK(error("hw,foo\n") ==
        "p.csv:1:4: unknown key 'foo' (expected hw.<config path>, model.<config path>, "
        "phase.kind, phase.batch, phase.context, phase.tokens, looping, model or hw; a serving "
        "sweep: load.* and serving.* keys)");
  CHECK(error("hw,hw\nsn40l,sn40l\n") == "p.csv:1:4: column 'hw' appears twice");
  CHECK(error("hw,phase.batch\nsn40l\n") == "p.csv:2:1: expected 2 values (one per column), got 1");
  CHECK(error("hw,phase.batch\nsn40l,\"4\n") == "p.csv:2:7: unterminated quoted field");
  CHECK(error("hw,phase.batch\nsn40l,\"4\"x\n") == "p.csv:2:10: text after a closing quote");
  CHECK(error("hw,phase.batch\n") == "p.csv: no points");
  CHECK(error("") == "p.csv: no header line");
}

TEST_CASE("CSV fields round-trip through quoting", "[sweep]") {
  const std::vector<std::string> values{"plain", "a,b", "say \"hi\"", "", " lead", "x\ny"};
  std::string line;
  for (const std::string& value : values) {
    if (!line.empty()) line += ',';
    line += dfsim::csv_field(value);
  }
  CHECK(line == "plain,\"a,b\",\"say \"\"hi\"\"\",,\" lead\",x y");
  std::vector<dfsim::CsvField> fields = dfsim::split_csv_line(line, {"t.csv", 1, 1});
  REQUIRE(fields.size() == values.size());
  CHECK(fields[1].text == "a,b");
  CHECK(fields[2].text == "say \"hi\"");
  CHECK(fields[3].text.empty());
  CHECK(fields[4].text == " lead");
  CHECK(fields[5].text == "x y");  // a row stays one line
  CHECK(fields[1].column == 7);
  CHECK(dfsim::split_csv_line("a,", {"t", 1, 1}).size() == 2);
}

TEST_CASE("a sweep file with a partial last line: the line is not a row", "[sweep]") {
  TempDir dir;
  write_text(dir.path() / "s.csv", "point_id,x\na,1\nb,2\nc,");
  dfsim::SweepFile file = dfsim::read_sweep_file(dir.file("s.csv"));
  CHECK(file.columns == std::vector<std::string>{"point_id", "x"});
  REQUIRE(file.rows.size() == 2);
  CHECK(file.rows[1].values == std::vector<std::string>{"b", "2"});
  CHECK(file.partial_tail);
  CHECK(file.complete_bytes == std::string("point_id,x\na,1\nb,2\n").size());
  write_text(dir.path() / "s.jsonl", "{\"point_id\":\"a\",\"x\":1.5,\"e\":null}\n{\"x\":1}\n");
  CHECK(message_of([&] { dfsim::read_sweep_file(dir.file("s.jsonl")); }) ==
        dir.file("s.jsonl") + ":2:1: its keys differ from the first row's");
}

// ---------------------------------------------------------------------------------------------
// Worker pool

TEST_CASE("worker pool: every job runs in a child and reports back", "[sweep]") {
  std::map<std::size_t, dfsim::WorkerOutcome> outcomes;
  std::size_t done = dfsim::run_in_workers(
      5, {2, 0, nullptr},
      [](std::size_t job) {
        return "job " + std::to_string(job) + " in " + std::to_string(::getpid());
      },
      [&](std::size_t job, const dfsim::WorkerOutcome& outcome) { outcomes[job] = outcome; });
  CHECK(done == 5);
  REQUIRE(outcomes.size() == 5);
  for (auto& [job, outcome] : outcomes) {
    CHECK(outcome.kind == dfsim::WorkerOutcome::Kind::kExited);
    CHECK(outcome.exit_code == 0);
    CHECK(outcome.output.rfind("job " + std::to_string(job) + " in ", 0) == 0);
    CHECK(outcome.output != "job " + std::to_string(job) + " in " + std::to_string(::getpid()));
  }
}

TEST_CASE("worker pool: a crash, an exception and a hang stay in their child", "[sweep]") {
  std::map<std::size_t, dfsim::WorkerOutcome> outcomes;
  const auto begin = std::chrono::steady_clock::now();
  dfsim::run_in_workers(
      4, {2, 0.3, nullptr},
      [](std::size_t job) -> std::string {
        if (job == 1) {
          std::signal(SIGSEGV, SIG_DFL);  // Catch2's handler would report it as a test failure
          std::fputs("about to crash\n", stderr);
          std::raise(SIGSEGV);
        }
        if (job == 2) throw std::runtime_error("bad point");
        if (job == 3) std::this_thread::sleep_for(std::chrono::seconds(20));
        return "fine";
      },
      [&](std::size_t job, const dfsim::WorkerOutcome& outcome) { outcomes[job] = outcome; });
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  REQUIRE(outcomes.size() == 4);
  CHECK(outcomes[0].output == "fine");
  CHECK(outcomes[1].kind == dfsim::WorkerOutcome::Kind::kSignaled);
  CHECK(outcomes[1].signal == SIGSEGV);
  CHECK(outcomes[1].error_tail == "about to crash\n");
  CHECK(outcomes[2].kind == dfsim::WorkerOutcome::Kind::kExited);
  CHECK(outcomes[2].exit_code == 3);
  CHECK(outcomes[2].error_tail == "bad point\n");
  CHECK(outcomes[3].kind == dfsim::WorkerOutcome::Kind::kTimedOut);
  CHECK(outcomes[3].wall_s >= 0.3);
  CHECK(wall < 5);  // the 20 s sleeper was killed
}

TEST_CASE("worker pool: runs N at a time", "[sweep]") {
  auto timed = [](int workers) {
    const auto begin = std::chrono::steady_clock::now();
    dfsim::run_in_workers(
        4, {workers, 0, nullptr},
        [](std::size_t) {
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          return std::string();
        },
        [](std::size_t, const dfsim::WorkerOutcome&) {});
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  };
  const double two = timed(2);  // two rounds of 0.3 s
  CHECK(two >= 0.6);
  CHECK(two < 1.2);
  const double one = timed(1);  // four rounds
  CHECK(one >= 1.2);
}

TEST_CASE("worker pool: a stop request kills the running children and launches no more",
          "[sweep]") {
  volatile std::sig_atomic_t stop = 0;
  std::vector<std::size_t> finished;
  std::size_t done = dfsim::run_in_workers(
      8, {2, 0, &stop},
      [](std::size_t job) {
        std::this_thread::sleep_for(std::chrono::milliseconds(job == 0 ? 50 : 5000));
        return std::string("done");
      },
      [&](std::size_t job, const dfsim::WorkerOutcome&) {
        finished.push_back(job);
        stop = 1;  // as the SIGINT handler does
      });
  CHECK(done == 1);
  CHECK(finished == std::vector<std::size_t>{0});
  // Every child was reaped: none is left to wait for.
  errno = 0;
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

// ---------------------------------------------------------------------------------------------
// Merge

TEST_CASE("merge: joins shards in point order, reports missing and duplicate points", "[sweep]") {
  TempDir dir;
  const std::string header = "point_id,point_index,points_total,status,error,x,wall_s\n";
  write_text(dir.path() / "a.csv", header + "p2,2,5,ok,,20,0.5\np0,0,5,ok,,0,0.1\n");
  write_text(dir.path() / "b.csv",
             header + "p1,1,5,error,\"timeout: killed, late\",,0.9\np2,2,5,ok,,20,0.7\n");
  dfsim::MergeResult result = dfsim::merge_sweep_files({dir.file("a.csv"), dir.file("b.csv")},
                                                       dfsim::SweepFileFormat::kCsv);
  CHECK(result.text == header +
                           "p0,0,5,ok,,0,0.1\np1,1,5,error,\"timeout: killed, late\",,0.9\n"
                           "p2,2,5,ok,,20,0.5\n");
  CHECK(result.rows == 3);
  CHECK(result.error_rows == 1);
  CHECK(result.points_total == 5);
  CHECK(result.missing == std::vector<std::size_t>{3, 4});
  CHECK(result.duplicates == std::vector<std::string>{"p2"});  // equal but for wall_s
  CHECK(result.conflicts.empty());

  // Differing rows of one point: the ok one wins.
  write_text(dir.path() / "c.csv", header + "p1,1,5,ok,,10,0.2\n");
  result = dfsim::merge_sweep_files({dir.file("b.csv"), dir.file("c.csv")},
                                    dfsim::SweepFileFormat::kCsv);
  CHECK(result.conflicts == std::vector<std::string>{"p1"});
  CHECK(result.text.find("p1,1,5,ok,,10,0.2\n") != std::string::npos);
  CHECK(result.text.find("timeout") == std::string::npos);

  write_text(dir.path() / "d.csv", header + "q0,0,7,ok,,0,0.1\n");
  CHECK(message_of([&] {
          dfsim::merge_sweep_files({dir.file("a.csv"), dir.file("d.csv")},
                                   dfsim::SweepFileFormat::kCsv);
        }) == dir.file("d.csv") + ":2: points_total 7, but " + dir.file("a.csv") +
                  ":2 says 5: the files come from different sweeps");
  write_text(dir.path() / "e.csv", "point_id,point_index,points_total,status,error,y,wall_s\n");
  CHECK(message_of([&] {
          dfsim::merge_sweep_files({dir.file("a.csv"), dir.file("e.csv")},
                                   dfsim::SweepFileFormat::kCsv);
        }) == dir.file("e.csv") + ": its columns differ from " + dir.file("a.csv") +
                  "'s; the files come from different sweeps");
  CHECK(dfsim::format_index_ranges({1, 3, 4, 5, 9}) == "1, 3-5, 9");
  CHECK(dfsim::format_index_ranges({1, 3, 5, 7}, 2) == "1, 3, ... and 2 more");
}

// ---------------------------------------------------------------------------------------------
// The dfsim binary

TEST_CASE("dfsim sweep: one row per point, the same numbers as dfsim run", "[sweep]") {
  TempDir dir;
  Outcome sweep = run_dfsim(dir,
                            "sweep --model tiny-llama --hw h100-sxm --grid phase.batch=1,2 "
                            "--grid looping=off,on --set phase.tokens=2 -j 2 -o out.csv");
  INFO(sweep.err);
  REQUIRE(sweep.code == 0);
  CHECK(sweep.out.empty());
  // Not a terminal: no progress line, only the summary.
  std::vector<std::string> err = split_lines(sweep.err);
  REQUIRE(err.size() == 1);
  CHECK(err[0].rfind("dfsim sweep: 4 of 4 points: 4 ok, 0 errors, 0 already in out.csv; ", 0) == 0);

  auto rows = timing_free(dir.file("out.csv"));
  REQUIRE(rows.size() == 4);
  const std::vector<std::string> columns = dfsim::read_sweep_file(dir.file("out.csv")).columns;
  CHECK(std::vector<std::string>(columns.begin(), columns.begin() + 12) ==
        std::vector<std::string>{"point_id", "point_index", "points_total", "status", "error",
                                 "model", "hw", "phase.kind", "phase.batch", "phase.context",
                                 "phase.tokens", "looping"});
  CHECK(columns.back() == "wall_s");
  for (const auto& row : rows) {
    CHECK(row.at("status") == "ok");
    CHECK(row.at("error").empty());
    CHECK(row.at("points_total") == "4");
    CHECK(row.at("phase.tokens") == "2");
  }
  CHECK(rows[3].at("phase.batch") == "2");
  CHECK(rows[3].at("looping") == "on");
  // Every op of a decode step scales with the batch: twice the sequences, twice the FLOPs.
  CHECK(std::stod(rows[2].at("flops")) == 2 * std::stod(rows[0].at("flops")));
  // The same point through dfsim run: identical numbers (JSON doubles round-trip).
  Outcome run = run_dfsim(dir,
                          "run --model tiny-llama --hw h100-sxm --batch 2 --tokens 2 --looping on "
                          "--format json");
  REQUIRE(run.code == 0);
  json report = json::parse(run.out);
  for (const char* metric :
       {"time_s", "flops", "dram_bytes", "sync_overhead_s", "tokens_per_second"}) {
    INFO(metric);
    CHECK(std::stod(rows[3].at(metric)) == report[metric].get<double>());
  }
  CHECK(std::stoll(rows[3].at("kernel_launches")) == report["kernel_launches"].get<long long>());

  // The output exists: a second run must not clobber it silently.
  Outcome again = run_dfsim(dir, "sweep --model tiny-llama --hw h100-sxm -o out.csv");
  CHECK(again.code == 2);
  CHECK(again.err ==
        "dfsim: error: --out out.csv: the file exists (--resume continues it, --overwrite replaces "
        "it)\n");
}

TEST_CASE("dfsim sweep: a failing point is an error row and the sweep goes on", "[sweep]") {
  TempDir dir;
  // tiny-llama needs 246.7 kB per socket: 1 KiB of HBM and DDR cannot hold it.
  Outcome sweep = run_dfsim(dir,
                            "sweep --model tiny-llama --hw sn40l --grid hw.hbm.capacity=64GiB,1KiB "
                            "--set hw.ddr.capacity=1KiB --set phase.tokens=2 -o out.jsonl");
  INFO(sweep.err);
  REQUIRE(sweep.code == 0);
  std::vector<std::string> lines = split_lines(read_text(dir.path() / "out.jsonl"));
  REQUIRE(lines.size() == 2);
  std::map<std::string, json> by_hbm;
  for (const std::string& line : lines) {
    json row = json::parse(line);
    by_hbm[row["hw.hbm.capacity"].get<std::string>()] = row;
  }
  CHECK(by_hbm["64GiB"]["status"] == "ok");
  CHECK(by_hbm["64GiB"]["time_s"].is_number());
  CHECK(by_hbm["64GiB"]["phase.batch"] == 1);  // JSON lines keep numbers as numbers
  CHECK(by_hbm["1KiB"]["status"] == "error");
  CHECK(by_hbm["1KiB"]["error"] ==
        "the model needs 246.7 kB per socket (weights and KV cache), the hardware has 1.024 kB "
        "HBM + 1.024 kB DDR; use more sockets or a smaller dtype");
  CHECK(by_hbm["1KiB"]["time_s"].is_null());
}

TEST_CASE("dfsim sweep: bad grids are exit 2 with one line", "[sweep]") {
  TempDir dir;
  Outcome bad =
      run_dfsim(dir, "sweep --model tiny-llama --hw sn40l --grid phase.batch=1:x:2 -o o.csv");
  CHECK(bad.code == 2);
  CHECK(bad.err == "dfsim: error: --grid phase.batch=1:x:2: 'x' is not a number\n");
  CHECK_FALSE(fs::exists(dir.path() / "o.csv"));
  write_text(dir.path() / "points.csv", "hw,hw.sockets\nsn40l,1\nsn40l,two\n");
  bad = run_dfsim(dir, "sweep --model tiny-llama --points points.csv -o o.csv");
  CHECK(bad.code == 2);
  CHECK(bad.err ==
        "dfsim: error: points.csv:3:7: column 'hw.sockets': hw.sockets=two on sn40l: sockets: "
        "expected an integer, got 'two'\n");
  bad = run_dfsim(dir, "sweep --model tiny-llama --hw sn40l -o o.txt");
  CHECK(bad.code == 2);
  CHECK(bad.err == "dfsim: error: --out o.txt: expected a .csv or .jsonl file\n");
}

TEST_CASE("dfsim sweep: --point-timeout kills a slow point and records it", "[sweep]") {
  TempDir dir;
  Outcome sweep = run_dfsim(dir,
                            "sweep --model llama3.1-8b --hw sn40l --set phase.tokens=128 "
                            "--point-timeout 0.05 -o out.csv");
  INFO(sweep.err);
  REQUIRE(sweep.code == 0);
  auto rows = rows_of(dir.file("out.csv"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("status") == "error");
  CHECK(rows[0].at("error") == "timeout: killed after --point-timeout 0.05 s");
}

TEST_CASE("dfsim sweep: Ctrl-C keeps finished rows whole, --resume finishes the rest", "[sweep]") {
  TempDir dir;
  const std::string args =
      "sweep --model llama3.1-8b --hw sn40l --set phase.tokens=128 --grid phase.batch=1:16:1 "
      "-j 2 -o out.csv";
  // Interrupted as soon as the first row is on disk, whatever the machine's speed.
  const std::string command =
      "cd '" + dir.path().string() + "' && ('" DFSIM_BINARY "' " + args +
      " 2>err.txt & pid=$!; for i in $(seq 1000); do [ -f out.csv ] && "
      "[ $(wc -l < out.csv) -ge 2 ] && break; sleep 0.01; done; kill -INT $pid; wait $pid; "
      "echo $? > rc.txt)";
  REQUIRE(std::system(command.c_str()) == 0);
  CHECK(read_text(dir.path() / "rc.txt") == "130\n");
  CHECK(read_text(dir.path() / "err.txt").find("interrupted, finished rows kept") !=
        std::string::npos);
  const std::string text = read_text(dir.path() / "out.csv");
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');  // no half row
  const std::size_t interrupted_rows = rows_of(dir.file("out.csv")).size();
  CHECK(interrupted_rows >= 1);
  CHECK(interrupted_rows < 16);

  // A writer killed in the middle of a row would leave a partial line; --resume drops it.
  {
    std::ofstream file(dir.path() / "out.csv", std::ios::app);
    file << "deadbeef,3,16,ok";
  }
  Outcome resumed = run_dfsim(dir, args + " --resume");
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(resumed.err.find("warning: out.csv ended in a partial row") != std::string::npos);
  CHECK(resumed.err.find(std::to_string(interrupted_rows) + " already in out.csv") !=
        std::string::npos);
  auto rows = rows_of(dir.file("out.csv"));
  CHECK(rows.size() == 16);
  std::set<std::string> ids;
  for (const auto& row : rows) ids.insert(row.at("point_id"));
  CHECK(ids.size() == 16);
  // Nothing left: a second resume runs no point.
  Outcome nothing = run_dfsim(dir, args + " --resume");
  CHECK(nothing.err.find("16 of 16 points: 0 ok, 0 errors, 16 already in out.csv") !=
        std::string::npos);
}

TEST_CASE("dfsim sweep --shard and dfsim merge: two shards equal the unsharded sweep", "[sweep]") {
  TempDir dir;
  const std::string args =
      "sweep --model tiny-llama --hw h100-sxm,sn40l --grid phase.batch=1..8*2 "
      "--grid looping=off,on --set phase.tokens=2";
  REQUIRE(run_dfsim(dir, args + " -o all.csv").code == 0);
  Outcome shard0 = run_dfsim(dir, args + " --shard 0/2 -o s0.csv");
  REQUIRE(shard0.code == 0);
  CHECK(shard0.err.rfind("dfsim sweep: 8 of 8 points (shard 0/2): 8 ok", 0) == 0);
  REQUIRE(run_dfsim(dir, args + " --shard 1/2 -o s1.csv").code == 0);
  for (const auto& row : rows_of(dir.file("s0.csv"))) {
    CHECK(std::stoul(row.at("point_index")) % 2 == 0);
  }

  Outcome missing = run_dfsim(dir, "merge s0.csv -o part.csv");
  CHECK(missing.code == 1);
  CHECK(split_lines(missing.err) ==
        std::vector<std::string>{
            "dfsim merge: 8 of 16 points from 1 files -> part.csv (0 with status error)",
            "dfsim merge: 8 of 16 points missing: point_index 1, 3, 5, 7, 9, 11, 13, 15"});

  Outcome merged = run_dfsim(dir, "merge s1.csv s0.csv -o merged.csv");
  INFO(merged.err);
  CHECK(merged.code == 0);
  CHECK(merged.err ==
        "dfsim merge: 16 of 16 points from 2 files -> merged.csv (0 with status error)\n");
  CHECK(timing_free(dir.file("merged.csv")) == timing_free(dir.file("all.csv")));
  // merge writes point order.
  auto rows = rows_of(dir.file("merged.csv"));
  for (std::size_t i = 0; i < rows.size(); ++i)
    CHECK(rows[i].at("point_index") == std::to_string(i));

  Outcome duplicate = run_dfsim(dir, "merge s0.csv s1.csv s0.csv -o merged.csv");
  CHECK(duplicate.code == 0);
  CHECK(duplicate.err.find("dfsim merge: 8 duplicate rows (same point, same values; kept one)") !=
        std::string::npos);
  Outcome mixed = run_dfsim(dir, "merge s0.csv s1.csv -o merged.jsonl");
  CHECK(mixed.code == 2);
}

TEST_CASE("dfsim sweep --plot writes the image, its data and its gnuplot script", "[sweep]") {
  TempDir dir;
  Outcome sweep = run_dfsim(dir,
                            "sweep --model tiny-llama --hw h100-sxm --grid phase.batch=1,2,4 "
                            "--grid looping=off,on --set phase.tokens=2 -o out.csv "
                            "--plot x=phase.batch,y=flops,series=looping --svg plot.svg");
  INFO(sweep.err);
  REQUIRE(sweep.code == 0);
  CHECK(read_text(dir.path() / "plot.svg").find("<svg") != std::string::npos);
  const std::string script = read_text(dir.path() / "plot.gp");
  CHECK(script.find("set output 'plot.svg'") != std::string::npos);
  CHECK(script.find("'plot.dat' index 0") != std::string::npos);
  // Two curves (looping off, on), each flops over batch 1, 2, 4: FLOPs scale with the batch.
  std::vector<std::string> data = split_lines(read_text(dir.path() / "plot.dat"));
  REQUIRE(data.size() >= 10);
  CHECK(data[0] == "# looping=off");
  const auto rows = timing_free(dir.file("out.csv"));
  const double flops1 = std::stod(rows[0].at("flops"));
  CHECK(data[1] == "1 " + fmt::format("{:.17g}", flops1));
  CHECK(data[2] == "2 " + fmt::format("{:.17g}", 2 * flops1));
  CHECK(data[3] == "4 " + fmt::format("{:.17g}", 4 * flops1));
  CHECK(data[6] == "# looping=on");

  // A metric that is not a column.
  Outcome bad = run_dfsim(dir,
                          "sweep --model tiny-llama --hw h100-sxm --grid phase.batch=1,2,4 "
                          "--grid looping=off,on --set phase.tokens=2 -o out.csv --resume "
                          "--plot x=phase.batch,y=speed --svg plot.svg");
  CHECK(bad.code == 2);
  CHECK(bad.err.rfind("dfsim: error: --plot x=phase.batch,y=speed: no column 'speed' in the sweep",
                      0) == 0);
}
