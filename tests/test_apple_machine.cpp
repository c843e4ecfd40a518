// The SystemC Apple SoC model (models/apple/apple_machine.h) with every expected time derived by
// hand from figures pinned below. Each simulation runs in a forked child (SystemC elaborates
// once per process).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <variant>
#include <vector>

#include "models/simulate.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"

using dfsim::AppleSpec;
using dfsim::HwConfig;
using dfsim::Kernel;
using dfsim::Program;
using nlohmann::json;

namespace {

// Pinned so that the derivations do not move when hw_configs/apple-m2.yaml is revised.
constexpr int kCores = 10;
constexpr double kAlu = 3.58e12;            // FLOP/s, fp16 = fp32
constexpr double kEfficiency = 0.8;         // simdgroup-matrix share of the ALU peak
constexpr double kStreaming = 100e9 * 0.9;  // B/s: 100 GB/s x 0.90
constexpr double kLatency = 400e-9;         // s
constexpr double kDispatch = 5.16e-6;       // s per kernel
constexpr double kCommandBuffer = 2.5e-3;   // s per step
constexpr double kTolerance = 1e-11;        // SystemC time resolution is 1 ps

HwConfig test_soc(int dies = 1) {
  HwConfig hw = dfsim::load_hw_config("apple-m2", {});
  AppleSpec& soc = std::get<AppleSpec>(hw.spec);
  soc.gpu_cores = kCores;
  soc.fp16_rate = soc.fp32_rate = kAlu;
  soc.matmul_efficiency = kEfficiency;
  soc.inflight_bytes_per_core = 32768;
  soc.lpddr.bandwidth = 100e9;
  soc.lpddr.achievable_fraction = 0.9;
  soc.lpddr.latency = kLatency;
  soc.slc.bandwidth = 200e9;
  soc.dispatch.kernel_overhead = kDispatch;
  soc.dispatch.command_buffer_overhead = kCommandBuffer;
  soc.dies = dies;
  return hw;
}

Kernel kernel_of(const std::string& name, std::int64_t tiles) {
  Kernel kernel;
  kernel.name = kernel.role = name;
  kernel.tiles = tiles;
  kernel.tiles_per_unit = 1;
  kernel.compute_dtype = dfsim::Dtype::kFp16;
  return kernel;
}

json simulate_in_child(const HwConfig& hw, const std::vector<Program>& steps) {
  return dfsim::run_in_child([&] {
    dfsim::SimulationTrace trace = dfsim::simulate(hw, steps);
    json kernels = json::array();
    for (const auto& record : trace.kernels) {
      kernels.push_back({{"step", record.step},
                         {"boundary_begin", record.boundary_begin},
                         {"start", record.start},
                         {"end", record.end}});
    }
    return json{{"end_time", trace.end_time}, {"kernels", kernels}};
  });
}

}  // namespace

TEST_CASE("Apple: a streaming kernel and a GEMM take their hand-derived times", "[apple]") {
  std::vector<Program> steps(1);
  Kernel read = kernel_of("read", kCores);
  read.dram_read_bytes = 1e9;
  Kernel gemm = kernel_of("gemm", kCores);
  gemm.flops = gemm.matmul_flops = 1e12;
  steps[0].kernels = {read, gemm};
  const json result = simulate_in_child(test_soc(), steps);
  REQUIRE(result["kernels"].size() == 2);
  const json& r = result["kernels"][0];
  const json& g = result["kernels"][1];
  // The command buffer reaches the GPU after 2.5 ms, the first dispatch 5.16 us later: nothing
  // before it, since unified memory needs no copy of the weights to the GPU.
  CHECK(r["start"].get<double>() == Approx(kCommandBuffer + kDispatch).margin(kTolerance));
  // 10 cores x 32 KiB in flight / 400 ns = 819 GB/s > 90 GB/s: the channel binds.
  // 400 ns + 1e9 B / 90e9 B/s = 11.111511 ms.
  const double read_time = kLatency + 1e9 / kStreaming;
  CHECK(read_time == Approx(11.111511e-3).epsilon(1e-6));
  CHECK(r["end"].get<double>() - r["start"].get<double>() == Approx(read_time).margin(kTolerance));
  // 1 TFLOP of simdgroup-matrix work on 10 cores at 3.58 TFLOPS x 0.8 = 2.864 TFLOPS:
  // 1e12 / 2.864e12 = 349.162 ms, after one more dispatch gap.
  CHECK(g["start"].get<double>() - r["end"].get<double>() == Approx(kDispatch).margin(kTolerance));
  CHECK(g["end"].get<double>() - g["start"].get<double>() ==
        Approx(1e12 / (kAlu * kEfficiency)).margin(kTolerance));
  CHECK(result["end_time"].get<double>() ==
        Approx(kCommandBuffer + 2 * kDispatch + read_time + 0.349162011).epsilon(1e-8));
}

