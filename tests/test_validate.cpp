// `dfsim validate` on calibration CSVs the tests write: each row's simulated value is the one
// `dfsim run` reports for the same settings, errors and the per-file median and maximum follow
// from the measured values chosen, missing hardware is reported, bad CSV is rejected.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "sim/common/error.h"
#include "sim/engine/serving_row.h"
#include "tests/test_support.h"

using dfsim::testing::Outcome;
using dfsim::testing::run_dfsim;
using dfsim::testing::TempDir;
using nlohmann::json;

namespace {

const std::string kHeader =
    "hw,model,weight_dtype,phase,batch,prompt,gen,metric,measured,unit,"
    "source,notes\n";
const std::string kServingHeader =
    "hw,model,weight_dtype,kv_dtype,tp,requests,isl,osl,rate,metric,measured,unit,source,"
    "notes\n";

}  // namespace

TEST_CASE("dfsim validate: simulated vs measured per row, median and max per file", "[validate]") {
  TempDir dir;
  // The reference: the run the first two rows describe (int4 weights in groups of 32, as the
  // notes of the first row say; the second says nothing and gets the default, 128).
  Outcome reference = run_dfsim(dir,
                                "run --model tiny-llama --hw a100-80gb --context 4 --tokens 2 "
                                "--set model.weight_dtype=int4 --set model.weight_group_size=32 "
                                "--format json");
  REQUIRE(reference.code == 0);
  const double rate = json::parse(reference.out)["tokens_per_second"].get<double>();
  REQUIRE(rate > 0);
  // Measured values chosen so the errors are known: 1.25 x the rate -> error 1/1.25 - 1 = -0.2;
  // 0.8 x the step time -> 1/0.8 - 1 = +0.25. Median of |errors| (0.2, 0.25) = 0.225, max 0.25.
  const std::string csv =
      kHeader +
      fmt::format(
          "a100-80gb,tiny-llama,int4,decode,1,4,2,tokens_per_second,{:.17g},tok/s,test,"
          "\"int4 weight-only, group size 32\"\n",
          1.25 * rate) +
      fmt::format(
          "a100-80gb,tiny-llama,int4,decode,1,4,2,time_per_token_s,{:.17g},s/token,test,"
          "\"group size 32\"\n",
          0.8 / rate) +
      "no-such-gpu,tiny-llama,q4_0,prefill,1,16,0,tokens_per_second,100,tok/s,test,\n";
  const std::string path = dir.write("rows.csv", csv);

  Outcome outcome = run_dfsim(dir, "validate rows.csv --format json");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json file = json::parse(outcome.out)["files"].at(0);
  CHECK(file["path"] == "rows.csv");
  REQUIRE(file["rows"].size() == 3);
  const json& first = file["rows"][0];
  CHECK(first["line"] == 2);
  CHECK(first["simulated"] == true);
  CHECK(first["value"].get<double>() == Approx(rate).epsilon(1e-12));
  CHECK(first["error"].get<double>() == Approx(-0.2).epsilon(1e-9));
  CHECK(file["rows"][1]["value"].get<double>() == Approx(1 / rate).epsilon(1e-12));
  CHECK(file["rows"][1]["error"].get<double>() == Approx(0.25).epsilon(1e-9));
  const json& missing = file["rows"][2];
  CHECK(missing["simulated"] == false);
  CHECK(missing["reason"] == "no hardware config 'no-such-gpu'");
  CHECK(file["simulated"] == 2);
  CHECK(file["not_simulated"] == 1);
  CHECK(file["median_abs_error"].get<double>() == Approx(0.225).epsilon(1e-9));
  CHECK(file["max_abs_error"].get<double>() == Approx(0.25).epsilon(1e-9));

  // The table says the same.
  Outcome text = run_dfsim(dir, "validate rows.csv");
  REQUIRE(text.code == 0);
  CHECK(text.out.find("-20.0%") != std::string::npos);
  CHECK(text.out.find("+25.0%") != std::string::npos);
  CHECK(text.out.find("not simulated: no hardware config 'no-such-gpu'") != std::string::npos);
  CHECK(text.out.find("3 rows: 2 simulated, 1 not simulated; |error| median 22.5%, max 25.0%") !=
        std::string::npos);
}

