// The wave executor the tile machines share (models/common/tile_waves.h): the Little's-law cap
// and a kernel's own in-flight bytes (Kernel::inflight_bytes_per_unit), derived by hand. The
// simulated case runs in a forked child (SystemC elaborates once per process).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <variant>
#include <vector>

#include "models/common/tile_waves.h"
#include "models/simulate.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/mapping/gpu_mapper.h"
#include "sim/mapping/mapper.h"
#include "sim/workload/workload_graph.h"

using dfsim::Kernel;
using dfsim::WaveUnits;

namespace {

// h100-sxm's figures, pinned so the derivations below do not move when the file is retuned.
constexpr int kSms = 132;
constexpr double kStreaming = 3.35e12 * 0.89;  // B/s: 2.9815e12
constexpr double kLatency = 343e-9;            // s
constexpr double kInflight = 32768;            // B per SM, the machine's default

// 4 tiles of 8 MiB reading DRAM only: 4 SMs active of 132.
Kernel four_tile_read(const char* name, double inflight_override) {
  Kernel kernel;
  kernel.name = name;
  kernel.role = name;
  kernel.dram_read_bytes = 4 * 8.0 * 1024 * 1024;
  kernel.tiles = 4;
  kernel.tiles_per_unit = 1;
  kernel.inflight_bytes_per_unit = inflight_override;
  return kernel;
}

}  // namespace

TEST_CASE("tile waves: a kernel's in-flight bytes replace the machine's default", "[model]") {
  WaveUnits units;
  units.count = kSms;
  units.inflight_bytes_per_unit = kInflight;
  CHECK(dfsim::inflight_bytes_per_unit(four_tile_read("default", 0), units) == kInflight);
  CHECK(dfsim::inflight_bytes_per_unit(four_tile_read("wide", 131072), units) == 131072);

  const double tile = 8.0 * 1024 * 1024;
  // 4 units x min(32 KiB, 8 MiB) = 131072 B over 343 ns: 3.82134e11 B/s.
  CHECK(dfsim::little_law_cap(kInflight, 4, 1, tile, kLatency) == Approx(3.82134e11).epsilon(1e-5));
  // 4 units x min(128 KiB, 8 MiB) = 524288 B over 343 ns: 1.52854e12 B/s, four times as much.
  CHECK(dfsim::little_law_cap(131072, 4, 1, tile, kLatency) == Approx(1.52854e12).epsilon(1e-5));
  // A unit never has more in flight than its tiles' bytes: 4 x min(128 KiB, 2 x 16 KiB) = 131072.
  CHECK(dfsim::little_law_cap(131072, 4, 2, 16384, kLatency) == Approx(3.82134e11).epsilon(1e-5));
  // No latency: uncapped.
  CHECK(dfsim::little_law_cap(131072, 4, 1, tile, 0) == 0);
}

TEST_CASE("tile waves: a kernel's in-flight bytes set its waves' DRAM rate on a GPU", "[model]") {
  dfsim::HwConfig hw = dfsim::load_hw_config("h100-sxm", {});
  dfsim::GpuSpec& gpu = std::get<dfsim::GpuSpec>(hw.spec);
  gpu.sm_count = kSms;
  gpu.hbm.bandwidth = 3.35e12;
  gpu.hbm.achievable_fraction = 0.89;
  gpu.hbm.latency = kLatency;
  gpu.inflight_bytes_per_sm = kInflight;
  std::vector<dfsim::Program> steps(1);
  steps[0].kernels.push_back(four_tile_read("default", 0));
  steps[0].kernels.push_back(four_tile_read("wide", 131072));
  const nlohmann::json times = dfsim::run_in_child([&] {
    dfsim::SimulationTrace trace = dfsim::simulate(hw, steps);
    nlohmann::json out = nlohmann::json::array();
    for (const dfsim::KernelRecord& record : trace.kernels)
      out.push_back(record.end - record.start);
    return out;
  });
  REQUIRE(times.size() == 2);
  const double bytes = 4 * 8.0 * 1024 * 1024;  // 33554432 B
  // Default: 131072 B in flight. The first window streams (131072 / 2.9815e12 = 43.96 ns), the
  // rest at the cap: 343 ns + 43.96 ns + 33423360 / 3.82134e11 (87.465 us) = 87.852 us.
  CHECK(times[0].get<double>() == Approx(87.852e-6).epsilon(1e-4));
  // 128 KiB per SM: 524288 B in flight, cap 1.52854e12 B/s (51 % of streaming):
  // 343 ns + 175.85 ns + 33030144 / 1.52854e12 (21.609 us) = 22.128 us.
  CHECK(times[1].get<double>() == Approx(22.128e-6).epsilon(1e-4));
  const double in_flight = 4 * 131072.0;
  CHECK(times[1].get<double>() ==
        Approx(kLatency + in_flight / kStreaming + (bytes - in_flight) / (in_flight / kLatency))
            .epsilon(1e-6));
}

