// `dfsim calibrate`: a known value of an unpublished field is fitted back from rows simulated
// with it; bad CSV and bad --free keys are one-line errors with exit code 2; --write keeps the
// config file as it was except the fitted field and its FITTED note.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "sim/common/units.h"
#include "sim/engine/calibrate.h"
#include "tests/test_support.h"

using dfsim::testing::message_of;
using dfsim::testing::Outcome;
using dfsim::testing::read_text;
using dfsim::testing::run_dfsim;
using dfsim::testing::split_lines;
using dfsim::testing::TempDir;
using nlohmann::json;

namespace {

const std::string kHeader =
    "hw,model,weight_dtype,phase,batch,prompt,gen,metric,measured,unit,source,notes\n";

// What `dfsim run` reports for a decode on `hw` with `set` overrides.
json run_report(const TempDir& dir, const std::string& model, const std::string& hw, int context,
                int tokens, const std::string& set) {
  Outcome run = run_dfsim(dir, fmt::format("run --model {} --hw {} --context {} --tokens {} "
                                           "--set model.weight_dtype=bf16 {} --format json",
                                           model, hw, context, tokens, set));
  INFO(run.err);
  REQUIRE(run.code == 0);
  return json::parse(run.out);
}

std::string row(const std::string& hw, const std::string& model, int context, int gen,
                const std::string& metric, double measured) {
  return fmt::format("{},{},bf16,decode,1,{},{},{},{:.17g},x,test,\n", hw, model, context, gen,
                     metric, measured);
}

}  // namespace

TEST_CASE("calibrate's --free parses a range with units, a scale and a start", "[calibrate]") {
  using dfsim::parse_free_parameter;
  const dfsim::FreeParameter p = parse_free_parameter("hw.kernel_call.host_sync=0us..200us");
  CHECK(p.key == "hw.kernel_call.host_sync");
  CHECK(p.dimension == dfsim::Dimension::kDuration);
  CHECK(p.bound.lo == 0);
  CHECK(p.bound.hi == Approx(200e-6).epsilon(1e-12));
  CHECK_FALSE(p.bound.log);
  CHECK_FALSE(p.start);
  const dfsim::FreeParameter q =
      parse_free_parameter("hw.link.bandwidth=10GB/s..1TB/s,log,start=50 GB/s");
  CHECK(q.dimension == dfsim::Dimension::kBandwidth);
  CHECK(q.bound.lo == Approx(10e9));
  CHECK(q.bound.hi == Approx(1e12));
  CHECK(q.bound.log);
  CHECK(*q.start == Approx(50e9));

  auto error = [](const std::string& text) {
    return message_of<dfsim::InputError>([&] { parse_free_parameter(text); });
  };
  CHECK(error("hw.kernel_call.host_sync") ==
        "--free hw.kernel_call.host_sync: expected KEY=LO..HI[,lin|log][,start=V], e.g. "
        "hw.kernel_call.host_sync=0us..200us");
  CHECK(error("model.hidden_size=1..2") ==
        "--free model.hidden_size=1..2: the key must be a field of the hardware config, "
        "starting with 'hw.'");
  CHECK(error("hw.x=200us..0us") == "--free hw.x=200us..0us: LO must be below HI");
  CHECK(error("hw.x=0us..200") ==
        "--free hw.x=0us..200: the ends of the range differ in kind (duration and number)");
  CHECK(error("hw.x=0us..2 parsecs") ==
        "--free hw.x=0us..2 parsecs: cannot read '2 parsecs' as a value with a unit, as configs "
        "write them (e.g. 0us..200us)");
  CHECK(error("hw.x=0us..200us,log") == "--free hw.x=0us..200us,log: a log range needs LO above 0");
  CHECK(error("hw.x=1us..200us,start=300us") ==
        "--free hw.x=1us..200us,start=300us: start must lie in the range");
  CHECK(error("hw.x=1us..200us,cubic") ==
        "--free hw.x=1us..200us,cubic: expected lin, log or start=V after the range, got 'cubic'");
}

