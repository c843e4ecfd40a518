// The CPU family: configs (DDR bandwidth, AMX peaks, the thread count), the CPU mapper's kernels
// and the SystemC CPU model's timing of a decode matmul, every expected figure derived by hand
// from the public specs quoted in hw_configs/xeon-*.yaml.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/simulate.h"
#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/mapping/cpu_mapper.h"
#include "sim/mapping/mapper.h"
#include "sim/workload/workload_graph.h"
#include "tests/test_support.h"

using dfsim::CpuSpec;
using dfsim::Dtype;
using dfsim::HwConfig;
using dfsim::Kernel;

namespace {

HwConfig xeon(const std::string& name, const std::vector<std::string>& sets = {}) {
  std::vector<dfsim::Override> overrides;
  for (const std::string& text : sets) overrides.push_back(dfsim::parse_override(text));
  return dfsim::load_hw_config(name, overrides);
}

// llama2-7b with int4 weights, one decode step at context 32, mapped on a Xeon.
dfsim::Program int4_decode(const HwConfig& hw) {
  dfsim::ModelSpec model =
      dfsim::load_model_spec("llama2-7b", {dfsim::parse_override("model.weight_dtype=int4")});
  dfsim::WorkloadGraph graph = dfsim::build_decoder_graph(model, {1, 1, 32, false});
  return dfsim::map_to_cpu(graph, *hw.cpu());
}

const Kernel& kernel_named(const dfsim::Program& program, const std::string& name) {
  for (const Kernel& kernel : program.kernels) {
    if (kernel.name == name) return kernel;
  }
  FAIL("no kernel " << name);
  return program.kernels.front();
}

}  // namespace

TEST_CASE("DDR bandwidth is channels x MT/s x 8 bytes per socket", "[cpu]") {
  // 8 x 4800 MT/s x 8 B = 307.2 GB/s; 8 x 5600 x 8 = 358.4 GB/s; 12 x 6400 x 8 = 614.4 GB/s.
  CHECK(xeon("xeon-8480+").cpu()->ddr.bandwidth() == Approx(307.2e9));
  CHECK(xeon("xeon-8592+").cpu()->ddr.bandwidth() == Approx(358.4e9));
  CHECK(xeon("xeon-6980p").cpu()->ddr.bandwidth() == Approx(614.4e9));
  // Two sockets report both sockets' channels: 2 x 307.2 = 614.4 GB/s.
  CHECK(xeon("xeon-8480+-2s").peak_dram_bandwidth() == Approx(614.4e9));
  CHECK(xeon("xeon-8480+-2s").sockets() == 2);
  // A different speed grade moves it: 8 x 4400 x 8 = 281.6 GB/s.
  CHECK(xeon("xeon-8480+", {"hw.ddr.mega_transfers_per_second=4400"}).peak_dram_bandwidth() ==
        Approx(281.6e9));
}

TEST_CASE("AMX and AVX-512 peaks are per-core rates x clock x threads", "[cpu]") {
  const HwConfig all = xeon("xeon-8480+");
  // AMX: 1024 BF16 FLOP/cycle x 2.0 GHz x 56 cores = 114.688 TFLOPS; 2048 INT8 op/cycle -> 229.376.
  CHECK(all.peak_flops(Dtype::kBf16) == Approx(114.688e12));
  CHECK(all.peak_flops(Dtype::kInt8) == Approx(229.376e12));
  // fp32 has no AMX path: 64 FLOP/cycle (2 FMA x 16 lanes x 2) x 2.0 GHz x 56 = 7.168 TFLOPS.
  CHECK(all.peak_flops(Dtype::kFp32) == Approx(7.168e12));
  // 48 threads: 1024 x 2.0e9 x 48 = 98.304 TFLOPS.
  CHECK(xeon("xeon-8480+", {"hw.cores=48"}).peak_flops(Dtype::kBf16) == Approx(98.304e12));
  const CpuSpec& cpu = *all.cpu();
  // One activation row fills 1/16 of an AMX tile: 1024 / 16 = 64 < 128 of AVX-512 BF16, so a
  // decode GEMV runs on AVX-512; 8 rows: 512 on AMX; 16 rows or more: the full 1024.
  CHECK(cpu.matmul_ops_per_cycle(Dtype::kBf16, 1) == 128);
  CHECK(cpu.matmul_ops_per_cycle(Dtype::kBf16, 8) == 512);
  CHECK(cpu.matmul_ops_per_cycle(Dtype::kBf16, 512) == 1024);
  // INT8 at one row: 2048 / 16 = 128 < 256 of VNNI.
  CHECK(cpu.matmul_ops_per_cycle(Dtype::kInt8, 1) == 256);
  CHECK(cpu.matmul_ops_per_cycle(Dtype::kFp32, 512) == 64);
}

