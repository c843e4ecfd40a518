// The SystemC GPU model (models/gpu/gpu_machine.h) on hand-made programs, with every expected
// time derived by hand from the hardware figures pinned below. SystemC elaborates once per
// process, so every simulation runs in a forked child (run_in_child / run_isolated); the test
// process itself never calls simulate().
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "models/simulate.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/report/report.h"
#include "sim/report/summarize.h"

using dfsim::GpuSpec;
using dfsim::HwConfig;
using dfsim::Kernel;
using dfsim::Program;
using nlohmann::json;

namespace {

// The figures of hw_configs/h100-sxm.yaml, pinned here so the hand derivations below do not
// move when the file is retuned.
constexpr int kSms = 132;
constexpr double kPeakBandwidth = 3.35e12;  // B/s
constexpr double kAchievable = 0.89;
constexpr double kStreaming = kPeakBandwidth * kAchievable;  // 2.9815e12 B/s
constexpr double kLatency = 343e-9;                          // s, request to first byte
constexpr double kInflight = 32768;                          // B per SM (32 KiB)
constexpr double kKernelGap = 2.4e-6;                        // s, launched one by one
constexpr double kGraphGap = 2.2e-6;                         // s, replayed from a CUDA graph
constexpr double kTensorBf16 = 989.4e12;                     // FLOP/s, whole chip
constexpr double kVector = 66.9e12;                          // FLOP/s, whole chip

// SystemC time has a 1 ps resolution; every time below is a sum of a few rounded waits.
constexpr double kTimeTolerance = 1e-11;  // s

HwConfig test_gpu(bool cuda_graphs = true) {
  HwConfig hw = dfsim::load_hw_config("h100-sxm", {});
  GpuSpec& gpu = std::get<GpuSpec>(hw.spec);
  gpu.sm_count = kSms;
  gpu.tensor_rate.clear();
  gpu.tensor_rate[dfsim::Dtype::kBf16] = kTensorBf16;
  gpu.tensor_achievable_fraction = 1;  // the pinned rate is the one the math runs at
  gpu.vector_rate = kVector;
  gpu.inflight_bytes_per_sm = kInflight;
  gpu.l2.bandwidth = 9.8e12;
  gpu.hbm.bandwidth = kPeakBandwidth;
  gpu.hbm.achievable_fraction = kAchievable;
  gpu.hbm.latency = kLatency;
  gpu.launch.kernel_overhead = kKernelGap;
  gpu.launch.graph_overhead = kGraphGap;
  gpu.launch.cuda_graphs = cuda_graphs;
  return hw;
}

// A kernel that only reads DRAM, `bytes` split evenly over `tiles`.
Kernel read_kernel(const std::string& name, double bytes, std::int64_t tiles) {
  Kernel kernel;
  kernel.name = name;
  kernel.role = name;
  kernel.dram_read_bytes = bytes;
  kernel.tiles = tiles;
  kernel.tiles_per_unit = 1;
  return kernel;
}

// A kernel with no memory traffic: `tile_seconds` of tensor-core (or CUDA-core) math per tile.
Kernel math_kernel(const std::string& name, std::int64_t tiles, int tiles_per_unit,
                   double tile_seconds, bool tensor = true) {
  Kernel kernel;
  kernel.name = name;
  kernel.role = name;
  kernel.tiles = tiles;
  kernel.tiles_per_unit = tiles_per_unit;
  kernel.compute_dtype = dfsim::Dtype::kBf16;
  // Per-SM rate = chip rate / sm_count, so one tile of tile_seconds holds rate/sm_count x t.
  const double per_tile = tile_seconds * (tensor ? kTensorBf16 : kVector) / kSms;
  kernel.flops = per_tile * static_cast<double>(tiles);
  kernel.matmul_flops = tensor ? kernel.flops : 0;
  return kernel;
}

// "k7" (appending avoids GCC 12's false -Wrestrict on "k" + std::to_string(i)).
std::string numbered(const char* prefix, int i) {
  std::string name = prefix;
  name += std::to_string(i);
  return name;
}

json record_json(const dfsim::KernelRecord& record) {
  return {{"step", record.step},
          {"kernel", record.kernel},
          {"boundary_begin", record.boundary_begin},
          {"start", record.start},
          {"end", record.end},
          {"first_byte", record.dram_first_byte},
          {"last_byte", record.dram_last_byte},
          {"dram_bytes", record.dram_bytes}};
}

// Simulates `steps` on `hw` in a child process; returns the trace (and, if `summarize_too`, the
// summarized sync overhead) as JSON.
json simulate_in_child(const HwConfig& hw, const std::vector<Program>& steps,
                       bool summarize_too = false) {
  return dfsim::run_in_child([&] {
    dfsim::SimulationTrace trace = dfsim::simulate(hw, steps);
    json kernels = json::array();
    for (const dfsim::KernelRecord& record : trace.kernels) kernels.push_back(record_json(record));
    json result{{"end_time", trace.end_time},
                {"streaming_bandwidth", trace.streaming_bandwidth},
                {"kernels", kernels}};
    if (summarize_too) {
      dfsim::ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
      dfsim::Phase phase;
      phase.kind = dfsim::PhaseKind::kDecode;
      phase.tokens = static_cast<std::int64_t>(steps.size());
      dfsim::RunStats stats = dfsim::summarize(trace, steps, model, hw, phase);
      result["sync_overhead_s"] = stats.sync_overhead_s;
      result["time_s"] = stats.time_s;
    }
    return result;
  });
}

double kernel_time(const json& record) {
  return record["end"].get<double>() - record["start"].get<double>();
}

}  // namespace