TEST_CASE("tile waves: a kernel whose loads wait for its math pays latency plus math per window",
          "[model]") {
  // A unit of one 8 MiB tile with 100 us of math keeping 128 KiB in flight spends
  // 100 us x 131072 / 8388608 = 1.5625 us of math on each window.
  const double tile = 8.0 * 1024 * 1024;
  CHECK(dfsim::window_math_seconds(1, 100e-6, tile, 131072) == Approx(1.5625e-6).epsilon(1e-12));
  // Two tiles on the unit: twice the math over twice the bytes, the same share per window.
  CHECK(dfsim::window_math_seconds(2, 100e-6, tile, 131072) == Approx(1.5625e-6).epsilon(1e-12));
  // 4 units x 131072 B over 343 ns + 1562.5 ns: 524288 / 1.9055e-6 = 2.75145e11 B/s, against
  // 1.52854e12 when the next loads overlap the math (5.6 x less).
  CHECK(dfsim::little_law_cap(131072, 4, 1, tile, kLatency, 1.5625e-6) ==
        Approx(2.751446e11).epsilon(1e-6));

  dfsim::HwConfig hw = dfsim::load_hw_config("h100-sxm", {});
  dfsim::GpuSpec& gpu = std::get<dfsim::GpuSpec>(hw.spec);
  gpu.sm_count = kSms;
  gpu.hbm.bandwidth = 3.35e12;
  gpu.hbm.achievable_fraction = 0.89;
  gpu.hbm.latency = kLatency;
  gpu.vector_rate = 66.9e12;
  // 100 us of CUDA-core math per tile: 100e-6 x 66.9e12 / 132 FLOPs.
  Kernel serial = four_tile_read("serial", 131072);
  serial.flops = 4 * 100e-6 * 66.9e12 / kSms;
  serial.loads_wait_for_math = true;
  Kernel pipelined = serial;
  pipelined.name = pipelined.role = "pipelined";
  pipelined.loads_wait_for_math = false;
  std::vector<dfsim::Program> steps(1);
  steps[0].kernels = {serial, pipelined};
  const nlohmann::json times = dfsim::run_in_child([&] {
    dfsim::SimulationTrace trace = dfsim::simulate(hw, steps);
    nlohmann::json out = nlohmann::json::array();
    for (const dfsim::KernelRecord& record : trace.kernels)
      out.push_back(record.end - record.start);
    return out;
  });
  REQUIRE(times.size() == 2);
  // Serial: the channel's first window is cap x latency = 2.751446e11 x 343 ns = 94374.6 B:
  // 343 ns + 94374.6 / 2.9815e12 (31.65 ns) + 33460057 / 2.751446e11 (121.6087 us)
  // = 121.9837 us; the 100 us of math are inside the windows' round trips.
  CHECK(times[0].get<double>() == Approx(121.9837e-6).epsilon(1e-5));
  // Pipelined: the loads (22.128 us at the 1.52854e12 cap) hide under the 100 us of math.
  CHECK(times[1].get<double>() == Approx(100e-6).epsilon(1e-4));
}

