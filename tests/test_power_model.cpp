// The GPU clock under a board power limit (models/gpu/power_model.h): the clock ratio of a
// kernel derived by hand from P(s) = idle + sm_dynamic x u x s^3 + dram_energy x bytes / t,
// and end to end through `dfsim run --set hw.power.limit=...`: a lower limit never speeds a run
// up, a compute-bound run slows by the clock ratio, a DRAM-bound one barely moves.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "models/gpu/power_model.h"
#include "sim/common/units.h"
#include "tests/test_support.h"

using dfsim::clock_ratio_under_limit;
using dfsim::kernel_power;
using dfsim::KernelDemand;
using dfsim::PowerSpec;
using dfsim::testing::Outcome;
using dfsim::testing::run_dfsim;
using dfsim::testing::TempDir;
using nlohmann::json;

namespace {

// Round figures so the roots come out exact: idle 50 W, all SMs busy 400 W at full clock,
// 40 pJ per DRAM byte, clock 1.41 GHz, floor 210 MHz.
PowerSpec spec(double limit) {
  return PowerSpec{
      .limit = limit, .idle = 50, .sm_dynamic = 400, .dram_energy = 40e-12, .min_clock = 210e6};
}
constexpr double kClock = 1.41e9;

}  // namespace

TEST_CASE("power model: a compute-bound kernel's clock is the cube root of the power left",
          "[power]") {
  const KernelDemand compute{.math_seconds = 1e-3};
  // At full clock: 50 + 400 = 450 W.
  CHECK(kernel_power(spec(450), compute, 1.0) == Approx(450).epsilon(1e-12));
  CHECK(clock_ratio_under_limit(spec(450), kClock, compute) == 1.0);
  CHECK(clock_ratio_under_limit(spec(500), kClock, compute) == 1.0);
  // Limit 254.8 W: 400 s^3 = 204.8 -> s^3 = 0.512 -> s = 0.8.
  CHECK(clock_ratio_under_limit(spec(254.8), kClock, compute) == Approx(0.8).epsilon(1e-12));
  // Limit 100 W: 400 s^3 = 50 -> s = 0.5.
  CHECK(clock_ratio_under_limit(spec(100), kClock, compute) == Approx(0.5).epsilon(1e-12));
  // Limit 51 W: s^3 = 1/400 -> s = 0.136, below the 210 MHz floor (0.1489): the floor.
  CHECK(clock_ratio_under_limit(spec(51), kClock, compute) == Approx(210e6 / kClock));
  // No power section: never throttled.
  CHECK(clock_ratio_under_limit(PowerSpec{}, kClock, compute) == 1.0);
}

TEST_CASE("power model: a DRAM-bound kernel's SM power grows as s^2 and its time stays",
          "[power]") {
  // 1 GB in 1 ms (DRAM-bound), math 0.1 ms, L2 0.2 ms: busy = 0.2 / s (while 0.2 / s <= 1).
  // P(s) = 50 + 400 x (0.2 / s) x s^3 + 40 pJ x 1e9 / 1 ms = 90 + 80 s^2. P(1) = 170 W.
  const KernelDemand stream{
      .math_seconds = 0.1e-3, .onchip_seconds = 0.2e-3, .dram_bytes = 1e9, .dram_seconds = 1e-3};
  CHECK(kernel_power(spec(170), stream, 1.0) == Approx(170).epsilon(1e-12));
  CHECK(kernel_power(spec(170), stream, 0.5) == Approx(110).epsilon(1e-12));
  CHECK(clock_ratio_under_limit(spec(170), kClock, stream) == 1.0);
  // Limit 110 W: 80 s^2 = 20 -> s = 0.5; math 0.2 ms and L2 0.4 ms at that clock, both under
  // the 1 ms of DRAM: the kernel takes as long as at full clock.
  const double s = clock_ratio_under_limit(spec(110), kClock, stream);
  CHECK(s == Approx(0.5).epsilon(1e-12));
  CHECK(std::max({stream.math_seconds / s, stream.onchip_seconds / s, stream.dram_seconds}) ==
        stream.dram_seconds);
}

TEST_CASE("power model: a lower limit never raises the clock", "[power]") {
  const KernelDemand demands[] = {
      {.math_seconds = 1e-3},
      {.math_seconds = 0.1e-3, .onchip_seconds = 0.2e-3, .dram_bytes = 1e9, .dram_seconds = 1e-3},
      {.math_seconds = 0.9e-3, .onchip_seconds = 0.5e-3, .dram_bytes = 1e9, .dram_seconds = 1e-3},
      {.onchip_seconds = 2e-3, .dram_bytes = 1e8, .dram_seconds = 0.1e-3}};
  for (const KernelDemand& demand : demands) {
    double previous = 1.0;
    for (double limit = 600; limit > 50; limit -= 2.5) {
      const double s = clock_ratio_under_limit(spec(limit), kClock, demand);
      INFO("limit " << limit << " W, math " << demand.math_seconds);
      CHECK(s <= previous);
      CHECK(s >= 210e6 / kClock);
      // The kernel fits the limit at its clock unless the floor stops it.
      if (s > 210e6 / kClock) CHECK(kernel_power(spec(limit), demand, s) <= limit * (1 + 1e-9));
      previous = s;
    }
  }
}