TEST_CASE("A large memory-bound kernel streams at the configured bandwidth", "[model]") {
  // 1 GB read by 132 tiles (one per SM, one wave), no math.
  const double bytes = 1e9;
  std::vector<Program> steps(1);
  steps[0].kernels.push_back(read_kernel("stream", bytes, kSms));
  json result = simulate_in_child(test_gpu(), steps);

  REQUIRE(result["kernels"].size() == 1);
  const json& record = result["kernels"][0];
  CHECK(result["streaming_bandwidth"].get<double>() == Approx(kStreaming).epsilon(1e-12));
  // Little's-law cap of the wave: 132 SMs x min(32 KiB, 1e9/132 B) / 343 ns = 4325376 / 343e-9
  // = 1.261e13 B/s, above the streaming 3.35e12 x 0.89 = 2.9815e12 B/s: the channel binds.
  // Kernel time = latency + bytes / streaming = 343 ns + 1e9 / 2.9815e12 = 343 ns + 335.4016 us
  //             = 335.7446 us.
  const double expected = kLatency + bytes / kStreaming;
  CHECK(kernel_time(record) == Approx(expected).margin(kTimeTolerance));
  // The launch gap (graph mode, 2.2 us) precedes it: end of run = 337.9446 us.
  CHECK(record["start"].get<double>() == Approx(kGraphGap).margin(kTimeTolerance));
  CHECK(result["end_time"].get<double>() == Approx(kGraphGap + expected).margin(kTimeTolerance));
  // First byte one latency after the start; streaming from first to last byte at exactly S.
  CHECK(record["first_byte"].get<double>() == Approx(kGraphGap + kLatency).margin(kTimeTolerance));
  const double streaming_window =
      record["last_byte"].get<double>() - record["first_byte"].get<double>();
  CHECK(bytes / streaming_window == Approx(kStreaming).epsilon(1e-6));
  // Achieved over the kernel: 335.4016 / 335.7446 = 99.90 % of streaming (>= 97 %).
  const double achieved = bytes / kernel_time(record);
  CHECK(achieved >= 0.97 * kStreaming);
  CHECK(achieved / kStreaming == Approx(335.40164 / 335.74464).epsilon(1e-6));
}

