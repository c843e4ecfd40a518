// Mixture of experts in the graph, the mappers and the machines: routing costs, the expected
// number of distinct experts a step reads, expert parallelism, and Mixtral running on every
// hardware family (each simulation in a child process: SystemC elaborates once per process).
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/mapping/mapper.h"
#include "sim/workload/workload_graph.h"

using dfsim::ModelSpec;
using dfsim::Op;
using dfsim::StepShape;
using dfsim::WorkloadGraph;

namespace {

const Op& op_named(const WorkloadGraph& graph, const std::string& name) {
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    if (graph.op(id).name == name) return graph.op(id);
  }
  FAIL("no op named " << name);
  throw std::logic_error("unreachable");
}

dfsim::RunRequest decode_request(const std::string& hw, std::int64_t tokens = 2) {
  dfsim::RunRequest request;
  request.model = "mixtral-8x7b";
  request.hw = hw;
  request.phase.kind = dfsim::PhaseKind::kDecode;
  request.phase.context = 128;
  request.phase.tokens = tokens;
  return request;
}

void check_finite_run(const dfsim::RunStats& stats) {
  CHECK(std::isfinite(stats.time_s));
  CHECK(stats.time_s > 0);
  CHECK(std::isfinite(stats.tokens_per_second));
  CHECK(stats.tokens_per_second > 0);
  CHECK(std::isfinite(stats.bandwidth_utilization));
  CHECK(stats.bandwidth_utilization > 0);
  CHECK(stats.bandwidth_utilization <= 1.0);
  CHECK(stats.flops > 0);
}

}  // namespace

TEST_CASE("Expected distinct experts: E (1 - (1 - k/E)^T)", "[moe]") {
  // E = 8, k = 2: a token skips a given expert with probability 6/8 = 3/4.
  CHECK(dfsim::expected_distinct_experts(8, 2, 1) == 2.0);      // 8 x 1/4
  CHECK(dfsim::expected_distinct_experts(8, 2, 2) == 3.5);      // 8 x (1 - 9/16)
  CHECK(dfsim::expected_distinct_experts(8, 2, 4) == 5.46875);  // 8 x (1 - 81/256)
  CHECK(dfsim::expected_distinct_experts(8, 2, 8) == Approx(7.1990966796875).epsilon(1e-14));
  CHECK(dfsim::expected_distinct_experts(8, 2, 64) == Approx(8.0).epsilon(1e-7));
  CHECK(dfsim::expected_distinct_experts(8, 2, 0) == 0.0);
  CHECK(dfsim::expected_distinct_experts(8, 8, 1) == 8.0);  // top-E uses every expert
}