TEST_CASE("dfsim validate runs a gpt-fast row with gpt-fast's kernels", "[validate]") {
  TempDir dir;
  auto rate_of = [&](const std::string& stack) {
    Outcome run = run_dfsim(dir, fmt::format("run --model tiny-llama --hw a100-80gb --context 4 "
                                             "--tokens 2 --set hw.stack={} --format json",
                                             stack));
    REQUIRE(run.code == 0);
    return json::parse(run.out)["tokens_per_second"].get<double>();
  };
  const double gpt_fast = rate_of("gpt-fast");
  // The stacks differ (gpt-fast's decode attention is three kernels, a serving stack's one), so
  // the row below cannot pass by running the default.
  REQUIRE(gpt_fast != Approx(rate_of("serving")).epsilon(1e-6));
  // Measured at 2 x the gpt-fast rate: error 1/2 - 1 = -0.5.
  dir.write("rows.csv", kHeader + fmt::format("a100-80gb,tiny-llama,bf16,decode,1,4,2,"
                                              "tokens_per_second,{:.17g},tok/s,"
                                              "pytorch-labs/gpt-fast README,\n",
                                              2 * gpt_fast));
  Outcome outcome = run_dfsim(dir, "validate rows.csv --format json");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json report = json::parse(outcome.out);
  const json& row = report["files"].at(0)["rows"].at(0);
  CHECK(row["value"].get<double>() == Approx(gpt_fast).epsilon(1e-12));
  CHECK(row["error"].get<double>() == Approx(-0.5).epsilon(1e-9));
}

TEST_CASE("dfsim validate rejects bad CSV with file:line:column and exit code 2", "[validate]") {
  TempDir dir;
  auto expect = [&](const std::string& body, const std::string& message) {
    dir.write("bad.csv", body);
    Outcome outcome = run_dfsim(dir, "validate bad.csv");
    INFO(outcome.err);
    CHECK(outcome.code == 2);
    CHECK(outcome.out.empty());
    CHECK(outcome.err == "dfsim: error: " + message + "\n");
  };
  const std::string good = "a100-80gb,tiny-llama,bf16,decode,1,4,2,tokens_per_second,10,tok/s,t,\n";
  // "a100-80gb,tiny-llama,bf16,decode," is 33 characters: batch starts in column 34.
  expect(kHeader + good + "a100-80gb,tiny-llama,bf16,decode,x,4,2,tokens_per_second,10,tok/s,t,\n",
         "bad.csv:3:34: batch: expected an integer of at least 1, got 'x'");
  expect(kHeader + "a100-80gb,tiny-llama,bf16,decode,1,4,2,speed,10,tok/s,t,\n",
         "bad.csv:2:40: metric: expected one of tokens_per_second, time_per_token_s, "
         "looping_speedup, bandwidth_utilization, got 'speed'");
  expect(kHeader + "a100-80gb,tiny-llama,bf16\n", "bad.csv:2:1: 3 fields, the header has 12");
  expect("hw,model,colour\n",
         "bad.csv:1:10: colour: unknown column (expected hw, model, "
         "weight_dtype, phase, batch, prompt, gen, metric, measured, unit, "
         "source, notes; optional: aggregate, fitted_by)");
  // A serving header ("tp" is a serving column) is checked against the serving columns.
  expect("hw,model,tp,batch\n",
         "bad.csv:1:13: batch: unknown column (expected hw, model, weight_dtype, kv_dtype, tp, "
         "requests, isl, osl, rate, metric, measured, unit, source, notes; optional: fitted_by)");
  expect(kServingHeader + "h100-sxm,llama3.1-8b,bf16,bf16,1,500,467,256,2,mean_tpot_s,0.008,s,t,\n",
         "bad.csv:2:48: metric: expected one of output_tokens_per_second, mean_ttft_s, "
         "mean_itl_s, got 'mean_tpot_s'");
  expect(
      kServingHeader + "h100-sxm,llama3.1-8b,bf16,bf16,1,500,467,256,fast,mean_itl_s,0.008,s,t,\n",
      "bad.csv:2:46: rate: expected a positive number, got 'fast'");
  expect(kHeader + "a100-80gb,tiny-llama,bf16,decode,1,4,2,tokens_per_second,10,tok/s,\"t,\n",
         "bad.csv:2:67: quoted field never closed");
  Outcome missing = run_dfsim(dir, "validate no-such-dir");
  CHECK(missing.code == 2);
  CHECK(missing.err == "dfsim: error: no-such-dir: no such file or directory\n");
}