TEST_CASE("dfsim calibrate fits host_sync back to the 37 us the rows were simulated with",
          "[calibrate]") {
  TempDir dir;
  // Measurements made by the simulator itself at host_sync = 37 us (sn40l's config says 2 us):
  // a fit that works must find 37 us again. Two decode rows of sn40l and one of sn40l-8, which
  // inherits sn40l.yaml, so the field of sn40l.yaml reaches it too; tiny models, few tokens.
  // sn40l's AGCUs orchestrate the calls of a step, so host_sync is paid once per step after the
  // first: llama3.2-1b runs 8 steps for its row to see it (2 steps would move it by under 1 %).
  const std::string set = "--set hw.kernel_call.host_sync=37us";
  const json a = run_report(dir, "tiny-llama", "sn40l", 16, 4, set);
  const json b = run_report(dir, "llama3.2-1b", "sn40l", 64, 8, set);
  const json c = run_report(dir, "llama3.2-1b", "sn40l-8", 64, 2, set);
  // The field matters: 5 us gives another time per token.
  const json a5 =
      run_report(dir, "tiny-llama", "sn40l", 16, 4, "--set hw.kernel_call.host_sync=5us");
  REQUIRE(a5["time_per_step_s"].get<double>() < a["time_per_step_s"].get<double>() * 0.9);
  dir.write("rows.csv", kHeader +
                            row("sn40l", "tiny-llama", 16, 4, "time_per_token_s",
                                a["time_per_step_s"].get<double>()) +
                            row("sn40l", "llama3.2-1b", 64, 8, "tokens_per_second",
                                b["tokens_per_second"].get<double>()) +
                            row("sn40l-8", "llama3.2-1b", 64, 2, "time_per_token_s",
                                c["time_per_step_s"].get<double>()) +
                            // Another config's row is left out of the fit.
                            row("a100-80gb", "tiny-llama", 16, 4, "tokens_per_second", 1000));

  Outcome outcome =
      run_dfsim(dir,
                "calibrate --hw sn40l rows.csv -j 2 --format json --write fitted.yaml "
                "--free hw.kernel_call.host_sync=0us..200us,start=5us");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json report = json::parse(outcome.out);
  CHECK(report["rows_read"] == 4);
  CHECK(report["left_out"] == 1);
  CHECK(report["method"] == "golden-section");
  const json& p = report["parameters"].at(0);
  CHECK(p["key"] == "hw.kernel_call.host_sync");
  CHECK(p["start"].get<double>() == Approx(5e-6).epsilon(1e-9));
  // Within 2 % of 37 us.
  CHECK(p["fitted"].get<double>() == Approx(37e-6).epsilon(0.02));
  // Default budget: 30 evaluations for one free parameter.
  CHECK(report["evaluations"].size() <= 30);
  REQUIRE(report["rows"].size() == 3);
  for (const json& r : report["rows"]) {
    // Before: 5 us instead of 37 us, a visible error; after, next to none.
    CHECK(std::fabs(r["before"]["error"].get<double>()) > 0.01);
    CHECK(std::fabs(r["after"]["error"].get<double>()) < 0.002);
  }
  CHECK(report["rows"][2]["hw"] == "sn40l-8");
  CHECK(report["objective_after"].get<double>() < report["objective_before"].get<double>());

  // --write: sn40l.yaml with host_sync replaced and marked, everything else as it was.
  const std::vector<std::string> original =
      split_lines(read_text(std::string(DFSIM_DATA_DIR) + "/hw_configs/sn40l.yaml"));
  std::vector<std::string> written = split_lines(read_text(dir.file("fitted.yaml")));
  std::size_t value = 0, note = 0;
  for (std::size_t i = 0; i < written.size(); ++i) {
    if (written[i].rfind("  host_sync: ", 0) == 0) value = i;
    if (written[i].rfind("  # FITTED to rows.csv:2,3,4 (dfsim calibrate, ", 0) == 0) note = i;
  }
  REQUIRE(value > note);
  REQUIRE(note > 0);
  const std::optional<double> fitted =
      dfsim::parse_quantity(written[value].substr(13), dfsim::Dimension::kDuration);
  REQUIRE(fitted);
  CHECK(*fitted == Approx(37e-6).epsilon(0.02));
  for (std::size_t i = note; i < value; ++i) {
    CHECK(written[i].rfind("  #", 0) == 0);
    CHECK(written[i].size() <= 100);
  }
  // The note's words, its lines joined.
  const std::string words = [&] {
    std::string all;
    for (std::size_t i = note; i < value; ++i) {
      all += written[i].substr(written[i].find_first_not_of("# ", 2)) + " ";
    }
    return all;
  }();
  CHECK(words.find("searched 0 us..200 us (lin) from 5 us, golden-section in ") !=
        std::string::npos);
  CHECK(words.find("Residuals: rows.csv:2 ") != std::string::npos);
  written.erase(written.begin() + note, written.begin() + value);
  REQUIRE(written.size() == original.size());
  for (std::size_t i = 0; i < original.size(); ++i) {
    if (original[i].rfind("  host_sync: ", 0) == 0) {
      CHECK(written[i].rfind("  host_sync: ", 0) == 0);
    } else {
      CHECK(written[i] == original[i]);
    }
  }
  // The written config is a config.
  Outcome check = run_dfsim(dir, "run --model tiny-llama --hw fitted.yaml --context 4 --tokens 1");
  CHECK(check.code == 0);
}

