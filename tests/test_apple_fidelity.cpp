// The Apple family against measurements: four rows of ../shared/calibration/apple.csv (llama.cpp
// Metal, Llama 2 7B, ggml-org/llama.cpp discussion 4167), copied here so the test does not
// depend on a file outside the repository, run through `dfsim validate`. One row of each kind:
// compute-bound prefill (f16, q8_0) and bandwidth-bound decode (q4_0), on three generations.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tests/test_support.h"

using dfsim::testing::Outcome;
using dfsim::testing::run_dfsim;
using dfsim::testing::TempDir;
using nlohmann::json;

TEST_CASE("Apple: measured llama.cpp rows are within 25 % of the simulation", "[apple]") {
  TempDir dir;
  const std::string csv =
      "hw,model,weight_dtype,phase,batch,prompt,gen,metric,measured,unit,source,notes\n"
      "apple-m2-10c,llama2-7b,f16,prefill,1,512,0,tokens_per_second,201.34,tok/s,d4167,\n"
      "apple-m4-max-40c,llama2-7b,q8_0,prefill,1,512,0,tokens_per_second,891.94,tok/s,d4167,\n"
      "apple-m2-max-30c,llama2-7b,q4_0,decode,1,0,128,tokens_per_second,60.99,tok/s,d4167,\n"
      "apple-m1-ultra-48c,llama2-7b,q4_0,decode,1,0,128,tokens_per_second,74.93,tok/s,d4167,\n";
  dir.write("apple.csv", csv);
  Outcome outcome = run_dfsim(dir, "validate apple.csv --format json");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  const json file = json::parse(outcome.out)["files"].at(0);
  REQUIRE(file["rows"].size() == 4);
  for (const json& row : file["rows"]) {
    INFO(row.dump());
    REQUIRE(row["simulated"] == true);
    CHECK(std::abs(row["error"].get<double>()) < 0.25);
  }
  CHECK(file["median_abs_error"].get<double>() < 0.10);
}
