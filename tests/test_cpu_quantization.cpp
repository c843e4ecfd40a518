// W8A8 quantization schemes as graph options (model.quantization): the quantize and dequantize
// ops they add, their FLOPs and bytes counted by hand from tiny-llama's shapes (hidden 64, 4
// heads and 2 kv heads of 16, MLP 128, 2 layers), and their cost on every hardware family.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/mapping/mapper.h"
#include "sim/workload/workload_graph.h"
#include "tests/test_support.h"

using dfsim::Dtype;
using dfsim::OpKind;
using dfsim::WorkloadGraph;

namespace {

dfsim::ModelSpec tiny(const std::string& scheme, const std::vector<std::string>& more = {}) {
  std::vector<dfsim::Override> overrides{dfsim::parse_override("model.quantization=" + scheme)};
  for (const std::string& text : more) overrides.push_back(dfsim::parse_override(text));
  return dfsim::load_model_spec("tiny-llama", overrides);
}

// Prefill of 8 tokens, batch 1.
WorkloadGraph prefill8(const dfsim::ModelSpec& model) {
  return dfsim::build_decoder_graph(model, {1, 8, 0, true});
}

const dfsim::Op& op_named(const WorkloadGraph& graph, const std::string& name) {
  for (std::size_t id = 0; id < graph.op_count(); ++id) {
    if (graph.op(id).name == name) return graph.op(id);
  }
  FAIL("no op " << name);
  return graph.op(0);
}

std::map<OpKind, int> kind_counts(const WorkloadGraph& graph) {
  std::map<OpKind, int> counts;
  for (std::size_t id = 0; id < graph.op_count(); ++id) counts[graph.op(id).kind] += 1;
  return counts;
}

}  // namespace

TEST_CASE("W8A8 schemes add one quantize per matmul input and one dequantize per matmul",
          "[quantization]") {
  for (const char* scheme : {"w8a8-dynamic", "w8a8-static", "smoothquant"}) {
    const auto counts = kind_counts(prefill8(tiny(scheme)));
    // Per layer: inputs of q/k/v (shared), o, gate/up (shared), down = 4 quantize; q, k, v, o,
    // gate, up, down = 7 dequantize. Two layers; the LM head stays weight-only.
    CHECK(counts.at(OpKind::kQuantize) == 8);
    CHECK(counts.at(OpKind::kDequantize) == 14);
  }
  const auto plain = kind_counts(prefill8(tiny("weight-only")));
  CHECK(plain.count(OpKind::kQuantize) == 0);
  CHECK(plain.count(OpKind::kDequantize) == 0);
}

TEST_CASE("Quantize and dequantize FLOPs and bytes follow from the shapes", "[quantization]") {
  const WorkloadGraph dynamic = prefill8(tiny("w8a8-dynamic"));
  // qkv input [8, 64]: dynamic per token 5 per element + 2 per row = 5 x 512 + 16 = 2576.
  const dfsim::Op& quantize = op_named(dynamic, "layer0.qkv_quantize");
  CHECK(quantize.flops == 2576);
  // It reads the bf16 input (8 x 64 x 2 = 1024 B) and writes int8 (512 B) read by q, k and v
  // (counted once) and the fp32 token scales (8 x 4 = 32 B) read by each dequantize.
  std::size_t quantize_id = 0;
  for (std::size_t id = 0; id < dynamic.op_count(); ++id) {
    if (dynamic.op(id).name == "layer0.qkv_quantize") quantize_id = id;
  }
  CHECK(dynamic.input_bytes(quantize_id) == 1024);
  CHECK(dynamic.output_bytes(quantize_id) == 512 + 32);
  // down input [8, 128]: 5 x 1024 + 16 = 5136.
  CHECK(op_named(dynamic, "layer0.down_quantize").flops == 5136);
  // q_proj out [8, 64]: times the token scale and the channel scale, 2 x 512 = 1024; k_proj
  // [8, 32]: 512.
  CHECK(op_named(dynamic, "layer0.q_proj_dequantize").flops == 1024);
  CHECK(op_named(dynamic, "layer0.k_proj_dequantize").flops == 512);
  // The matmuls themselves run int8 x int8 on int8 weights (per-channel scales: 2 B each).
  const dfsim::Op& q = op_named(dynamic, "layer0.q_proj");
  CHECK(q.compute_dtype == Dtype::kInt8);
  CHECK(q.weight_dtype == Dtype::kInt8);
  CHECK(q.weight_bytes == 64 * 64 + 64 * 2);

  const WorkloadGraph fixed = prefill8(tiny("w8a8-static"));
  // Static: 3 per element (no max pass): 3 x 512 = 1536; dequantize 1 per element: 512.
  CHECK(op_named(fixed, "layer0.qkv_quantize").flops == 1536);
  CHECK(op_named(fixed, "layer0.q_proj_dequantize").flops == 512);
  CHECK(op_named(fixed, "layer1.down_quantize").flops == 3 * 8 * 128);
  // SmoothQuant's migration is folded into weights offline: the same run-time ops as static.
  CHECK(prefill8(tiny("smoothquant", {"model.smoothquant_alpha=0.8"})).total_flops() ==
        fixed.total_flops());
  // Dynamic over static, per layer: quantize 2 x 512 + 16 (qkv, o, gate/up) and 2 x 1024 + 16
  // (down) = 3 x 1040 + 2064 = 5184; dequantize 1 more per output element: 8 x (64 + 32 + 32
  // + 64 + 128 + 128 + 64) = 4096. Two layers: 2 x 9280 = 18,560.
  CHECK(dynamic.total_flops() - fixed.total_flops() == 18560);
}