TEST_CASE("dfsim validate runs aggregate rows: max and geomean over models x hardware",
          "[validate]") {
  TempDir dir;
  auto report = [&](const std::string& args) {
    Outcome run = run_dfsim(dir, "run " + args + " --set model.weight_dtype=bf16 --format json");
    INFO(run.err);
    REQUIRE(run.code == 0);
    return json::parse(run.out);
  };
  const double a100 =
      report("--model tiny-llama --hw a100-80gb --context 4 --tokens 2")["tokens_per_second"];
  const double h100 =
      report("--model tiny-llama --hw h100-sxm --context 4 --tokens 2")["tokens_per_second"];
  REQUIRE(a100 != Approx(h100).epsilon(1e-3));  // else max could not tell them apart
  auto speedup = [&](const std::string& model) {
    const std::string args = "--model " + model + " --hw sn40l --context 16 --tokens 2 --looping ";
    return report(args + "off")["time_s"].get<double>() /
           report(args + "on")["time_s"].get<double>();
  };
  const double tiny = speedup("tiny-llama");
  const double small = speedup("llama3.2-1b");
  // Measured 1.25 x the larger rate -> error 1/1.25 - 1 = -0.2; measured 0.8 x the geometric
  // mean sqrt(tiny * small) -> 1/0.8 - 1 = +0.25.
  const std::string csv =
      "hw,model,weight_dtype,phase,batch,prompt,gen,metric,measured,unit,source,notes,aggregate\n" +
      fmt::format(
          "a100-80gb; h100-sxm,tiny-llama,bf16,decode,1,4,2,tokens_per_second,{:.17g},"
          "tok/s,test,,max\n",
          1.25 * std::max(a100, h100)) +
      fmt::format(
          "sn40l,tiny-llama;llama3.2-1b,bf16,decode,1,16,2,looping_speedup,{:.17g},x,"
          "test,,geomean\n",
          0.8 * std::sqrt(tiny * small)) +
      "sn40l,tiny-llama;no-such-model,bf16,decode,1,16,2,looping_speedup,2,x,test,,max\n" +
      fmt::format("a100-80gb,tiny-llama,bf16,decode,1,4,2,tokens_per_second,{:.17g},tok/s,t,,\n",
                  a100);
  dir.write("rows.csv", csv);
  Outcome outcome = run_dfsim(dir, "validate rows.csv --format json -j 2");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json rows = json::parse(outcome.out)["files"].at(0)["rows"];
  REQUIRE(rows.size() == 4);
  CHECK(rows[0]["aggregate"] == "max");
  CHECK(rows[0]["value"].get<double>() == Approx(std::max(a100, h100)).epsilon(1e-12));
  CHECK(rows[0]["error"].get<double>() == Approx(-0.2).epsilon(1e-9));
  REQUIRE(rows[0]["members"].size() == 2);
  CHECK(rows[0]["members"][0]["hw"] == "a100-80gb");
  CHECK(rows[0]["members"][0]["value"].get<double>() == Approx(a100).epsilon(1e-12));
  CHECK(rows[0]["members"][1]["hw"] == "h100-sxm");
  CHECK(rows[0]["members"][1]["value"].get<double>() == Approx(h100).epsilon(1e-12));
  CHECK(rows[1]["value"].get<double>() == Approx(std::sqrt(tiny * small)).epsilon(1e-12));
  CHECK(rows[1]["error"].get<double>() == Approx(0.25).epsilon(1e-9));
  CHECK(rows[1]["members"][1]["model"] == "llama3.2-1b");
  CHECK(rows[1]["members"][1]["value"].get<double>() == Approx(small).epsilon(1e-12));
  // One combination missing: the row is not simulated, and says which.
  CHECK(rows[2]["simulated"] == false);
  CHECK(rows[2]["reason"] == "no workload 'no-such-model'");
  // A plain row in the same file, with the column left empty.
  CHECK(rows[3]["value"].get<double>() == Approx(a100).epsilon(1e-12));
  CHECK_FALSE(rows[3].contains("aggregate"));

  Outcome text = run_dfsim(dir, "validate rows.csv");
  CHECK(text.out.find("looping_speedup (geomean)") != std::string::npos);

  // A bad aggregate, and entries without one, are errors at their field.
  dir.write("bad.csv",
            "hw,model,weight_dtype,phase,batch,prompt,gen,metric,measured,unit,source,notes,"
            "aggregate\nsn40l,a;b,bf16,decode,1,4,2,looping_speedup,2,x,t,,mean\n");
  Outcome bad = run_dfsim(dir, "validate bad.csv");
  CHECK(bad.code == 2);
  // "sn40l,a;b,bf16,decode,1,4,2,looping_speedup,2,x,t,," is 51 characters.
  CHECK(bad.err ==
        "dfsim: error: bad.csv:2:52: aggregate: expected max or geomean (or nothing for a row of "
        "one hw and one model), got 'mean'\n");
  dir.write("bad.csv", kHeader + "sn40l,a;;b,bf16,decode,1,4,2,looping_speedup,2,x,t,\n");
  bad = run_dfsim(dir, "validate bad.csv");
  CHECK(bad.code == 2);
  CHECK(bad.err ==
        "dfsim: error: bad.csv:2:7: model: several entries ('a;;b') need the aggregate column: "
        "max or geomean over every model on every hw listed\n");
  dir.write("bad.csv",
            "hw,model,weight_dtype,phase,batch,prompt,gen,metric,measured,unit,source,notes,"
            "aggregate\nsn40l,a;;b,bf16,decode,1,4,2,looping_speedup,2,x,t,,max\n");
  bad = run_dfsim(dir, "validate bad.csv");
  CHECK(bad.code == 2);
  CHECK(bad.err ==
        "dfsim: error: bad.csv:2:7: model: empty entry in 'a;;b' (entries are separated by ';')\n");
}