TEST_CASE("A tiny kernel is latency-bound and far from the streaming bandwidth", "[model]") {
  // 4 KiB read by one tile on one SM.
  const double bytes = 4096;
  std::vector<Program> steps(1);
  steps[0].kernels.push_back(read_kernel("tiny", bytes, 1));
  json result = simulate_in_child(test_gpu(), steps);

  REQUIRE(result["kernels"].size() == 1);
  const json& record = result["kernels"][0];
  // The tile keeps min(32768, 4096) = 4096 B in flight: its whole read is one window of
  // requests, all out before the first byte returns. So the bytes arrive one latency after the
  // start and then as fast as HBM delivers them:
  // time = 343 ns + 4096 / 2.9815e12 s (1.374 ns) = 344.374 ns.
  const double expected = kLatency + bytes / kStreaming;
  CHECK(expected == Approx(344.374e-9).epsilon(1e-5));
  CHECK(kernel_time(record) == Approx(expected).margin(kTimeTolerance));
  // Achieved: 4096 B / 344.374 ns = 1.1894e10 B/s = 0.40 % of 2.9815e12 (< 5 %): latency is
  // almost all of the time.
  const double achieved = bytes / kernel_time(record);
  CHECK(achieved == Approx(1.18941e10).epsilon(1e-3));
  CHECK(achieved < 0.05 * kStreaming);
}

TEST_CASE("A kernel with few tiles is capped by Little's law", "[model]") {
  // 4 tiles of 8 MiB: 4 active SMs of 132.
  const double tile = 8.0 * 1024 * 1024;
  const double bytes = 4 * tile;  // 32 MiB = 33554432 B
  std::vector<Program> steps(1);
  steps[0].kernels.push_back(read_kernel("few_tiles", bytes, 4));
  json result = simulate_in_child(test_gpu(), steps);

  REQUIRE(result["kernels"].size() == 1);
  const json& record = result["kernels"][0];
  // 4 SMs x min(32 KiB, 8 MiB) = 131072 B in flight. The first window arrives at the streaming
  // rate; after it every request waits a round trip, so the rate is capped at
  // 131072 B / 343 ns = 3.8213e11 B/s, 12.8 % of the 2.9815e12 streaming bandwidth.
  const double in_flight = 4 * 32768.0;
  const double cap = in_flight / kLatency;
  CHECK(cap == Approx(3.82134e11).epsilon(1e-5));
  CHECK(cap / kStreaming == Approx(0.128168).epsilon(1e-4));
  // Kernel time = 343 ns + 131072 / 2.9815e12 (43.96 ns) + (33554432 - 131072) / 3.8213e11
  // (87.465 us) = 87.852 us.
  const double expected = kLatency + in_flight / kStreaming + (bytes - in_flight) / cap;
  CHECK(expected == Approx(87.852e-6).epsilon(1e-4));
  CHECK(kernel_time(record) == Approx(expected).margin(kTimeTolerance));
  // Between first and last byte the average rate is just above the cap (the first window).
  const double window = record["last_byte"].get<double>() - record["first_byte"].get<double>();
  CHECK(bytes / window == Approx(bytes / (expected - kLatency)).epsilon(1e-6));
  CHECK(bytes / kernel_time(record) < 0.15 * kStreaming);
}

