// Roofline: ceilings from the configs, each kernel's intensity, achieved rate, roof and
// bottleneck label from hand-made stats (numbers derived by hand below), and the real
// `dfsim roofline` (DFSIM_BINARY) on Llama 3.1 8B / H100: prefill matmuls at the compute roof,
// decode matmuls on the bandwidth slope.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/report/roofline.h"

#include "tests/test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using namespace dfsim::testing;

dfsim::Kernel kernel(const std::string& name, int layer, double flops, double matmul_flops,
                     dfsim::Collective collective = dfsim::Collective::kNone) {
  dfsim::Kernel k;
  k.name = name;
  k.layer = layer;
  k.role = layer >= 0 ? name.substr(name.find('.') + 1) : name;
  k.flops = flops;
  k.matmul_flops = matmul_flops;
  k.collective = collective;
  k.compute_dtype = dfsim::Dtype::kBf16;
  return k;
}

dfsim::KernelStats stats_of(const std::string& name, int layer, double flops, double bytes,
                            double time) {
  dfsim::KernelStats k;
  k.name = name;
  k.layer = layer;
  k.calls = 1;
  k.flops = flops;
  k.dram_bytes = bytes;
  k.time_s = time;
  return k;
}

const dfsim::RooflineKernel& find(const std::vector<dfsim::RooflineKernel>& kernels,
                                  const std::string& phase, const std::string& name) {
  for (const auto& k : kernels) {
    if (k.phase == phase && k.name == name) return k;
  }
  FAIL("no kernel " << phase << " " << name);
  return kernels.front();
}

}  // namespace

TEST_CASE("roofline ceilings: per dtype and per memory level, all sockets", "[roofline]") {
  dfsim::RooflineCeilings h100 = dfsim::roofline_ceilings(dfsim::load_hw_config("h100-sxm", {}));
  const std::vector<std::pair<std::string, double>> expected{
      {"fp8", 1978.9e12}, {"int8", 1978.9e12}, {"fp16", 989.4e12},
      {"bf16", 989.4e12}, {"fp32", 494.7e12},  {"fp32 vector", 66.9e12}};
  REQUIRE(h100.compute.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(h100.compute[i].name == expected[i].first);
    CHECK(h100.compute[i].value == Approx(expected[i].second).epsilon(1e-12));
  }
  REQUIRE(h100.bandwidth.size() == 2);
  CHECK(h100.bandwidth[0].name == "HBM");
  CHECK(h100.bandwidth[0].value == 3.35e12);
  CHECK(h100.bandwidth[1].name == "L2");
  CHECK(h100.bandwidth[1].value == 9.8e12);

  // dgx-h100: eight GPUs, every ceiling eight times one GPU's.
  dfsim::RooflineCeilings dgx = dfsim::roofline_ceilings(dfsim::load_hw_config("dgx-h100", {}));
  CHECK(dgx.bandwidth[0].value == Approx(8 * 3.35e12));
  CHECK(dgx.compute.back().value == Approx(8 * 66.9e12));

  // sn40l.yaml: bf16 638 TFLOPS; HBM 1.6 TB/s, SRAM 244 TB/s, DDR 200 GB/s.
  dfsim::RooflineCeilings sn40l = dfsim::roofline_ceilings(dfsim::load_hw_config("sn40l", {}));
  REQUIRE(sn40l.compute.size() == 1);
  CHECK(sn40l.compute[0].name == "bf16");
  CHECK(sn40l.compute[0].value == 638e12);
  REQUIRE(sn40l.bandwidth.size() == 3);
  CHECK(sn40l.bandwidth[0].name == "HBM");
  CHECK(sn40l.bandwidth[0].value == 1.6e12);
  CHECK(sn40l.bandwidth[1].name == "SRAM");
  CHECK(sn40l.bandwidth[1].value == 244e12);
  CHECK(sn40l.bandwidth[2].name == "DDR");
  CHECK(sn40l.bandwidth[2].value == 200e9);
}