TEST_CASE("dfsim calibrate rejects bad CSV with file:line:column and exit code 2", "[calibrate]") {
  TempDir dir;
  const std::string free = " --free hw.kernel_call.host_sync=0us..200us";
  dir.write("bad.csv", kHeader + "sn40l,tiny-llama,bf16,decode,1,4,2,time_per_token_s,1,s,t,\n" +
                           "sn40l,tiny-llama,bf16,decode,1,4,zero,time_per_token_s,1,s,t,\n");
  Outcome outcome = run_dfsim(dir, "calibrate --hw sn40l bad.csv" + free);
  CHECK(outcome.code == 2);
  CHECK(outcome.out.empty());
  // "sn40l,tiny-llama,bf16,decode,1,4," is 33 characters: gen starts in column 34.
  CHECK(outcome.err ==
        "dfsim: error: bad.csv:3:34: gen: expected an integer of at least 1, got "
        "'zero'\n");

  dir.write("bad.csv", kHeader +
                           "sn40l;sn40l-8,tiny-llama,bf16,decode,1,4,2,looping_speedup,"
                           "2,x,t,\n");
  outcome = run_dfsim(dir, "calibrate --hw sn40l bad.csv" + free);
  CHECK(outcome.code == 2);
  CHECK(outcome.err ==
        "dfsim: error: bad.csv:2:1: hw: several entries ('sn40l;sn40l-8') need the aggregate "
        "column: max or geomean over every model on every hw listed\n");

  // No row of the hardware at all.
  dir.write("other.csv",
            kHeader + "a100-80gb,tiny-llama,bf16,decode,1,4,2,time_per_token_s,1,s,t,\n");
  outcome = run_dfsim(dir, "calibrate --hw sn40l other.csv" + free);
  CHECK(outcome.code == 2);
  CHECK(outcome.err ==
        "dfsim: error: no row is for sn40l or a config that inherits it (rows read: 1)\n");
}

TEST_CASE("dfsim calibrate: an unknown, non-numeric or mismatched --free key is one line, exit 2",
          "[calibrate]") {
  TempDir dir;
  dir.write("rows.csv", kHeader + "sn40l-8,tiny-llama,bf16,decode,1,4,2,time_per_token_s,1,s,t,\n");
  auto expect = [&](const std::string& free, const std::string& message) {
    Outcome outcome = run_dfsim(dir, "calibrate --hw sn40l rows.csv --free '" + free + "'");
    INFO(free);
    CHECK(outcome.code == 2);
    CHECK(outcome.out.empty());
    CHECK(outcome.err == "dfsim: error: " + message + "\n");
  };
  expect("hw.kernel_call.host_synk=0us..200us",
         "--free hw.kernel_call.host_synk=0us..200us: unknown key: sn40l has no field "
         "kernel_call.host_synk (known there: orchestration, launch_overhead, launch_per_socket, "
         "host_sync, poll_per_socket, program_load, device_launch, barrier_round)");
  expect("hw.no_such_section.x=0us..200us",
         "--free hw.no_such_section.x=0us..200us: unknown key: sn40l has no field "
         "no_such_section.x (known there: name, description, family, clock, sockets, pcu_count, "
         "pmu_count, compute, sram, hbm, ddr, stage_latency, link, kernel_call)");
  expect("hw.family=0..1",
         "--free hw.family=0..1: hw.family is not a numeric field (sn40l has 'dataflow')");
  expect("hw.kernel_call=0us..1us",
         "--free hw.kernel_call=0us..1us: hw.kernel_call of sn40l is a map, not a number to fit");
  expect("hw.kernel_call.host_sync=0..200",
         "--free hw.kernel_call.host_sync=0..200: hw.kernel_call.host_sync is a duration (sn40l "
         "has '2 us'), the range is a number");
  expect("hw.kernel_call.host_sync=200us..0us",
         "--free hw.kernel_call.host_sync=200us..0us: LO must be below HI");
  // The config's own rules hold: host_sync must not be negative.
  Outcome negative =
      run_dfsim(dir, "calibrate --hw sn40l rows.csv --free hw.kernel_call.host_sync=-5us..5us");
  CHECK(negative.code == 2);
  CHECK(negative.err.rfind("dfsim: error: --free hw.kernel_call.host_sync=-5us..5us: sn40l "
                           "rejects hw.kernel_call.host_sync=-5 us: ",
                           0) == 0);
  CHECK(negative.err.find("must not be negative") != std::string::npos);
  // At most three.
  Outcome four = run_dfsim(dir,
                           "calibrate --hw sn40l rows.csv --free hw.a=1..2 --free hw.b=1..2 "
                           "--free hw.c=1..2 --free hw.d=1..2");
  CHECK(four.code == 2);
  CHECK(four.err == "dfsim: error: --free: at most three free parameters\n");
}