TEST_CASE("hw.cores is validated against the physical cores", "[cpu]") {
  CHECK(xeon("xeon-8480+", {"hw.cores=48"}).cpu()->cores == 48);
  CHECK(xeon("xeon-8480+").cpu()->cores == 56);
  CHECK_THROWS_WITH(xeon("xeon-8480+", {"hw.cores=57"}),
                    Catch::Contains("cores") && Catch::Contains("56 physical cores"));
  CHECK_THROWS_AS(xeon("xeon-8480+", {"hw.cores=0"}), dfsim::InputError);
  // On the command line: one line naming the override and the key, exit code 2.
  dfsim::testing::TempDir dir;
  const auto outcome =
      dfsim::testing::run_dfsim(dir, "run --model llama2-7b --hw xeon-8480+ --set hw.cores=64");
  CHECK(outcome.code == 2);
  CHECK(outcome.err ==
        "dfsim: error: --set hw.cores=64: cores: is 64, more than the 56 physical cores of one "
        "socket (physical_cores)\n");
}

TEST_CASE("The CPU mapper runs int4 decode matmuls on VNNI with the unpack cost", "[cpu]") {
  const HwConfig hw = xeon("xeon-8480+", {"hw.cores=48"});
  const dfsim::Program program = int4_decode(hw);
  const Kernel& qkv = kernel_named(program, "layer0.qkv_proj");
  // q, k, v fused: n = 3 x 4096 = 12288 columns in blocks of 64 -> 192 tiles, one row.
  CHECK(qkv.tiles == 192);
  CHECK(qkv.compute_dtype == Dtype::kInt8);
  CHECK(qkv.matmul_ops_per_cycle == 256);
  // Vector instructions: quantize the row, 4096 x 5 / 16 = 1280; unpack 4096 x 12288 =
  // 50,331,648 int4 weights at 3 per 64 = 2,359,296. Sum 2,360,576.
  CHECK(qkv.vector_instructions == Approx(2360576));
  // DRAM: weights 50,331,648 x (0.5 B + 4 B of scale per group of 128) = 26,738,688; the
  // normed input 4096 x 2 B = 8192; q, k and v out, 3 x 4096 x 2 B = 24,576. Total 26,771,456.
  CHECK(qkv.dram_bytes() == Approx(26771456));
  // fp16 weights (the checkpoint's dtype) keep fp16 compute, at the BF16 engine rates, and
  // unpack nothing.
  dfsim::ModelSpec model = dfsim::load_model_spec("llama2-7b", {});
  const dfsim::Program bf16 =
      dfsim::map_to_cpu(dfsim::build_decoder_graph(model, {1, 1, 32, false}), *hw.cpu());
  CHECK(kernel_named(bf16, "layer0.qkv_proj").compute_dtype == Dtype::kFp16);
  CHECK(kernel_named(bf16, "layer0.qkv_proj").vector_instructions == 0);
  CHECK(kernel_named(bf16, "layer0.qkv_proj").matmul_ops_per_cycle == 128);
}