TEST_CASE("units: power and energy per byte", "[power]") {
  using dfsim::Dimension;
  using dfsim::parse_quantity;
  CHECK(*parse_quantity("700 W", Dimension::kPower) == 700);
  CHECK(*parse_quantity("0.4 kW", Dimension::kPower) == Approx(400));
  CHECK(*parse_quantity("31.2 pJ/B", Dimension::kEnergyPerByte) == Approx(31.2e-12));
  // 3.9 pJ per bit = 8 x 3.9 = 31.2 pJ per byte.
  CHECK(*parse_quantity("3.9 pJ/bit", Dimension::kEnergyPerByte) == Approx(31.2e-12));
  CHECK_FALSE(parse_quantity("700", Dimension::kPower));
  CHECK_FALSE(parse_quantity("3.9 pJ", Dimension::kEnergyPerByte));
}

namespace {

double run_seconds(const TempDir& dir, const std::string& args) {
  Outcome run = run_dfsim(dir, "run " + args + " --format json");
  INFO(run.err);
  REQUIRE(run.code == 0);
  return json::parse(run.out)["time_s"].get<double>();
}

}  // namespace

TEST_CASE("dfsim run: a compute-bound run slows by the clock ratio under a power limit",
          "[power]") {
  TempDir dir;
  // H100 SXM made compute-bound everywhere: DRAM 1000x faster and without latency, no launch
  // gaps; idle 50 W, SMs 400 W, no DRAM energy. Every kernel is then math- or L2-bound with the
  // SMs fully busy, so each gets the same clock: 50 + 400 s^3 = limit. At 450 W s = 1; at
  // 254.8 W s^3 = 0.512, s = 0.8: math and L2 take 1 / 0.8 = 1.25x as long, and so the run
  // (1.4 ms: long enough that the picosecond time resolution does not show).
  const std::string base =
      "--model llama3.2-1b --hw h100-sxm --phase prefill --prompt 256 "
      "--set hw.hbm.bandwidth=3350TB/s --set hw.hbm.latency=0ns "
      "--set hw.launch.kernel_overhead=0us --set hw.launch.graph_overhead=0us "
      "--set hw.power.idle=50W --set hw.power.sm_dynamic=400W --set hw.power.dram_energy=0pJ/B";
  const double full = run_seconds(dir, base + " --set hw.power.limit=450W");
  const double capped = run_seconds(dir, base + " --set hw.power.limit=254.8W");
  CHECK(capped / full == Approx(1.25).epsilon(1e-6));
}

TEST_CASE("dfsim run: lowering the power limit never speeds up, DRAM-bound decode barely moves",
          "[power]") {
  TempDir dir;
  for (const char* phase :
       {"--phase prefill --prompt 512", "--phase decode --context 512 --tokens 2"}) {
    double previous = 0;
    for (int limit : {700, 600, 500, 400, 300, 200}) {
      const double seconds = run_seconds(dir, fmt::format("--model llama3.1-8b --hw h100-sxm {} "
                                                          "--set hw.power.limit={}W",
                                                          phase, limit));
      INFO(phase << " at " << limit << " W");
      CHECK(seconds >= previous);
      previous = seconds;
    }
  }
  // Decode at batch 1 streams weights: a GEMV's L2 time is its DRAM bytes at 9.8 TB/s against
  // 2.98 TB/s from DRAM, so its SMs are busy <= 0.31 of the time and it draws at most
  // 70 + 536 x 0.31 + 93 = 329 W at full clock (h100-sxm.yaml): under a 350 W limit the weight
  // streams are not slowed; only the small kernels between them may be. Within 1 %:
  const std::string decode = "--model llama3.1-8b --hw h100-sxm --context 512 --tokens 2";
  const double at_tdp = run_seconds(dir, decode);
  CHECK(run_seconds(dir, decode + " --set hw.power.limit=350W") == Approx(at_tdp).epsilon(0.01));
  // The default limit is the TDP: the same run as without any override.
  CHECK(run_seconds(dir, decode + " --set hw.power.limit=700W") == at_tdp);
}

TEST_CASE("hw.power.limit: checked like every field", "[power]") {
  TempDir dir;
  Outcome below = run_dfsim(dir, "run --model tiny-llama --hw h100-sxm --set hw.power.limit=60W");
  CHECK(below.code == 2);
  CHECK(below.err.find("power.limit: 60 W is not above the idle power (70 W)") !=
        std::string::npos);
  Outcome unit = run_dfsim(dir, "run --model tiny-llama --hw h100-sxm --set hw.power.limit=500");
  CHECK(unit.code == 2);
  CHECK(unit.err.find("power.limit") != std::string::npos);
}