TEST_CASE(
    "A Hopper GEMV with too few bytes in flight falls short of the stream rate by Little's law",
    "[model]") {
  // The family-wide 13.5 KiB per SM (FITTED, a100-80gb.yaml) and H100's latency under load
  // (785 ns, h100-sxm.yaml), pinned here: 1 GB read by one tile per SM, one wave.
  HwConfig hw = test_gpu();
  GpuSpec& gpu = std::get<GpuSpec>(hw.spec);
  gpu.inflight_bytes_per_sm = 13824;
  gpu.hbm.latency = 785e-9;
  const double bytes = 1e9;
  std::vector<Program> steps(1);
  steps[0].kernels.push_back(read_kernel("gemv", bytes, kSms));
  json result = simulate_in_child(hw, steps);
  REQUIRE(result["kernels"].size() == 1);
  const json& record = result["kernels"][0];
  // In flight: 132 x 13824 = 1,824,768 B; cap = 1,824,768 / 785 ns = 2.32455e12 B/s, 78 % of
  // the 2.9815e12 streaming rate. Time = 785 ns + 1,824,768 / 2.9815e12 (612.03 ns)
  // + (1e9 - 1,824,768) / 2.32455e12 (429.4067 us) = 430.8037 us.
  const double in_flight = kSms * 13824.0;
  const double cap = in_flight / 785e-9;
  CHECK(cap == Approx(2.324545e12).epsilon(1e-6));
  CHECK(kernel_time(record) == Approx(430.8037e-6).epsilon(1e-6));
  // Achieved 1e9 / 430.8037 us = 2.32124e12 B/s: short of the stream rate by the ratio Little's
  // law gives (0.7785), not by the 0.89 stream fraction alone.
  const double achieved = bytes / kernel_time(record);
  CHECK(achieved / kStreaming == Approx(0.77855).epsilon(1e-4));
  CHECK(achieved < cap);
  // With the 32 KiB a streaming kernel keeps (the test GPU's figure) the channel binds instead.
  HwConfig wide = test_gpu();
  std::get<GpuSpec>(wide.spec).hbm.latency = 785e-9;
  json streaming = simulate_in_child(wide, steps);
  CHECK(bytes / kernel_time(streaming["kernels"][0]) > 0.99 * kStreaming);
}

TEST_CASE("Tiles beyond one wave cost a whole extra wave", "[model]") {
  // Math-only kernels, 100 us of work per tile. No DRAM bytes: the (empty) DRAM request ends
  // after one latency (343 ns), hidden under the math of the wave.
  const double t = 100e-6;
  std::vector<Program> steps(1);
  steps[0].kernels.push_back(math_kernel("one_wave", kSms, 1, t));              // 132 tiles
  steps[0].kernels.push_back(math_kernel("one_more", kSms + 1, 1, t));          // 133 tiles
  steps[0].kernels.push_back(math_kernel("two_waves", 2 * kSms, 1, t));         // 264 tiles
  steps[0].kernels.push_back(math_kernel("two_resident", 2 * kSms + 1, 2, t));  // 265, 2 per SM
  steps[0].kernels.push_back(math_kernel("cuda_cores", kSms, 1, t, false));     // vector rate
  json result = simulate_in_child(test_gpu(), steps);

  REQUIRE(result["kernels"].size() == 5);
  const json& k = result["kernels"];
  // 132 tiles on 132 SMs: one wave of one tile per SM = 100 us.
  CHECK(kernel_time(k[0]) == Approx(t).margin(kTimeTolerance));
  // 133 tiles: a full wave (100 us) plus a wave of 1 tile (100 us) = 200 us, 2x for 0.8 % more
  // work.
  CHECK(kernel_time(k[1]) == Approx(2 * t).margin(kTimeTolerance));
  CHECK(kernel_time(k[1]) / kernel_time(k[0]) == Approx(2.0).epsilon(1e-6));
  // 264 tiles: two full waves, the same 200 us as 133 tiles.
  CHECK(kernel_time(k[2]) == Approx(2 * t).margin(kTimeTolerance));
  // 2 tiles resident per SM: a wave holds 264 tiles and lasts 2 x 100 us (the busiest SM runs
  // two); the 265th tile is a third, 100 us wave: 300 us.
  CHECK(kernel_time(k[3]) == Approx(3 * t).margin(kTimeTolerance));
  // Non-tensor flops run at vector_rate / sm_count per SM: sized to 100 us per tile as well.
  CHECK(kernel_time(k[4]) == Approx(t).margin(kTimeTolerance));
}