TEST_CASE(
    "tile waves: a Marlin int4 GEMV streams at the stream rate where the generic one is capped",
    "[model][dtype]") {
  // a100-80gb's figures, pinned: 108 SMs, 2.039 TB/s x 0.83 = 1.69237e12 B/s streaming, 983 ns
  // under load, 13.5 KiB (13824 B) in flight per SM by default.
  dfsim::HwConfig hw = dfsim::load_hw_config("a100-80gb", {});
  dfsim::GpuSpec& gpu = std::get<dfsim::GpuSpec>(hw.spec);
  gpu.sm_count = 108;
  gpu.hbm.bandwidth = 2.039e12;
  gpu.hbm.achievable_fraction = 0.83;
  gpu.hbm.latency = 983e-9;
  gpu.inflight_bytes_per_sm = 13824;
  REQUIRE(gpu.int4_kernel == dfsim::Int4Kernel::kMarlin);
  const dfsim::ModelSpec model =
      dfsim::load_model_spec("llama2-7b", {{"model.weight_dtype", "int4"}});
  const dfsim::Program mapped =
      dfsim::map_to_gpu(dfsim::build_decoder_graph(model, dfsim::StepShape{1, 1, 127, false}), gpu);
  Kernel marlin;
  for (const Kernel& kernel : mapped.kernels) {
    if (kernel.name == "layer0.qkv_proj") marlin = kernel;
  }
  // q/k/v: 4096 x 12288 int4 weights at 0.53125 B (26,738,688 B), the 4096-element bf16 input
  // (8192 B) and the 12288 bf16 outputs (24,576 B): 26,771,456 B.
  REQUIRE(marlin.dram_bytes() == Approx(26771456.0));
  REQUIRE(marlin.inflight_bytes_per_unit == Approx(26112.0));  // 3 stages x 128 x 128 x 0.53125
  Kernel generic = marlin;
  generic.name = "generic";
  generic.inflight_bytes_per_unit = 0;  // the machine's 13.5 KiB
  std::vector<dfsim::Program> steps(1);
  steps[0].kernels = {marlin, generic};
  const nlohmann::json times = dfsim::run_in_child([&] {
    dfsim::SimulationTrace trace = dfsim::simulate(hw, steps);
    nlohmann::json out = nlohmann::json::array();
    for (const dfsim::KernelRecord& record : trace.kernels)
      out.push_back(record.end - record.start);
    return out;
  });
  REQUIRE(times.size() == 2);
  // Marlin: 108 x 26112 B / 983 ns = 2.86886e12 B/s of Little's-law cap, above the stream rate,
  // so the bytes stream after one latency: 983 ns + 26771456 / 1.69237e12 (15.8189 us)
  // = 16.8019 us. (Its 7.23 us of dequantization, 70.5 M slots at 9.75e12/s, hide under it.)
  CHECK(times[0].get<double>() == Approx(16.8019e-6).epsilon(1e-4));
  // Generic: 108 x 13824 = 1,492,992 B in flight, cap 1.492992e6 / 983 ns = 1.518812e12 B/s:
  // 983 ns + 1492992 / 1.69237e12 (0.8822 us) + 25278464 / 1.518812e12 (16.6436 us)
  // = 18.5088 us, 10 % longer.
  CHECK(times[1].get<double>() == Approx(18.5088e-6).epsilon(1e-4));
}

TEST_CASE("tile waves: a Machete int4 GEMV has every SM's share in flight and streams on H200",
          "[model][dtype]") {
  // h200's figures, pinned: 132 SMs, 4.8 TB/s x 0.86 = 4.128e12 B/s streaming, 785 ns under
  // load, 13.5 KiB (13824 B) in flight per SM by default.
  dfsim::HwConfig hw = dfsim::load_hw_config("h200", {});
  dfsim::GpuSpec& gpu = std::get<dfsim::GpuSpec>(hw.spec);
  gpu.sm_count = 132;
  gpu.hbm.bandwidth = 4.8e12;
  gpu.hbm.achievable_fraction = 0.86;
  gpu.hbm.latency = 785e-9;
  gpu.inflight_bytes_per_sm = 13824;
  REQUIRE(gpu.int4_kernel == dfsim::Int4Kernel::kMachete);
  const dfsim::ModelSpec model =
      dfsim::load_model_spec("llama3.1-8b", {{"model.weight_dtype", "int4"}});
  const dfsim::Program mapped =
      dfsim::map_to_gpu(dfsim::build_decoder_graph(model, dfsim::StepShape{1, 1, 127, false}), gpu);
  Kernel machete;
  for (const Kernel& kernel : mapped.kernels) {
    if (kernel.name == "layer0.qkv_proj") machete = kernel;
  }
  // q/k/v: 4096 x (4096 + 1024 + 1024) int4 weights at 0.53125 B (13,369,344 B), the bf16 input
  // (8192 B) and 6144 bf16 outputs (12,288 B): 13,389,824 B over 132 SMs (64 x 48 = 3072 tiles).
  REQUIRE(machete.dram_bytes() == Approx(13389824.0));
  REQUIRE(machete.tiles == 132);
  REQUIRE(machete.inflight_bytes_per_unit == Approx(134912.0));  // 31 x 128 x 64 x 0.53125
  Kernel generic = machete;
  generic.name = "generic";
  generic.inflight_bytes_per_unit = 0;  // the machine's 13.5 KiB
  std::vector<dfsim::Program> steps(1);
  steps[0].kernels = {machete, generic};
  const nlohmann::json times = dfsim::run_in_child([&] {
    dfsim::SimulationTrace trace = dfsim::simulate(hw, steps);
    nlohmann::json out = nlohmann::json::array();
    for (const dfsim::KernelRecord& record : trace.kernels)
      out.push_back(record.end - record.start);
    return out;
  });
  REQUIRE(times.size() == 2);
  // Machete: an SM's share (13389824 / 132 = 101,438 B) is below its 134,912 B of stages, so all
  // of it is in flight at once: cap 13389824 / 785 ns = 1.7057e13 B/s, above streaming:
  // 785 ns + 13389824 / 4.128e12 (3.24366 us) = 4.02866 us. (Its 2.07 us of dequantization,
  // 69.2 M slots at 33.45e12/s, hide under it.)
  CHECK(times[0].get<double>() == Approx(4.02866e-6).epsilon(1e-4));
  // Generic: 132 x 13824 = 1,824,768 B in flight, cap 1824768 / 785 ns = 2.324545e12 B/s:
  // 785 ns + 1824768 / 4.128e12 (0.44205 us) + 11565056 / 2.324545e12 (4.97519 us)
  // = 6.20223 us, 54 % longer.
  CHECK(times[1].get<double>() == Approx(6.20223e-6).epsilon(1e-4));
}