TEST_CASE("dfsim validate summarizes the rows fitted to apart from the others", "[validate]") {
  TempDir dir;
  Outcome reference =
      run_dfsim(dir, "run --model tiny-llama --hw a100-80gb --context 4 --tokens 2 --format json");
  REQUIRE(reference.code == 0);
  const double rate = json::parse(reference.out)["tokens_per_second"].get<double>();
  // Errors chosen by the measured values: rate / m - 1. Not fitted: m = rate / 1.1 (+10 %) and
  // rate / 0.7 (-30 %): median (0.1 + 0.3) / 2 = 0.2, max 0.3. Fitted: m = rate / 1.02 (+2 %)
  // alone: median = max = 0.02. Together the max would be 0.3 and the median 0.1: the split
  // is what the test checks.
  auto row = [&](double factor, const std::string& fitted_by) {
    return fmt::format(
        "a100-80gb,tiny-llama,bf16,decode,1,4,2,tokens_per_second,{:.17g},tok/s,t,,{}\n",
        rate / factor, fitted_by);
  };
  dir.write("rows.csv",
            "hw,model,weight_dtype,phase,batch,prompt,gen,metric,measured,unit,"
            "source,notes,fitted_by\n" +
                row(1.1, "") + row(0.7, "") + row(1.02, "a100-80gb: hbm.latency"));
  Outcome outcome = run_dfsim(dir, "validate rows.csv --format json");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json file = json::parse(outcome.out)["files"].at(0);
  CHECK(file["simulated"] == 3);
  CHECK(file["median_abs_error"].get<double>() == Approx(0.2).epsilon(1e-9));
  CHECK(file["max_abs_error"].get<double>() == Approx(0.3).epsilon(1e-9));
  CHECK(file["fitted"]["simulated"] == 1);
  CHECK(file["fitted"]["median_abs_error"].get<double>() == Approx(0.02).epsilon(1e-9));
  CHECK(file["fitted"]["max_abs_error"].get<double>() == Approx(0.02).epsilon(1e-9));
  CHECK(file["rows"][2]["fitted_by"] == "a100-80gb: hbm.latency");
  CHECK(file["rows"][0]["fitted_by"] == "");

  Outcome text = run_dfsim(dir, "validate rows.csv");
  REQUIRE(text.code == 0);
  CHECK(text.out.find("+2.0%  fitted: a100-80gb: hbm.latency") != std::string::npos);
  CHECK(text.out.find("3 rows: 3 simulated, 0 not simulated; 2 not fitted: |error| median 20.0%, "
                      "max 30.0%; 1 fitted to: |error| median 2.0%, max 2.0%") !=
        std::string::npos);
}