TEST_CASE("Tensor-core math runs at the measured share of the datasheet rate", "[model]") {
  // 100 us of math per tile at the pinned bf16 peak; with tensor_achievable_fraction 0.859
  // (a100-80gb.yaml's, the measured best GEMM's share) it lasts 100 / 0.859 = 116.414 us. The
  // CUDA cores' math does not change: 100 us.
  const double t = 100e-6;
  std::vector<Program> steps(1);
  steps[0].kernels.push_back(math_kernel("tensor", kSms, 1, t));
  steps[0].kernels.push_back(math_kernel("cuda_cores", kSms, 1, t, false));
  HwConfig hw = test_gpu();
  std::get<GpuSpec>(hw.spec).tensor_achievable_fraction = 0.859;
  json result = simulate_in_child(hw, steps);
  REQUIRE(result["kernels"].size() == 2);
  CHECK(kernel_time(result["kernels"][0]) == Approx(116.414e-6).epsilon(1e-5));
  CHECK(kernel_time(result["kernels"][1]) == Approx(t).margin(kTimeTolerance));
  // The shipped figures (stas00/ml-engineering's MAMF table): A100 SXM 267.9 / 312, H100 SXM
  // 792.1 / 989, GH200 821.0 / 989; H200 inherits H100's.
  CHECK(dfsim::load_hw_config("a100-80gb", {}).gpu()->tensor_achievable_fraction == 0.859);
  CHECK(dfsim::load_hw_config("h100-sxm", {}).gpu()->tensor_achievable_fraction == 0.801);
  CHECK(dfsim::load_hw_config("h200", {}).gpu()->tensor_achievable_fraction == 0.801);
  CHECK(dfsim::load_hw_config("gh200", {}).gpu()->tensor_achievable_fraction == 0.830);
  CHECK_THROWS_WITH(dfsim::load_hw_config("h100-sxm", {{"hw.tensor_achievable_fraction", "1.2"}}),
                    Catch::Contains("tensor_achievable_fraction"));
}

TEST_CASE("Dequantization runs on the CUDA cores and overlaps the loads", "[model][dtype]") {
  // vector_rate counts an FMA as 2 FLOPs: one SM issues 66.9e12 / 2 / 132 = 2.534e11 FMA slots
  // per second. 132 tiles of 2.534e11 x 100 us = 2.534e7 slots each last 100 us.
  const double t = 100e-6;
  const double slots_per_tile = t * kVector / 2 / kSms;
  std::vector<Program> steps(1);
  Kernel dequant = read_kernel("dequant_only", 0, kSms);
  dequant.dequant_slots = slots_per_tile * kSms;
  steps[0].kernels.push_back(dequant);
  // The same slots with 1 GB of reads: streaming takes 1e9 / 2.9815e12 = 335.4 us plus one
  // latency (343 ns) > 100 us of dequantization, so the wave lasts as long as the loads.
  Kernel both = read_kernel("dequant_and_loads", 1e9, kSms);
  both.dequant_slots = slots_per_tile * kSms;
  steps[0].kernels.push_back(both);
  // Twice the reads' time in dequantization (2 x 335.74 us): the wave waits for the math.
  Kernel heavy = read_kernel("dequant_bound", 1e9, kSms);
  const double heavy_time = 2 * (1e9 / kStreaming + kLatency);
  heavy.dequant_slots = heavy_time * kVector / 2 / kSms * kSms;
  steps[0].kernels.push_back(heavy);
  json result = simulate_in_child(test_gpu(), steps);
  REQUIRE(result["kernels"].size() == 3);
  const json& k = result["kernels"];
  CHECK(kernel_time(k[0]) == Approx(t).margin(kTimeTolerance));
  CHECK(kernel_time(k[1]) == Approx(1e9 / kStreaming + kLatency).epsilon(1e-6));
  CHECK(kernel_time(k[2]) == Approx(heavy_time).epsilon(1e-6));
}