TEST_CASE("Quantization options are checked", "[quantization]") {
  CHECK(tiny("w8a8-dynamic").weight_dtype == Dtype::kInt8);
  CHECK(tiny("w8a8-dynamic").weight_group_size == 0);
  CHECK(tiny("smoothquant", {"model.smoothquant_alpha=0.75"}).smoothquant_alpha == 0.75);
  CHECK_THROWS_WITH(tiny("w8a8-static", {"model.weight_dtype=int4"}),
                    Catch::Contains("weight_dtype") && Catch::Contains("int8 x int8"));
  CHECK_THROWS_WITH(tiny("w8a8-static", {"model.smoothquant_alpha=0.5"}),
                    Catch::Contains("only to quantization: smoothquant"));
  CHECK_THROWS_WITH(tiny("smoothquant", {"model.smoothquant_alpha=1.5"}),
                    Catch::Contains("from 0 to 1"));
  CHECK_THROWS_AS(tiny("w4a4"), dfsim::InputError);
}

TEST_CASE("Quantize ops cost time on GPU, CPU and dataflow machines", "[quantization]") {
  for (const char* hw : {"h100-sxm", "xeon-8480+", "sn40l"}) {
    dfsim::testing::TempDir dir;
    const auto outcome = dfsim::testing::run_dfsim(
        dir, std::string("run --model tiny-llama --hw ") + hw +
                 " --set model.quantization=w8a8-dynamic --phase prefill --prompt 8 --format json");
    REQUIRE(outcome.code == 0);
    const auto report = nlohmann::json::parse(outcome.out);
    double quantize_flops = 0;
    double quantize_time = 0;
    for (const auto& kernel : report["kernels"]) {
      const std::string name = kernel["name"];
      if (name.find("quantize") != std::string::npos) {
        quantize_flops += kernel["flops"].get<double>();
        quantize_time += kernel["time_s"].get<double>();
      }
    }
    INFO(hw);
    if (std::string(hw) == "sn40l") {
      // A decoder layer is one kernel there: the quantize ops are pipeline stages inside it.
      CHECK(quantize_flops == 0);
      const dfsim::HwConfig chip = dfsim::load_hw_config(hw, {});
      const dfsim::Program program = dfsim::map_program(prefill8(tiny("w8a8-dynamic")), chip);
      double stage_flops = 0;
      for (const auto& kernel : program.kernels) {
        for (const auto& stage : kernel.stages) {
          if (stage.name.find("_quantize") != std::string::npos) stage_flops += stage.work.flops;
        }
      }
      CHECK(stage_flops == 25728);
    } else {
      // Own kernels on GPUs and CPUs: 2 layers x (2576 + 2576 + 2576 + 5136) = 25,728 FLOPs.
      CHECK(quantize_flops == 25728);
      CHECK(quantize_time > 0);
    }
    CHECK(report["time_s"].get<double>() > 0);
  }
}

TEST_CASE("Fused dequantize epilogues leave a matmul kernel's tile grid alone", "[quantization]") {
  // llama2-7b prefill of 2048 tokens: gate/up is [2048, 4096] x [4096, 2 x 11008]. GPU tiles of
  // 128 x 128: 16 x 172 = 2752; CPU column blocks of 64 x row blocks of 64: 344 x 32 = 11,008.
  for (const char* scheme : {"weight-only", "w8a8-dynamic"}) {
    const dfsim::ModelSpec model = dfsim::load_model_spec(
        "llama2-7b", {dfsim::parse_override(std::string("model.quantization=") + scheme),
                      dfsim::parse_override("model.weight_dtype=int8")});
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, {1, 2048, 0, true});
    INFO(scheme);
    for (const auto& [hw, tiles] : {std::pair{"h100-sxm", 2752}, std::pair{"xeon-8480+", 11008}}) {
      const dfsim::Program program = dfsim::map_program(graph, dfsim::load_hw_config(hw, {}));
      int found = 0;
      for (const auto& kernel : program.kernels) {
        if (kernel.name != "layer0.gate_up_proj") continue;
        found += 1;
        CHECK(kernel.tiles == tiles);
      }
      CHECK(found == 1);
    }
  }
}
