// Apple SoC configs (hw_configs/apple-*.yaml): binned GPU parts resolved through the catalog,
// and the family's Program-level behaviour (fused SDPA, dequantization work). No SystemC here.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/engine/run_request.h"
#include "sim/mapping/apple_mapper.h"
#include "sim/mapping/dequantization.h"
#include "tests/test_support.h"

using dfsim::AppleSpec;
using dfsim::HwConfig;
using dfsim::load_hw_config;

namespace {

const AppleSpec& soc_of(const HwConfig& hw) {
  REQUIRE(hw.apple() != nullptr);
  return *hw.apple();
}

std::string error_of(const std::string& name) {
  try {
    load_hw_config(name, {});
  } catch (const dfsim::InputError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("Every M1-M4 chip has an Apple config, and the bare name is the largest bin", "[apple]") {
  // Largest GPU bin of each chip per Apple's tech specs.
  const std::vector<std::pair<std::string, int>> chips{
      {"apple-m1", 8},  {"apple-m1-pro", 16}, {"apple-m1-max", 32}, {"apple-m1-ultra", 64},
      {"apple-m2", 10}, {"apple-m2-pro", 19}, {"apple-m2-max", 38}, {"apple-m2-ultra", 76},
      {"apple-m3", 10}, {"apple-m3-pro", 18}, {"apple-m3-max", 40}, {"apple-m3-ultra", 80},
      {"apple-m4", 10}, {"apple-m4-pro", 20}, {"apple-m4-max", 40}};
  for (const auto& [name, cores] : chips) {
    INFO(name);
    const HwConfig hw = load_hw_config(name, {});
    CHECK(hw.family == "apple");
    CHECK(soc_of(hw).gpu_cores == cores);
    // <name>-<cores>c is the same part under its bin name.
    const HwConfig same = load_hw_config(name + "-" + std::to_string(cores) + "c", {});
    CHECK(same.name == name + "-" + std::to_string(cores) + "c");
    CHECK(soc_of(same).gpu_cores == cores);
    CHECK(soc_of(same).fp32_rate == soc_of(hw).fp32_rate);
  }
  CHECK(error_of("apple-m4-ultra").find("unknown hardware 'apple-m4-ultra'") != std::string::npos);
}

TEST_CASE("A binned Apple part takes its own cores, rates and bandwidth", "[apple]") {
  const AppleSpec ultra60 = soc_of(load_hw_config("apple-m2-ultra-60c", {}));
  // 60 cores x 128 ALUs x 2 FLOP x 1.398 GHz = 21.47 TFLOPS (written with two decimals).
  CHECK(ultra60.gpu_cores == 60);
  CHECK(ultra60.fp32_rate == Approx(60 * 128 * 2 * 1.398e9).epsilon(5e-4));
  CHECK(ultra60.lpddr.bandwidth == Approx(800e9));
  // Bins that differ in more than cores: M3 Max 30c has 300 GB/s, 40c 400 GB/s; M4 Max 32c
  // 410 GB/s, 40c 546 GB/s.
  CHECK(soc_of(load_hw_config("apple-m3-max-30c", {})).lpddr.bandwidth == Approx(300e9));
  CHECK(soc_of(load_hw_config("apple-m3-max", {})).lpddr.bandwidth == Approx(400e9));
  CHECK(soc_of(load_hw_config("apple-m4-max-32c", {})).lpddr.bandwidth == Approx(410e9));
  CHECK(soc_of(load_hw_config("apple-m4-max-40c", {})).lpddr.bandwidth == Approx(546e9));
  // The rest of the part is the full part's.
  CHECK(soc_of(load_hw_config("apple-m4-max-32c", {})).clock ==
        soc_of(load_hw_config("apple-m4-max", {})).clock);
  // --set applies on top of the bin.
  const AppleSpec overridden =
      soc_of(load_hw_config("apple-m3-max-30c", {dfsim::parse_override("hw.fused_sdpa=false")}));
  CHECK_FALSE(overridden.fused_sdpa);
  CHECK(overridden.lpddr.bandwidth == Approx(300e9));
}

TEST_CASE("A bin that does not exist is an error listing the valid ones", "[apple]") {
  const std::string message = error_of("apple-m3-max-35c");
  CHECK(message.find("apple-m3-max has no 35-core GPU bin") != std::string::npos);
  CHECK(message.find("apple-m3-max-30c") != std::string::npos);
  CHECK(message.find("apple-m3-max-40c") != std::string::npos);
  // Suffixes on non-binned configs stay unknown names.
  CHECK(error_of("h100-sxm-60c").find("unknown hardware 'h100-sxm-60c'") != std::string::npos);
}

TEST_CASE("The calibration file's Apple names resolve and are listed", "[apple]") {
  for (const char* name : {"apple-m1-ultra-48c", "apple-m2-10c", "apple-m2-max-30c",
                           "apple-m4-max-40c", "apple-m1-pro-16c", "apple-m3-10c"}) {
    INFO(name);
    CHECK(load_hw_config(name, {}).name == name);
  }
  std::vector<std::string> listed;
  for (const auto& entry : dfsim::list_configs(dfsim::ConfigKind::kHardware)) {
    listed.push_back(entry.name);
  }
  for (const char* name : {"apple-m2-ultra", "apple-m2-ultra-60c", "apple-m2-ultra-76c"}) {
    INFO(name);
    CHECK(std::find(listed.begin(), listed.end(), name) != listed.end());
  }
}

TEST_CASE("Unfused SDPA adds two kernels per layer and the score matrix traffic", "[apple]") {
  const dfsim::ModelSpec model = dfsim::load_model_spec("llama2-7b", {});
  dfsim::Phase phase;
  phase.kind = dfsim::PhaseKind::kPrefill;
  phase.context = 512;
  const HwConfig fused = load_hw_config("apple-m2", {});
  const HwConfig unfused =
      load_hw_config("apple-m2", {dfsim::parse_override("hw.fused_sdpa=false")});
  const dfsim::Program a = dfsim::build_programs(model, fused, phase).front();
  const dfsim::Program b = dfsim::build_programs(model, unfused, phase).front();
  // Scores, softmax and values: 1 kernel fused, 3 unfused -> 2 more per layer, 32 layers.
  CHECK(b.kernels.size() - a.kernels.size() == 64);
  // Unfused, the fp16 score matrix S = 32 heads x 512 x 512 keys x 2 B = 16 MiB per layer goes
  // to DRAM: written by scores, read and written by softmax, read by values = 4 S per layer,
  // 32 x 4 x 16 MiB = 2 GiB in all.
  double bytes_a = 0;
  double bytes_b = 0;
  for (const auto& kernel : a.kernels) bytes_a += kernel.dram_bytes();
  for (const auto& kernel : b.kernels) bytes_b += kernel.dram_bytes();
  CHECK(bytes_b - bytes_a == Approx(32.0 * 4 * 32 * 512 * 512 * 2).epsilon(1e-12));
}

TEST_CASE("Dequantization work follows llama.cpp's Metal kernels", "[apple]") {
  const double weights = 4096.0 * 4096.0;
  const dfsim::DequantTiling metal{.gemv_rows = 64, .tile_rows = 32};
  // fp16 weights into an fp16 GEMM: nothing to convert.
  CHECK(dfsim::dequantization_slots_per_weight(dfsim::Dtype::kFp16, dfsim::Dtype::kFp16) == 0);
  // Decode (GEMV, m = 1), q4_0: mask, convert, scale = 3 slots per weight, once:
  // 3 x 16777216 = 50331648.
  const double q4 =
      dfsim::dequantization_slots_per_weight(dfsim::Dtype::kQ4_0, dfsim::Dtype::kFp16);
  CHECK(q4 == 3);
  CHECK(dfsim::dequantization_slots(1, weights, q4, metal) == Approx(50331648.0));
  // Prefill (m = 512): kernel_mul_mm dequantizes once per 32 rows -> 16 passes; q8_0: convert,
  // scale = 2 slots -> 2 x 16777216 x 16 = 536870912.
  const double q8 =
      dfsim::dequantization_slots_per_weight(dfsim::Dtype::kQ8_0, dfsim::Dtype::kFp16);
  CHECK(dfsim::dequantization_slots(512, weights, q8, metal) == Approx(536870912.0));
}

TEST_CASE("A bin whose core count does not match its name is an error at its line", "[apple]") {
  dfsim::testing::TempDir dir;
  std::string text = dfsim::testing::read_text(
      dfsim::config_directory(dfsim::ConfigKind::kHardware) + "/apple-m2.yaml");
  // The 8-core bin of apple-m2.yaml, made inconsistent.
  const std::string bin = "  8c:\n";
  const std::size_t at = text.find(bin);
  REQUIRE(at != std::string::npos);
  const std::size_t cores = text.find("gpu_cores: 8", at);
  REQUIRE(cores != std::string::npos);
  text.replace(cores, 12, "gpu_cores: 9");
  const std::string path = (dir.path() / "odd-m2.yaml").string();
  dfsim::testing::write_text(path, text);
  std::string message;
  try {
    load_hw_config(path, {});
  } catch (const dfsim::InputError& error) {
    message = error.what();
  }
  // The bin's map starts on the line after "  8c:"; its location names the file and line.
  const int line = static_cast<int>(std::count(text.begin(), text.begin() + at, '\n')) + 2;
  CHECK(message.rfind(path + ":" + std::to_string(line) + ":", 0) == 0);
  CHECK(message.find("bins.8c: a bin must set gpu_cores to its own core count (8)") !=
        std::string::npos);
}