TEST_CASE("dfsim calibrate notes a config that sets the free field itself", "[calibrate]") {
  TempDir dir;
  // child.yaml inherits sn40l and writes its own host_sync: the fit overrides it in the rows,
  // but a value written into sn40l.yaml would not reach child.yaml's rows.
  dir.write("child.yaml",
            "inherit: sn40l\nname: child\nkernel_call:\n  launch_overhead: 3 us\n"
            "  host_sync: 9 us\n  program_load: 20 us\n");
  dir.write("rows.csv",
            kHeader + "child.yaml,tiny-llama,bf16,decode,1,4,1,time_per_token_s,1e-4,s,t,\n");
  Outcome outcome = run_dfsim(dir,
                              "calibrate --hw sn40l rows.csv --evaluations 3 --format json "
                              "--free hw.kernel_call.host_sync=1us..100us,log");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json report = json::parse(outcome.out);
  // The start is sn40l's own value, 2 us; the budget of 3 is kept.
  CHECK(report["parameters"][0]["start"].get<double>() == Approx(2e-6).epsilon(1e-12));
  CHECK(report["evaluations"].size() == 3);
  REQUIRE(report["notes"].size() == 1);
  CHECK(report["notes"][0] ==
        "child.yaml sets kernel_call.host_sync itself: the fit applies to its rows, a value "
        "written to sn40l.yaml does not");
}

TEST_CASE("dfsim calibrate fits two fields at once with Nelder-Mead, one on a log range",
          "[calibrate]") {
  TempDir dir;
  // Rows simulated at host_sync = 37 us and HBM at 1.2 TB/s (sn40l.yaml: 2 us, 1.6 TB/s). The
  // two are told apart by the rows: tiny-llama's step is mostly call boundaries, llama3.2-1b's
  // mostly weight streaming.
  const std::string set = "--set hw.kernel_call.host_sync=37us --set hw.hbm.bandwidth=1.2TB/s";
  const json a = run_report(dir, "tiny-llama", "sn40l", 16, 4, set);
  const json b = run_report(dir, "llama3.2-1b", "sn40l", 64, 8, set);
  const json c = run_report(dir, "llama3.2-1b", "sn40l-8", 64, 2, set);
  dir.write("rows.csv", kHeader +
                            row("sn40l", "tiny-llama", 16, 4, "time_per_token_s",
                                a["time_per_step_s"].get<double>()) +
                            row("sn40l", "llama3.2-1b", 64, 8, "tokens_per_second",
                                b["tokens_per_second"].get<double>()) +
                            row("sn40l-8", "llama3.2-1b", 64, 2, "time_per_token_s",
                                c["time_per_step_s"].get<double>()));
  Outcome outcome = run_dfsim(dir,
                              "calibrate --hw sn40l rows.csv -j 2 --format json --objective "
                              "rms-log --free hw.kernel_call.host_sync=0us..200us,start=5us "
                              "--free hw.hbm.bandwidth=0.5TB/s..4TB/s,log");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json report = json::parse(outcome.out);
  CHECK(report["method"] == "nelder-mead");
  CHECK(report["objective"] == "rms-log");
  // Default budget: 30 per free field.
  CHECK(report["evaluations"].size() <= 60);
  CHECK(report["parameters"][0]["fitted"].get<double>() == Approx(37e-6).epsilon(0.02));
  // The start of the second is sn40l's own 1.6 TB/s.
  CHECK(report["parameters"][1]["start"].get<double>() == Approx(1.6e12).epsilon(1e-12));
  CHECK(report["parameters"][1]["fitted"].get<double>() == Approx(1.2e12).epsilon(0.02));
}