TEST_CASE("roofline kernels: intensity, achieved rate, roofs and bottleneck by hand",
          "[roofline]") {
  const dfsim::HwConfig h100 = dfsim::load_hw_config("h100-sxm", {});
  dfsim::Program program;
  program.kernels = {kernel("embedding", -1, 0, 0),
                     kernel("layer0.qkv_proj", 0, 2e12, 2e12),
                     kernel("layer0.attention", 0, 1.1e12, 1e12),
                     kernel("layer0.norm", 0, 1e9, 0),
                     kernel("layer0.down_proj", 0, 3e9, 3e9),
                     kernel("layer0.all_reduce", 0, 0, 0, dfsim::Collective::kAllReduce),
                     kernel("layer1.qkv_proj", 1, 2e12, 2e12)};
  dfsim::RunStats stats;
  stats.phase = "decode";
  stats.kernels = {stats_of("embedding", -1, 0, 2.1e6, 1e-5),
                   stats_of("layer0.qkv_proj", 0, 2e12, 1e9, 4e-3),
                   stats_of("layer0.attention", 0, 1.1e12, 1e8, 4e-3),
                   stats_of("layer0.norm", 0, 1e9, 1e9, 1e-3),
                   stats_of("layer0.down_proj", 0, 3e9, 3e9, 1e-3),
                   stats_of("layer0.all_reduce", 0, 0, 0, 1e-5),
                   stats_of("layer1.qkv_proj", 1, 2e12, 1e9, 4e-3)};

  std::vector<dfsim::RooflineKernel> roles = dfsim::roofline_kernels(stats, program, h100, true);
  REQUIRE(roles.size() == 6);  // the two qkv_proj are one role

  // qkv_proj, both layers: 4e12 FLOPs over 2e9 bytes in 8 ms. Intensity 2000 FLOP/B is far right
  // of the ridge (989.4 / 3.35 = 295), so the bf16 tensor peak is the roof:
  // 5e14 / 989.4e12 = 0.5054 of it.
  const auto& qkv = find(roles, "decode", "qkv_proj");
  CHECK(qkv.calls == 2);
  CHECK(qkv.intensity == Approx(2000));
  CHECK(qkv.achieved == Approx(5e14));
  CHECK(qkv.compute_roof == Approx(989.4e12));
  CHECK(qkv.memory_roof == Approx(2000 * 3.35e12));
  CHECK(qkv.share_of_roof == Approx(5e14 / 989.4e12));
  CHECK(qkv.bottleneck == "compute");
  CHECK(qkv.dtype == "bf16");

  // attention: 1e12 matmul FLOPs on the tensor cores, 1e11 on the CUDA cores. At peak:
  // 1e12 / 989.4e12 + 1e11 / 66.9e12 = 1.01071e-3 + 1.49477e-3 = 2.50548e-3 s, so its roof is
  // 1.1e12 / 2.50548e-3 = 439.04 TFLOP/s; achieved 1.1e12 / 4 ms = 275 TFLOP/s = 0.6264.
  const auto& attention = find(roles, "decode", "attention");
  CHECK(attention.compute_roof == Approx(439.04e12).epsilon(1e-4));
  CHECK(attention.share_of_roof == Approx(0.6264).epsilon(1e-3));
  CHECK(attention.bottleneck == "compute");

  // down_proj: 1 FLOP/B, 3e12 FLOP/s under a 3.35e12 slope: 0.8955 of it, memory-bound.
  const auto& down = find(roles, "decode", "down_proj");
  CHECK(down.intensity == Approx(1));
  CHECK(down.memory_roof == Approx(3.35e12));
  CHECK(down.share_of_roof == Approx(3.0 / 3.35));
  CHECK(down.bottleneck == "memory");

  // norm: same intensity, but 1e12 FLOP/s is 0.2985 of the slope: below both roofs by more
  // than the 50 % margin.
  const auto& norm = find(roles, "decode", "norm");
  CHECK(norm.compute_roof == Approx(66.9e12));  // no matmul: CUDA cores only
  CHECK(norm.share_of_roof == Approx(1.0 / 3.35));
  CHECK(norm.bottleneck == "latency/overhead");

  // embedding: no FLOPs; 2.1e6 bytes in 10 us = 210 GB/s, 6.3 % of HBM peak.
  const auto& embedding = find(roles, "decode", "embedding");
  CHECK(embedding.intensity == 0);
  CHECK(embedding.share_of_roof == Approx(2.1e11 / 3.35e12));
  CHECK(embedding.bottleneck == "latency/overhead");

  // The all-reduce moves its bytes over the link.
  const auto& all_reduce = find(roles, "decode", "all_reduce");
  CHECK(all_reduce.bottleneck == "communication");
  CHECK(std::isinf(all_reduce.intensity));

  // Per kernel: the two qkv_proj apart, each as above.
  std::vector<dfsim::RooflineKernel> each = dfsim::roofline_kernels(stats, program, h100, false);
  REQUIRE(each.size() == 7);
  CHECK(find(each, "decode", "layer1.qkv_proj").achieved == Approx(5e14));
  CHECK(find(each, "decode", "layer1.qkv_proj").calls == 1);

  // JSON: an infinite intensity is null; the table shows the label.
  json report = dfsim::roofline_json("m", "h100-sxm", dfsim::roofline_ceilings(h100), roles);
  CHECK(report["margin"] == 0.5);
  bool found = false;
  for (const json& k : report["kernels"]) {
    if (k["name"] == "all_reduce") {
      found = true;
      CHECK(k["intensity"].is_null());
    }
  }
  CHECK(found);
  const std::string table =
      dfsim::format_roofline_table("t", dfsim::roofline_ceilings(h100), roles);
  CHECK(table.find("  ridge point         295.3 FLOP/byte (bf16 over HBM)\n") != std::string::npos);
  CHECK_THAT(table, Catch::Contains("\n  decode   qkv_proj                2       2000     500 "
                                    "TFLOPS   989.4 TFLOPS   50.5 %  compute\n"));
}