TEST_CASE("Apple: each step pays one command buffer, an Ultra's dispatch pays per die", "[apple]") {
  // Two steps of one empty-ish kernel (1 tile, 1 FLOP of ALU work) on a 2-die GPU.
  std::vector<Program> steps(2);
  for (Program& step : steps) {
    Kernel tiny = kernel_of("tiny", 1);
    tiny.flops = 1;
    step.kernels = {tiny};
  }
  const json result = simulate_in_child(test_soc(2), steps);
  REQUIRE(result["kernels"].size() == 2);
  // Per step: 2.5 ms + 2 dies x 5.16 us + 1 FLOP / (3.58e12 / 10 cores) (2.8 ps).
  const double step = kCommandBuffer + 2 * kDispatch + 1.0 / (kAlu / kCores);
  CHECK(result["kernels"][1]["start"].get<double>() ==
        Approx(step + kCommandBuffer + 2 * kDispatch).margin(kTolerance));
  CHECK(result["end_time"].get<double>() == Approx(2 * step).margin(2 * kTolerance));
}

TEST_CASE("Apple: fused SDPA saves dispatches and the softmax's round trip to memory", "[apple]") {
  dfsim::RunRequest request;
  request.model = "llama2-7b";
  request.hw = "apple-m2";
  request.phase.kind = dfsim::PhaseKind::kPrefill;
  request.phase.context = 512;
  const dfsim::RunStats fused = dfsim::run_isolated(request);
  request.overrides = {dfsim::parse_override("hw.fused_sdpa=false")};
  const dfsim::RunStats unfused = dfsim::run_isolated(request);
  CHECK(unfused.kernel_launches - fused.kernel_launches == 64);
  // Per layer, S = 32 heads x 512 x 512 x 2 B = 16 MiB of scores. Unfused, the softmax alone
  // reads and writes 2 S at no more than the streaming 90 GB/s, and 2 more dispatches cost
  // 2 x 5.16 us: over 32 layers at least 64 x 5.16 us + 32 x 2 x 16 MiB / 90e9 = 12.26 ms more.
  // At most the scores' write and the values' read of S are not hidden under their math
  // either: 4 S per layer, 64 x 5.16 us + 32 x 4 x 16 MiB / 90e9 + 64 x 400 ns = 24.24 ms.
  const double s = 32.0 * 512 * 512 * 2;
  const double delta = unfused.time_s - fused.time_s;
  CHECK(delta >= 64 * 5.16e-6 + 32 * 2 * s / 90e9);
  CHECK(delta <= 64 * 5.16e-6 + 32 * 4 * s / 90e9 + 64 * 400e-9);
}

TEST_CASE("Apple: unified memory moves only what the kernels read and write", "[apple]") {
  // A decode step reads each weight once from LPDDR; no host-to-device copy adds traffic or
  // time: the run's DRAM bytes are the kernels' bytes, and its time is the steps' command
  // buffers plus the kernels with their dispatch gaps.
  dfsim::RunRequest request;
  request.model = "tiny-llama";
  request.hw = "apple-m2";
  request.phase.context = 16;
  request.phase.tokens = 2;
  const dfsim::RunStats stats = dfsim::run_isolated(request);
  const dfsim::ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
  const HwConfig hw = dfsim::load_hw_config("apple-m2", {});
  double bytes = 0;
  for (const Program& step : dfsim::build_programs(model, hw, request.phase)) {
    for (const Kernel& kernel : step.kernels) bytes += kernel.dram_bytes();
  }
  CHECK(stats.dram_bytes == Approx(bytes).epsilon(1e-12));
  double kernel_time = 0;
  for (const auto& kernel : stats.kernels) kernel_time += kernel.time_s;
  // 2 command buffers of 2.5 ms, one 5.16 us dispatch gap per kernel launch, the kernels.
  CHECK(stats.time_s ==
        Approx(2 * 2.5e-3 + static_cast<double>(stats.kernel_launches) * 5.16e-6 + kernel_time)
            .epsilon(1e-9));
}