TEST_CASE("dfsim validate runs serving rows through dfsim serving with trtllm-bench's settings",
          "[validate][serving]") {
  TempDir dir;
  // An offline row (fp8, 40 requests of 128 + 128 at t = 0), the same load at tp 3 (32 heads do
  // not split over 3 GPUs: not simulated), two metrics of one online load (BF16, 30 requests of
  // 467 + 256 at 4 req/s), which share one run, and the offline load at tp 2.
  const std::string offline_notes =
      "\"FP8; all requests queued at t=0 (offline max throughput); "
      "in-flight batching; KV cache 0.95 of free memory\"";
  dir.write("serving.csv",
            kServingHeader +
                "h100-sxm,llama3.1-8b,fp8,fp8,1,40,128,128,inf,output_tokens_per_second," +
                "20000,tok/s,t," + offline_notes + "\n" +
                "h100-sxm,llama3.1-8b,fp8,fp8,3,40,128,128,inf,output_tokens_per_second,30000,"
                "tok/s,t," +
                offline_notes +
                "\n"
                "h100-sxm,llama3.1-8b,bf16,bf16,1,30,467,256,4,mean_itl_s,0.008,s,t,online\n"
                "h100-sxm,llama3.1-8b,bf16,bf16,1,30,467,256,4,output_tokens_per_second,900,tok/s,"
                "t,online\n"
                "h100-sxm,llama3.1-8b,fp8,fp8,2,40,128,128,inf,output_tokens_per_second,30000,"
                "tok/s,t," +
                offline_notes + "\n");
  Outcome outcome = run_dfsim(dir, "validate serving.csv --format json -j 2");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json file = json::parse(outcome.out)["files"].at(0);
  REQUIRE(file["rows"].size() == 5);
  CHECK(file["simulated"] == 4);
  const json& offline = file["rows"][0];
  const json& tp3 = file["rows"][1];
  const json& itl = file["rows"][2];
  const json& online = file["rows"][3];
  const json& tp2 = file["rows"][4];
  CHECK(tp3["simulated"] == false);
  CHECK(tp3["reason"].get<std::string>().rfind(
            "tp 3: llama3.1-8b's 32 attention heads do not split evenly over 3 GPUs", 0) == 0);
  // Two GPUs in tensor parallel (HGX H100's NVLink, hw.sockets = 2) run the same load: each
  // reads half the weights, so the offline throughput rises, but by less than 2x (the
  // all-reduces and the unsplit work remain).
  CHECK(tp2["simulated"] == true);
  CHECK(tp2["settings"].get<std::string>().find("TP2") != std::string::npos);
  CHECK(tp2["value"].get<double>() > offline["value"].get<double>());
  CHECK(tp2["value"].get<double>() < 2 * offline["value"].get<double>());
  // trtllm-bench build for llama3.1-8b (8.03e9 parameters, 32 layers, 8 KV heads of 128) in fp8
  // on an H100 (NVML: 81559 MiB = 79.65 GiB): KV memory 0.95 x (79.65 - 8.03) = 68.04 GB over
  // 2 x 32 x 8 x 128 x 1 B = 64 KiB per token holds 1.11e6 tokens, 4354 requests of 256:
  // max batch min(4354, 4096) = 4096, max tokens 4096 x (1 + 128 / 128) = 8192. The online
  // row in bf16: (79.65 - 16.06) x 0.95 / 128 KiB per token = 495,100 tokens, 684.8 requests of
  // 723: batch 128 x ceil(684.8 / 128) = 768, tokens 684.8 x (1 + 467 / 256) = 1934 -> 2048.
  CHECK(offline["settings"].get<std::string>().find(
            "trtllm-bench engine: max batch 4096, max tokens 8192; chunk 8192; no-evict; KV 0.95 "
            "of free memory, 64-token blocks") != std::string::npos);
  CHECK(online["settings"].get<std::string>().find(
            "trtllm-bench engine: max batch 768, max tokens 2048; chunk off; no-evict; KV 0.9 of "
            "free memory") != std::string::npos);
  // The same loads through dfsim serving with those settings give the same figures.
  Outcome served = run_dfsim(
      dir,
      "serving -m llama3.1-8b --hw h100-sxm --requests 40 --isl 128 --osl 128 --rate inf "
      "--max-batch 4096 --max-tokens 8192 --chunk 8192 --block 64 --kv-fraction 0.95 "
      "--set model.weight_dtype=fp8 --set model.kv_cache_dtype=fp8 --set hw.stack=serving "
      "--format json");
  REQUIRE(served.code == 0);
  const json direct = json::parse(served.out);
  CHECK(offline["value"].get<double>() == Approx(direct["output_tokens_per_s"].get<double>()));
  CHECK(offline["error"].get<double>() ==
        Approx(direct["output_tokens_per_s"].get<double>() / 20000 - 1));
  served = run_dfsim(dir,
                     "serving -m llama3.1-8b --hw h100-sxm --requests 30 --isl 467 --osl 256 "
                     "--rate 4 --max-batch 768 --max-tokens 2048 --block 64 --kv-fraction 0.9 "
                     "--set model.weight_dtype=bf16 --set model.kv_cache_dtype=bf16 "
                     "--set hw.stack=serving --format json");
  REQUIRE(served.code == 0);
  const json poisson = json::parse(served.out);
  CHECK(online["value"].get<double>() == Approx(poisson["output_tokens_per_s"].get<double>()));
  CHECK(itl["value"].get<double>() == Approx(poisson["itl_s"]["mean"].get<double>()));
  // The file's fidelity figures count the throughput rows only; each metric is listed apart.
  std::vector<double> errors = {std::abs(offline["error"].get<double>()),
                                std::abs(online["error"].get<double>()),
                                std::abs(tp2["error"].get<double>())};
  std::sort(errors.begin(), errors.end());
  CHECK(file["median_abs_error"].get<double>() == Approx(errors[1]).epsilon(1e-9));
  CHECK(file["serving"]["output_tokens_per_second"]["simulated"] == 3);
  CHECK(file["serving"]["mean_itl_s"]["simulated"] == 1);
  CHECK(file["serving"]["mean_itl_s"]["max_abs_error"].get<double>() ==
        Approx(std::abs(itl["error"].get<double>())).epsilon(1e-9));
  CHECK_FALSE(file["serving"].contains("mean_ttft_s"));
}