TEST_CASE("A decode matmul on 48 Xeon cores: fork/join, DDR stream, then the busiest thread",
          "[cpu]") {
  const HwConfig hw = xeon("xeon-8480+", {"hw.cores=48"});
  const dfsim::Program decode = int4_decode(hw);
  dfsim::Program one;
  one.kernels.push_back(kernel_named(decode, "layer0.qkv_proj"));
  const nlohmann::json result = dfsim::run_in_child([&] {
    dfsim::SimulationTrace trace = dfsim::simulate(hw, {one});
    return nlohmann::json{{"start", trace.kernels.at(0).start},
                          {"end", trace.kernels.at(0).end},
                          {"end_time", trace.end_time}};
  });
  // Fork/join 4 us precedes the kernel.
  CHECK(result["start"].get<double>() == Approx(4e-6).margin(1e-11));
  // DDR streams at 307.2 GB/s x 0.606 = 186.1632 GB/s (48 threads x 3 KiB / 115 ns = 1.28 TB/s
  // in flight, no cap): 115 ns + 26,771,456 / 186.1632e9 = 115 ns + 143.8064 us.
  // Compute, all threads: 100,663,296 int8 ops / 256 per cycle = 393,216 cycles plus 2,360,576
  // instructions / 2 per cycle = 1,180,288 cycles: 1,573,504 cycles / 2.0 GHz = 786.752 us over
  // 192 tiles = 4.09767 us per tile; 192 tiles / 48 threads = 4 per thread = 16.3907 us.
  const double expected = 115e-9 + 26771456 / 186.1632e9 + 4 * (1573504 / 2.0e9 / 192);
  CHECK(expected == Approx(160.312e-6).epsilon(1e-4));
  const double time = result["end"].get<double>() - result["start"].get<double>();
  CHECK(time == Approx(expected).margin(1e-10));
  CHECK(result["end_time"].get<double>() == Approx(4e-6 + expected).margin(1e-10));
}

TEST_CASE("Kernel looping on a CPU turns fork/joins into barriers", "[cpu]") {
  const HwConfig hw = xeon("xeon-8480+");
  // Two one-tile kernels of 256,000 int8 ops at 256 per cycle: 1000 cycles / 2.0 GHz = 0.5 us.
  Kernel kernel;
  kernel.name = kernel.role = "gemv";
  kernel.compute_dtype = Dtype::kInt8;
  kernel.flops = kernel.matmul_flops = 256000;
  kernel.matmul_ops_per_cycle = 256;
  dfsim::Program looped;
  looped.kernels = {kernel, kernel};
  looped.kernels[1].continues_loop = true;
  const nlohmann::json result = dfsim::run_in_child([&] {
    return nlohmann::json{{"end_time", dfsim::simulate(hw, {looped}).end_time}};
  });
  // fork/join 4 us + 0.5 us + barrier 1 us + 0.5 us = 6 us (unlooped it would be 9 us).
  CHECK(result["end_time"].get<double>() == Approx(6e-6).margin(1e-11));
}

TEST_CASE("Two sockets need UPI and split the model by tensor parallelism", "[cpu]") {
  // A second socket without a upi section is an input error naming the key.
  dfsim::testing::TempDir dir;
  const std::string path = dir.write("two.yaml", "inherit: xeon-8480+\nname: two\nsockets: 2\n");
  CHECK_THROWS_WITH(dfsim::load_hw_config(path, {}),
                    Catch::Contains("upi") && Catch::Contains("2 sockets"));
  // xeon-8480+-2s: each socket runs half the heads (32 / 2 = 16 of 128 = q width 2048) and the
  // o and down projections end in an all-reduce over UPI (2 per layer, 32 layers).
  const HwConfig hw = xeon("xeon-8480+-2s");
  const dfsim::ModelSpec model = dfsim::load_model_spec("llama2-7b", {});
  const dfsim::Program program =
      dfsim::map_program(dfsim::build_decoder_graph(model, {1, 1, 32, false}, hw.sockets()), hw);
  int all_reduces = 0;
  for (const Kernel& kernel : program.kernels) {
    if (kernel.collective == dfsim::Collective::kAllReduce) all_reduces += 1;
  }
  CHECK(all_reduces == 64);
  // q/k/v per socket: 3 x 2048 columns in blocks of 64 = 96 tiles.
  CHECK(kernel_named(program, "layer0.qkv_proj").tiles == 96);
}