TEST_CASE("Mixtral layer ops: router, grouped expert GEMMs, weights read per step", "[moe]") {
  const ModelSpec model = dfsim::load_model_spec("mixtral-8x7b", {});
  SECTION("decode batch 1 reads the k = 2 experts a token chose") {
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false});
    const Op& router = op_named(graph, "layer3.router");
    CHECK(router.kind == dfsim::OpKind::kRouter);
    // 2 x 1 x 4096 x 8 = 65,536, + softmax 5 x 8 + top-k 2 x 8 + renormalize 2 x 2 = 60.
    CHECK(router.matmul_flops == 65'536.0);
    CHECK(router.flops == 65'596.0);
    CHECK(router.parameters == 32'768);
    const Op& gate_up = op_named(graph, "layer3.expert_gate_up");
    CHECK(gate_up.kind == dfsim::OpKind::kExpertMatMul);
    CHECK(gate_up.m == 2);  // 1 token x 2 experts
    CHECK(gate_up.n == 28'672);
    // FLOPs 2 x 2 x 4096 x 28672 = 469,762,048; all 8 experts held: 8 x 4096 x 28672 =
    // 939,524,096 parameters (234,881,024 active: 2 of them); 2 read: 2 x 117,440,512 x 2 B.
    CHECK(gate_up.flops == 469'762'048.0);
    CHECK(gate_up.parameters == 939'524'096);
    CHECK(gate_up.active_parameters == 234'881'024);
    CHECK(gate_up.experts_read == 2.0);
    CHECK(gate_up.weight_bytes == 469'762'048.0);
    CHECK(gate_up.stored_weight_bytes == 1'879'048'192.0);
    const Op& down = op_named(graph, "layer3.expert_down");
    // 2 x 2 x 14336 x 4096 = 234,881,024 + combine 2 x 2 x 4096 = 16,384.
    CHECK(down.flops == 234'881'024.0 + 16'384.0);
    CHECK(down.weight_bytes == 2 * 58'720'256 * 2.0);
    CHECK(op_named(graph, "layer3.expert_swiglu").flops == 5.0 * 2 * 14'336);
  }
  SECTION("decode batch 4 reads 5.46875 experts on average") {
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{4, 1, 127, false});
    const Op& gate_up = op_named(graph, "layer0.expert_gate_up");
    CHECK(gate_up.m == 8);
    CHECK(gate_up.experts_read == 5.46875);
    // 5.46875 x 4096 x 28672 x 2 B = 1,284,505,600.
    CHECK(gate_up.weight_bytes == 1'284'505'600.0);
  }
}

TEST_CASE("Expert parallelism over ranks", "[moe]") {
  const ModelSpec model = dfsim::load_model_spec("mixtral-8x7b", {});
  SECTION("8 ranks hold one expert each; the busiest rank at batch 1 runs one row, one expert") {
    const dfsim::ExpertShard shard = dfsim::expert_shard(model, 14'336, 1, 8);
    CHECK(shard.expert_parallel);
    CHECK(shard.experts == 1);
    CHECK(shard.columns == 14'336);
    CHECK(shard.rows == 1);  // ceil(1 x 2 / 8)
    CHECK(shard.experts_read == 1.0);
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false}, 8);
    const Op& gate_up = op_named(graph, "layer0.expert_gate_up");
    CHECK(gate_up.parameters == 4'096 * 28'672);
    CHECK(gate_up.weight_bytes == 4'096 * 28'672 * 2.0);
    // The MLP all-reduce sums the ranks' partial outputs (no all-to-all).
    CHECK(op_named(graph, "layer0.mlp_all_reduce").collective_bytes == 4'096 * 2.0);
  }
  SECTION("batch 64 over 8 ranks: 16 rows on the busiest rank, its one expert read") {
    const dfsim::ExpertShard shard = dfsim::expert_shard(model, 14'336, 64, 8);
    CHECK(shard.rows == 16);  // ceil(64 x 2 / 8)
    // min(1 expert held, 16 rows, max(1, 8 (1 - 0.75^64) / 8)) = 0.99999999 (all but certain).
    CHECK(shard.experts_read == Approx(1.0).epsilon(1e-7));
  }
  SECTION("16 ranks do not divide 8 experts: every expert's columns are split") {
    const dfsim::ExpertShard shard = dfsim::expert_shard(model, 14'336, 1, 16);
    CHECK_FALSE(shard.expert_parallel);
    CHECK(shard.experts == 8);
    CHECK(shard.columns == 896);  // 14336 / 16
    CHECK(shard.rows == 2);
    CHECK(shard.experts_read == 2.0);
  }
  SECTION("expert_parallel: false shards columns even when the ranks divide the experts") {
    ModelSpec tensor_parallel = model;
    tensor_parallel.expert_parallel = false;
    const dfsim::ExpertShard shard = dfsim::expert_shard(tensor_parallel, 14'336, 1, 8);
    CHECK_FALSE(shard.expert_parallel);
    CHECK(shard.columns == 1'792);
  }
}

TEST_CASE("Mixtral kernels on a GPU and the HBM check", "[moe]") {
  const ModelSpec model = dfsim::load_model_spec("mixtral-8x7b", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false});
  SECTION("one H100: 93.4 GB of bf16 weights do not fit 80 GB") {
    // Weights: 46,702,792,704 x 2 B = 93,405,585,408 B; KV cache 2 x 32 x 1024 x 2 B x 128
    // positions = 16,777,216 B; HBM 81559 MiB = 85,520,809,984 B.
    CHECK_THROWS_WITH(
        dfsim::map_program(graph, dfsim::load_hw_config("h100-sxm", {}), dfsim::LoopingMode::kOff),
        "the model needs 93.41 GB of weights and 16.78 MB of KV cache, the hardware has 85.52 GB "
        "HBM; use more GPUs (e.g. --hw dgx-h100), a smaller weight dtype (--set "
        "model.weight_dtype=fp8) or a shorter context");
  }
  SECTION("an H200 holds it: router, grouped gate/up, SwiGLU and grouped down kernels") {
    const dfsim::Program program =
        dfsim::map_program(graph, dfsim::load_hw_config("h200", {}), dfsim::LoopingMode::kOff);
    std::vector<std::string> layer0;
    for (const auto& kernel : program.kernels) {
      if (kernel.layer == 0) layer0.push_back(kernel.role);
    }
    CHECK(layer0 == std::vector<std::string>{"attn_norm", "qkv_proj", "rope_kv_append", "attention",
                                             "o_proj", "residual_norm", "router", "expert_gate_up",
                                             "expert_swiglu", "expert_down", "mlp_residual"});
    for (const auto& kernel : program.kernels) {
      // Two rows over two experts: a GEMV-like stream over every SM.
      if (kernel.role == "expert_gate_up") CHECK(kernel.tiles == 132);
    }
  }
}

TEST_CASE("Mixtral runs on dgx-h100 and sn40l-8", "[moe]") {
  SECTION("dgx-h100 (8 GPUs, expert parallel)") {
    check_finite_run(dfsim::run_isolated(decode_request("dgx-h100")));
  }
  SECTION("sn40l-8 (8 sockets, expert parallel)") {
    check_finite_run(dfsim::run_isolated(decode_request("sn40l-8")));
  }
  SECTION("one sn40l socket spills expert weights to DDR and still runs") {
    check_finite_run(dfsim::run_isolated(decode_request("sn40l", 1)));
  }
  SECTION("one H100 is refused with the capacity message") {
    CHECK_THROWS_AS(dfsim::run_isolated(decode_request("h100-sxm", 1)), dfsim::InputError);
  }
}