TEST_CASE("dfsim validate lists serving rows it cannot run, with the reason",
          "[validate][serving]") {
  TempDir dir;
  dir.write("serving.csv",
            kServingHeader +
                "no-such-gpu,llama3.1-8b,fp8,fp8,1,10,128,128,inf,output_tokens_per_second,1,"
                "tok/s,t,\n"
                "h100-sxm,no-such-model,bf16,bf16,1,10,128,128,inf,output_tokens_per_second,1,"
                "tok/s,t,\n"
                "sn40l,llama3.1-8b,bf16,bf16,1,10,128,128,inf,output_tokens_per_second,1,tok/s,t,"
                "\n");
  Outcome outcome = run_dfsim(dir, "validate serving.csv --format json");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json file = json::parse(outcome.out)["files"].at(0);
  CHECK(file["simulated"] == 0);
  CHECK(file["not_simulated"] == 3);
  CHECK(file["rows"][0]["reason"] == "no hardware config 'no-such-gpu'");
  CHECK(file["rows"][1]["reason"] == "no workload 'no-such-model'");
  CHECK(file["rows"][2]["reason"] == "serving rows are TensorRT-LLM's: the hardware must be a GPU");
  CHECK(file["serving"].empty());
}

TEST_CASE("trtllm-bench's engine settings by hand", "[validate][serving]") {
  // Llama 3.1 8B in fp8 on an H100 (81559 MiB), 128 + 2048: KV memory 0.95 x (79.648 GiB -
  // 8.030 GB) = 68.036 over 64 KiB per token = 1,114,708 tokens, 512.27 requests of 2176: batch
  // 128 x ceil(512.27 / 128) = 640; tokens 512.27 x (1 + 128 / 2048) = 544.3 -> the minimum 2048.
  dfsim::TrtllmEngineInputs h100{.parameters = 8030261248.0,
                                 .bytes_per_weight = 1,
                                 .bytes_per_kv_element = 1,
                                 .layers = 32,
                                 .kv_heads = 8,
                                 .head_size = 128,
                                 .device_memory_bytes = 81559.0 * 1024 * 1024,
                                 .tp = 1,
                                 .isl = 128,
                                 .osl = 2048};
  dfsim::TrtllmEngineSettings settings = dfsim::trtllm_bench_engine_settings(h100);
  CHECK(settings.kv_cache_max_requests == Approx(512.27).epsilon(1e-4));
  CHECK(settings.max_batch == 640);
  CHECK(settings.max_num_tokens == 2048);
  // fp16 on an A100 (80 GiB), 2048 + 128: (80 - 16.06) x 0.95 = 60.743 GB over 128 KiB per token =
  // 497,613 tokens, 228.68 requests of 2176: batch max(64, 32 x ceil(7.15)) = 256; tokens
  // 228.68 x (1 + 2048 / 128) = 3887.6 -> 256 x ceil(15.19) = 4096.
  dfsim::TrtllmEngineInputs a100 = h100;
  a100.bytes_per_weight = a100.bytes_per_kv_element = 2;
  a100.device_memory_bytes = 80.0 * 1024 * 1024 * 1024;
  a100.isl = 2048;
  a100.osl = 128;
  settings = dfsim::trtllm_bench_engine_settings(a100);
  CHECK(settings.kv_cache_max_requests == Approx(228.68).epsilon(1e-4));
  CHECK(settings.max_batch == 256);
  CHECK(settings.max_num_tokens == 4096);
  // 128 + 128 on the H100: 4354 requests, capped at 4096 (256 x 16), tokens 8192 (1024 x 8).
  h100.osl = 128;
  settings = dfsim::trtllm_bench_engine_settings(h100);
  CHECK(settings.max_batch == 4096);
  CHECK(settings.max_num_tokens == 8192);
  // A 40 GB model leaves an 80 GiB GPU no KV memory for one 2048-token request: refused.
  a100.parameters = 40e9;
  CHECK_THROWS_AS(dfsim::trtllm_bench_engine_settings(a100), dfsim::InputError);
}