TEST_CASE("roofline: weights dequantized on the CUDA cores lower the compute roof", "[roofline]") {
  const dfsim::HwConfig a100 = dfsim::load_hw_config("a100-80gb", {});
  // An int8 GEMV call: 1e8 weights, 2e8 FLOPs on the tensor cores, 9e8 dequantization slots.
  dfsim::Kernel gemv = kernel("layer0.qkv_proj", 0, 2e8, 2e8);
  gemv.dequant_slots = 9e8;
  dfsim::Program program;
  program.kernels = {gemv, kernel("layer0.o_proj", 0, 2e8, 2e8)};
  dfsim::RunStats stats;
  stats.phase = "decode";
  // Two calls each (two steps), 1e8 bytes per call.
  stats.kernels = {stats_of("layer0.qkv_proj", 0, 4e8, 2e8, 200e-6),
                   stats_of("layer0.o_proj", 0, 4e8, 2e8, 200e-6)};
  for (auto& k : stats.kernels) k.calls = 2;
  const std::vector<dfsim::RooflineKernel> roles =
      dfsim::roofline_kernels(stats, program, a100, true);
  // qkv at peak, both calls: 2 x 9e8 slots / (19.5e12 / 2) = 184.615 us of dequantization plus
  // 4e8 / 312e12 = 1.282 us of tensor-core FLOPs = 185.897 us; roof 4e8 / 185.897e-6 =
  // 2.1517 TFLOP/s, under the memory roof (2 FLOP/B x 2.039 TB/s = 4.078): achieved 4e8 / 200 us =
  // 2 TFLOP/s = 0.9295 of it, and mostly unpacking.
  const auto& qkv = find(roles, "decode", "qkv_proj");
  CHECK(qkv.compute_roof == Approx(2.1517e12).epsilon(1e-4));
  CHECK(qkv.share_of_roof == Approx(0.9295).epsilon(1e-3));
  CHECK(qkv.bottleneck == "dequantization");
  // The same kernel without weights to unpack is on the memory slope: 2e12 / 4.078e12 = 0.4904,
  // below the 50 % margin.
  const auto& o = find(roles, "decode", "o_proj");
  CHECK(o.compute_roof == Approx(312e12));
  CHECK(o.bottleneck == "latency/overhead");
}