TEST_CASE("More kernel launches cost more time", "[model]") {
  // The same 1e9 bytes read as 1 kernel or as 100 kernels of 1e7 bytes, each on 132 tiles.
  // With 1e7 B / 132 = 75758 B per tile, each SM keeps 32 KiB in flight: cap = 1.26e13 B/s,
  // above streaming, so every kernel streams at 2.9815e12 B/s.
  const double bytes = 1e9;
  std::vector<Program> one(1);
  one[0].kernels.push_back(read_kernel("all", bytes, kSms));
  std::vector<Program> hundred(1);
  for (int i = 0; i < 100; ++i) {
    hundred[0].kernels.push_back(read_kernel(numbered("part", i), bytes / 100, kSms));
  }
  const double t_one = simulate_in_child(test_gpu(true), one)["end_time"].get<double>();
  const double t_hundred = simulate_in_child(test_gpu(true), hundred)["end_time"].get<double>();
  const double t_hundred_no_graphs =
      simulate_in_child(test_gpu(false), hundred)["end_time"].get<double>();

  // Each kernel costs launch gap + latency + its bytes / streaming; the streaming time sums to
  // 1e9 / 2.9815e12 = 335.40 us either way.
  // 1 kernel:    2.2 us + 0.343 us + 335.40 us = 337.94 us.
  CHECK(t_one == Approx(kGraphGap + kLatency + bytes / kStreaming).margin(kTimeTolerance));
  // 100 kernels: 100 x (2.2 + 0.343) us + 335.40 us = 589.70 us, i.e. 99 x 2.543 us = 251.76 us
  // more than one kernel.
  CHECK(t_hundred - t_one == Approx(99 * (kGraphGap + kLatency)).margin(100 * kTimeTolerance));
  CHECK(t_hundred - t_one == Approx(251.757e-6).epsilon(1e-5));
  // Without CUDA graphs each of the 100 launches costs kernel_overhead (2.4 us) instead of
  // graph_overhead (2.2 us): 100 x 0.2 us = 20 us slower.
  REQUIRE(kKernelGap > kGraphGap);
  CHECK(t_hundred_no_graphs > t_hundred);
  CHECK(t_hundred_no_graphs - t_hundred ==
        Approx(100 * (kKernelGap - kGraphGap)).margin(100 * kTimeTolerance));
}

TEST_CASE("Sync overhead is the launch gap plus latency of every boundary", "[model]") {
  // 10 identical memory-bound kernels of 1e8 bytes on 132 tiles (streaming, as above).
  constexpr int kKernels = 10;
  const double bytes = 1e8;
  std::vector<Program> steps(1);
  for (int i = 0; i < kKernels; ++i) {
    steps[0].kernels.push_back(read_kernel(numbered("k", i), bytes, kSms));
  }
  json graphs = simulate_in_child(test_gpu(true), steps, true);
  json no_graphs = simulate_in_child(test_gpu(false), steps, true);

  // Memory idles from one kernel's last byte (the grid drains with it) through the launch gap
  // and the next kernel's first-byte latency; the first kernel's window starts at t = 0.
  // Graphs:    10 x (2.2 us + 0.343 us) = 25.43 us.
  // No graphs: 10 x (2.4 us + 0.343 us) = 27.43 us.
  const double sync_graphs = graphs["sync_overhead_s"].get<double>();
  const double sync_no_graphs = no_graphs["sync_overhead_s"].get<double>();
  CHECK(sync_graphs == Approx(kKernels * (kGraphGap + kLatency)).margin(100 * kTimeTolerance));
  CHECK(sync_graphs == Approx(25.43e-6).epsilon(1e-6));
  CHECK(sync_no_graphs == Approx(kKernels * (kKernelGap + kLatency)).margin(100 * kTimeTolerance));
  CHECK(sync_no_graphs - sync_graphs ==
        Approx(kKernels * (kKernelGap - kGraphGap)).margin(100 * kTimeTolerance));
  // The rest of the run is streaming: time = sync + 10 x 1e8 / 2.9815e12 = 25.43 + 335.40 us.
  CHECK(graphs["time_s"].get<double>() - sync_graphs ==
        Approx(kKernels * bytes / kStreaming).margin(100 * kTimeTolerance));

  // Each boundary window as recorded: last byte of kernel i -> first byte of kernel i + 1.
  const json& k = graphs["kernels"];
  REQUIRE(k.size() == kKernels);
  for (int i = 1; i < kKernels; ++i) {
    CHECK(k[i]["first_byte"].get<double>() - k[i - 1]["last_byte"].get<double>() ==
          Approx(kGraphGap + kLatency).margin(10 * kTimeTolerance));
  }
}