// The repository's own measured data (hw_configs/measured) is the default: a fresh clone
// validates without ../shared. Every row of every file is listed and simulated (their hardware
// and workloads are all in the catalog). The serving rows run with at most 40 requests here
// (--serving-requests): their full loads (up to 30,000 requests) take about a minute of CPU
// each on the offline rows, which belongs in `dfsim validate` itself and not in every CI run;
// what is checked here is that every row runs.
TEST_CASE("dfsim validate with no path runs every row of hw_configs/measured", "[validate]") {
  TempDir dir;
  Outcome outcome = run_dfsim(dir, "validate --format json --serving-requests 40");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json files = json::parse(outcome.out)["files"];
  std::vector<std::string> names;
  for (const json& file : files) {
    const std::string path = file["path"];
    names.push_back(path.substr(path.rfind('/') + 1));
    // Rows in the file: its lines after the header (no row of these files spans lines).
    std::ifstream in(path);
    std::int64_t lines = 0;
    for (std::string line; std::getline(in, line);) lines += !line.empty();
    CHECK(file["rows"].size() == static_cast<std::size_t>(lines - 1));
    for (const json& row : file["rows"]) {
      INFO(path << " line " << row["line"] << ": " << row.value("reason", ""));
      CHECK(row["simulated"] == true);
    }
  }
  CHECK(names == std::vector<std::string>{"apple.csv", "cpu.csv", "gpu.csv", "serving.csv",
                                          "sn40l.csv", "sn40l_looping.csv"});
}

// A row whose notes state the board power limit it ran under ("power-limited to 330 W", as
// gpt-fast's A100 rows) runs at that limit (hw.power.limit, the GPU clock model).
TEST_CASE("dfsim validate runs a row at the power limit its notes state", "[validate]") {
  TempDir dir;
  auto rate_at = [&](const std::string& limit) {
    Outcome run = run_dfsim(dir,
                            "run --model llama3.2-1b --hw a100-80gb --phase prefill "
                            "--prompt 256 --set hw.power.limit=" +
                                limit + " --format json");
    REQUIRE(run.code == 0);
    return json::parse(run.out)["tokens_per_second"].get<double>();
  };
  const double capped = rate_at("150W");
  // Prefill is compute-bound: at 150 W it is slower than at the 400 W TDP, so the row cannot
  // pass by running the default.
  REQUIRE(capped < 0.9 * rate_at("400W"));
  dir.write("rows.csv", kHeader + fmt::format("a100-80gb,llama3.2-1b,bf16,prefill,1,256,0,"
                                              "tokens_per_second,{:.17g},tok/s,t,"
                                              "\"GPU power-limited to 150 W\"\n",
                                              capped));
  Outcome outcome = run_dfsim(dir, "validate rows.csv --format json");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json row = json::parse(outcome.out)["files"].at(0)["rows"].at(0);
  CHECK(row["settings"].get<std::string>().find("hw.power.limit=150 W") != std::string::npos);
  CHECK(row["value"].get<double>() == Approx(capped).epsilon(1e-12));
}