TEST_CASE(
    "dfsim roofline: Llama 3.1 8B on H100, prefill at the compute roof, decode on the "
    "bandwidth slope",
    "[roofline]") {
  TempDir dir;
  Outcome outcome = run_dfsim(dir,
                              "roofline --model llama3.1-8b --hw h100-sxm --phase prefill,decode "
                              "--format json --svg roofline.svg");
  INFO(outcome.err);
  REQUIRE(outcome.code == 0);
  json report = json::parse(outcome.out);
  CHECK(report["model"] == "llama3.1-8b");
  std::map<std::string, json> prefill, decode;
  for (const json& k : report["kernels"]) {
    (k["phase"] == "prefill" ? prefill : decode)[k["name"].get<std::string>()] = k;
  }
  const double ridge = 989.4e12 / 3.35e12;
  for (const char* role : {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}) {
    INFO(role);
    // A 512-token prompt reuses each weight 512 times: intensity ~ 512 x 2 FLOPs / 2 bytes,
    // less the activations read and written; right of the ridge, at least half the tensor peak.
    CHECK(prefill[role]["intensity"].get<double>() > ridge);
    CHECK(prefill[role]["bottleneck"] == "compute");
    CHECK(prefill[role]["share_of_roof"].get<double>() >= 0.5);
    CHECK(prefill[role]["calls"] == 32);
    // Decode, batch 1: each bf16 weight (2 bytes) is used for one multiply-add (2 FLOPs), so
    // intensity is just under 1 FLOP/B (the activations add a few bytes), on the HBM slope.
    CHECK(decode[role]["intensity"].get<double>() > 0.99);
    CHECK(decode[role]["intensity"].get<double>() < 1.0);
    CHECK(decode[role]["bottleneck"] == "memory");
    // On the slope but below it: the GEMV's waves keep 132 SMs x 13.5 KiB in flight over the
    // 785 ns loaded latency (h100-sxm.yaml), 132 x 13824 B / 785 ns = 2.32 TB/s = 0.694 of the
    // 3.35 TB/s roof (Little's law, under the 0.89 stream fraction); each kernel's first-byte
    // wait takes a little more.
    CHECK(decode[role]["share_of_roof"].get<double>() <= 132 * 13824 / 785e-9 / 3.35e12);
    CHECK(decode[role]["share_of_roof"].get<double>() >= 0.6);
  }
  // The kernels' FLOPs add up to the run's.
  Outcome run = run_dfsim(dir, "run --model llama3.1-8b --hw h100-sxm --tokens 1 --format json");
  REQUIRE(run.code == 0);
  double flops = 0;
  for (const auto& [name, k] : decode) flops += k["flops"].get<double>();
  CHECK(flops == Approx(json::parse(run.out)["flops"].get<double>()).epsilon(1e-12));

  // The image, its data (one line per kernel with FLOPs and DRAM bytes) and the script.
  CHECK(read_text(dir.path() / "roofline.svg").find("<svg") != std::string::npos);
  const std::string script = read_text(dir.path() / "roofline.gp");
  CHECK(script.find("set logscale xy") != std::string::npos);
  CHECK(script.find("'roofline.dat' index 0") != std::string::npos);
  const std::string data = read_text(dir.path() / "roofline.dat");
  CHECK(data.find("# phase prefill\n") != std::string::npos);
  CHECK(data.find("# phase decode\n") != std::string::npos);
  // Every role but the embedding (no FLOPs) in both phases: 2 x 12 points.
  int points = 0;
  std::istringstream lines(data);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != '#') ++points;
  }
  CHECK(points == 24);
}

TEST_CASE("dfsim roofline: table, dataflow ceilings and bad input", "[roofline]") {
  TempDir dir;
  Outcome table = run_dfsim(dir, "roofline --model tiny-llama --hw sn40l");
  INFO(table.err);
  REQUIRE(table.code == 0);
  CHECK(table.out.rfind("dfsim roofline: tiny-llama on sn40l (decode)\n"
                        "  compute ceilings    bf16 638 TFLOPS\n"
                        "  bandwidth slopes    HBM 1.6 TB/s, SRAM 244 TB/s, DDR 200 GB/s\n"
                        "  ridge point         398.8 FLOP/byte (bf16 over HBM)\n",
                        0) == 0);
  Outcome bad = run_dfsim(dir, "roofline --model tiny-llama --hw sn40l --phase train");
  CHECK(bad.code == 2);
  CHECK(bad.err ==
        "dfsim: error: --phase train: expected decode, prefill or both (decode,prefill), got "
        "'train'\n");
  bad = run_dfsim(dir, "roofline --model tiny-llama --hw sn40l --svg plot.png");
  CHECK(bad.code == 2);
  CHECK(bad.err == "dfsim: error: --svg plot.png: expected a .svg file\n");
}