TEST_CASE("idle_streaming_time integrates the unused bandwidth", "[model]") {
  // Streaming S = 100; rate 0 until t=1, S/2 until 3, S until 5, 0 after.
  const std::vector<dfsim::RatePoint> log{{0, 0}, {1, 50}, {3, 100}, {5, 0}};
  // [0, 6]: 1 x 1 + 2 x 0.5 + 2 x 0 + 1 x 1 = 3.
  CHECK(dfsim::idle_streaming_time(log, 100, 0, 6) == Approx(3));
  // [2, 4]: 1 x 0.5 + 1 x 0 = 0.5 (the window starts inside a segment).
  CHECK(dfsim::idle_streaming_time(log, 100, 2, 4) == Approx(0.5));
  // Empty or reversed windows are free.
  CHECK(dfsim::idle_streaming_time(log, 100, 4, 4) == 0);
  CHECK(dfsim::idle_streaming_time(log, 100, 4, 2) == 0);
  // Before the first point nothing streams: [-2, 1] = 3 x 1.
  CHECK(dfsim::idle_streaming_time({{1, 100}}, 100, -2, 1) == Approx(3));
}

TEST_CASE("The same run request gives bit-identical results", "[model]") {
  dfsim::RunRequest request;
  request.model = "llama3.2-1b";
  request.hw = "h100-sxm";
  request.phase.kind = dfsim::PhaseKind::kDecode;
  request.phase.tokens = 4;
  const std::string first = dfsim::to_json(dfsim::run_isolated(request)).dump();
  const std::string second = dfsim::to_json(dfsim::run_isolated(request)).dump();
  CHECK(first == second);
  // And the report is not empty: 4 tokens took time.
  CHECK(json::parse(first)["time_s"].get<double>() > 0);
}