TEST_CASE(
    "tile waves: an XQA decode attention streams at the stream rate where the generic one is "
    "capped",
    "[model]") {
  // h100-sxm's figures, pinned: 132 SMs, 3.35 TB/s x 0.89 = 2.9815e12 B/s streaming, 785 ns under
  // load, 13.5 KiB (13824 B) in flight per SM by default.
  dfsim::HwConfig hw = dfsim::load_hw_config("h100-sxm", {});
  dfsim::GpuSpec& gpu = std::get<dfsim::GpuSpec>(hw.spec);
  gpu.sm_count = 132;
  gpu.hbm.bandwidth = 3.35e12;
  gpu.hbm.achievable_fraction = 0.89;
  gpu.hbm.latency = 785e-9;
  gpu.inflight_bytes_per_sm = 13824;
  REQUIRE(gpu.decode_attention == dfsim::DecodeAttentionKernel::kXqaSm90);
  const dfsim::ModelSpec model =
      dfsim::load_model_spec("llama3.1-8b", {{"model.kv_cache_dtype", "fp8"}});
  const dfsim::WorkloadGraph graph =
      dfsim::build_decoder_graph(model, dfsim::StepShape{16, 1, 1023, false});
  auto attention = [&](const dfsim::GpuSpec& spec) {
    for (const Kernel& kernel : dfsim::map_to_gpu(graph, spec).kernels) {
      if (kernel.name != "layer0.attention") continue;
      Kernel memory_only = kernel;  // the memory side alone: no math
      memory_only.flops = memory_only.matmul_flops = 0;
      return memory_only;
    }
    FAIL("no attention kernel");
    return Kernel{};
  };
  const Kernel xqa = attention(gpu);
  dfsim::GpuSpec generic_gpu = gpu;
  generic_gpu.decode_attention = dfsim::DecodeAttentionKernel::kGeneric;
  Kernel generic = attention(generic_gpu);
  generic.name = "generic";
  // K and V of 16 sequences x 1024 keys x 8 KV heads x 128 x 1 B: 33,554,432 B; the bf16 query
  // read and output written, 16 x 4096 x 2 B each: 262,144 B.
  REQUIRE(xqa.dram_bytes() == Approx(33816576.0));
  // XQA: 16 x 8 = 128 CTAs (sub-sequences: floor(396 / 128) = 3, x 0.25 rounds to 1), one wave.
  REQUIRE(xqa.tiles == 128);
  REQUIRE(generic.tiles == 512);  // FlashDecoding: 16 x 32 (sequence, query head), one split
  std::vector<dfsim::Program> steps(1);
  steps[0].kernels = {xqa, generic};
  const nlohmann::json times = dfsim::run_in_child([&] {
    dfsim::SimulationTrace trace = dfsim::simulate(hw, steps);
    nlohmann::json out = nlohmann::json::array();
    for (const dfsim::KernelRecord& record : trace.kernels)
      out.push_back(record.end - record.start);
    return out;
  });
  REQUIRE(times.size() == 2);
  // XQA: 128 x 32768 B in flight / 785 ns = 5.3432e12 B/s, above the stream rate: one latency,
  // then 33816576 B / 2.9815e12 B/s (11.3421 us) = 12.1271 us.
  CHECK(times[0].get<double>() == Approx(12.1271e-6).epsilon(1e-4));
  // Generic: 2 tiles per SM, 264 + 248 tiles (66,048 B each) in 2 waves on 132 SMs, each with
  // 132 x 13824 = 1,824,768 B in flight, cap 1824768 / 785 ns = 2.324545e12 B/s. Per wave: the
  // latency, the first window at the stream rate (0.6120 us), the rest at the cap:
  // wave 1: 0.785 + 0.6120 + (17436672 - 1824768) / 2.324545e12 (6.7161) = 8.1131 us;
  // wave 2: 0.785 + 0.6120 + (16379904 - 1824768) / 2.324545e12 (6.2615) = 7.6585 us;
  // 15.7716 us, 30 % longer.
  CHECK(times[1].get<double>() == Approx(15.7716e-6).epsilon(1e-4));
}