TEST_CASE("Decode attention slows down as the KV cache grows", "[model]") {
  // 8 decode steps of llama3.1-8b from 1024 cached tokens: step s reads 1024 + s + 1 keys.
  json result = dfsim::run_in_child([] {
    HwConfig hw = dfsim::load_hw_config("h100-sxm", {});
    dfsim::ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
    dfsim::Phase phase;
    phase.kind = dfsim::PhaseKind::kDecode;
    phase.context = 1024;
    phase.tokens = 8;
    std::vector<Program> programs = dfsim::build_programs(model, hw, phase);
    dfsim::SimulationTrace trace = dfsim::simulate(hw, programs);
    json attention = json::array();
    for (const dfsim::KernelRecord& record : trace.kernels) {
      const Kernel& kernel = programs.at(record.step).kernels.at(record.kernel);
      if (kernel.role == "attention" && kernel.layer == 0) {
        attention.push_back({{"step", record.step},
                             {"time", record.end - record.start},
                             {"dram_bytes", record.dram_bytes}});
      }
    }
    return json{{"attention", attention},
                {"steps", trace.kernels.back().step + 1},
                {"streaming_bandwidth", trace.streaming_bandwidth}};
  });

  CHECK(result["steps"].get<int>() == 8);
  const json& attention = result["attention"];
  REQUIRE(attention.size() == 8);
  for (std::size_t step = 0; step < 8; ++step) {
    CHECK(attention[step]["step"].get<std::size_t>() == step);
  }
  // Each step caches one more token: K and V of 8 KV heads x 128 dims in bf16 =
  // 2 x 8 x 128 x 2 B = 4096 B more per layer per step, so step 7 reads 7 x 4096 = 28672 B more.
  const double bytes0 = attention[0]["dram_bytes"].get<double>();
  const double bytes7 = attention[7]["dram_bytes"].get<double>();
  CHECK(bytes7 - bytes0 == Approx(7 * 4096.0).margin(1e-6));
  // ... and takes longer; every step at least as long as the one before.
  const double time0 = attention[0]["time"].get<double>();
  const double time7 = attention[7]["time"].get<double>();
  INFO("attention layer 0: step 0 " << time0 * 1e9 << " ns, step 7 " << time7 * 1e9 << " ns");
  CHECK(time7 > time0);
  for (std::size_t step = 1; step < 8; ++step) {
    CHECK(attention[step]["time"].get<double>() > attention[step - 1]["time"].get<double>());
  }
  // By how much: TensorRT-LLM's XQA (h100-sxm's decode_attention; a bf16 cache runs mha.cu)
  // splits 1025-1032 keys into min(132 / 8 KV heads = 16, ceil(keys / 256) = 5) = 5
  // sub-sequences: 40 CTAs, one per SM, each with min(131,072 B of buffers, its ~105 KB share) in
  // flight: 40 x ~105 KB / 785 ns ~ 5.3e12 B/s, above streaming (2.9815e12). The extra 28672 B
  // stream: 28672 / 2.9815e12 = 9.62 ns. (The generic FlashDecoding kernel, capped at
  // 132 x 13.5 KiB / 785 ns = 2.3245e12 B/s, would take 12.3 ns.)
  const double streaming = result["streaming_bandwidth"].get<double>();
  CHECK(streaming == Approx(2.9815e12));
  CHECK(time7 - time0 == Approx((bytes7 - bytes0) / streaming).epsilon(0.01));
}

TEST_CASE("A kernel's own bytes in flight cap its waves, scaled by the tiles an SM holds",
          "[model]") {
  // 140 tiles of 1 MiB, 4 resident per SM: one wave of 140 on 132 SMs, the busiest SM holds
  // ceil(140 / 132) = 2 of its 4 tiles. The kernel keeps 8 KiB in flight per full SM, so each
  // SM of this wave keeps 8192 x 2 / 4 = 4096 B (not the machine's 32 KiB).
  const double tile = 1024.0 * 1024;
  const double bytes = 140 * tile;  // 146800640 B
  Kernel kernel = read_kernel("own_inflight", bytes, 140);
  kernel.tiles_per_unit = 4;
  kernel.inflight_bytes_per_unit = 8192;
  std::vector<Program> steps(1);
  steps[0].kernels.push_back(kernel);
  json result = simulate_in_child(test_gpu(), steps);

  REQUIRE(result["kernels"].size() == 1);
  // 132 SMs x 4096 B = 540672 B in flight; cap = 540672 / 343 ns = 1.57630e12 B/s (52.9 % of
  // the 2.9815e12 streaming rate). Time = 343 ns + 540672 / 2.9815e12 (181.34 ns)
  // + (146800640 - 540672) / 1.57630e12 (92.787 us) = 93.311 us.
  const double in_flight = 132 * 4096.0;
  const double cap = in_flight / kLatency;
  CHECK(cap == Approx(1.57630e12).epsilon(1e-5));
  const double expected = kLatency + in_flight / kStreaming + (bytes - in_flight) / cap;
  CHECK(expected == Approx(93.311e-6).epsilon(1e-4));
  CHECK(kernel_time(result["kernels"][0]) == Approx(expected).margin(kTimeTolerance));
}
