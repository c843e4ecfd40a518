// Tensor parallelism: the per-rank graph (sim/workload/workload_graph.h, Megatron-style
// sharding), ring collectives (models/common/collective.h) and multi-socket runs on dgx-h100 and
// sn40l-8. Every expected number is derived by hand in the comment next to it. SystemC
// elaborates once per process, so every simulation runs in a forked child (run_isolated).
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/mapping/collective_algorithm.h"
#include "sim/workload/workload_graph.h"

using dfsim::Collective;
using dfsim::LoopingMode;
using dfsim::ModelSpec;
using dfsim::Op;
using dfsim::OpKind;
using dfsim::RunRequest;
using dfsim::RunStats;
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

std::vector<const Op*> ops_of_kind(const WorkloadGraph& graph, OpKind kind) {
  std::vector<const Op*> ops;
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    if (graph.op(id).kind == kind) ops.push_back(&graph.op(id));
  }
  return ops;
}

RunRequest decode_request(const std::string& hw, std::int64_t batch,
                          std::vector<std::string> overrides = {}) {
  RunRequest r;
  r.model = "llama3.1-70b";
  r.hw = hw;
  r.phase.kind = dfsim::PhaseKind::kDecode;
  r.phase.batch = batch;
  r.phase.context = 128;
  r.phase.tokens = 1;
  r.looping = LoopingMode::kOff;
  for (const std::string& text : overrides) r.overrides.push_back(dfsim::parse_override(text));
  return r;
}

const dfsim::KernelStats& kernel_stats(const RunStats& stats, const std::string& name) {
  for (const dfsim::KernelStats& kernel : stats.kernels) {
    if (kernel.name == name) return kernel;
  }
  FAIL("no kernel " << name);
  throw std::logic_error("unreachable");
}

// A made-up GQA model: 24 heads of 16 (hidden 384), 6 KV heads.
ModelSpec model_with_6_kv_heads() {
  ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
  model.hidden_size = 384;
  model.num_attention_heads = 24;
  model.num_key_value_heads = 6;
  model.head_dim = 16;
  return model;
}

// dgx-h100 link (inherited from hw_configs/h100-sxm.yaml): 450 GB/s per GPU per direction, 0.6 us
// per step.
constexpr double kNvlink = 450e9;
constexpr double kNvlinkStep = 0.6e-6;

}  // namespace

TEST_CASE("Tensor parallelism shards the graph Megatron-style", "[tp]") {
  // llama3.1-70b (h 8192, I 28672, 64 heads / 8 KV heads of 128, vocab 128256) over 8 ranks,
  // decode of batch 4 at past 128.
  const ModelSpec model = dfsim::load_model_spec("llama3.1-70b", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{4, 1, 128, false}, 8);
  const WorkloadGraph whole = dfsim::build_decoder_graph(model, StepShape{4, 1, 128, false}, 1);

  // Column-parallel: q 64/8 = 8 heads x 128 = 1024 columns; k and v 8/8 = 1 KV head = 128;
  // gate and up 28672 / 8 = 3584; LM head 128256 / 8 = 16032 vocabulary rows.
  CHECK(op_named(graph, "layer0.q_proj").n == 1024);
  CHECK(op_named(graph, "layer0.q_proj").k == 8192);
  CHECK(op_named(graph, "layer0.k_proj").n == 128);
  CHECK(op_named(graph, "layer0.v_proj").n == 128);
  CHECK(op_named(graph, "layer7.gate_proj").n == 3584);
  CHECK(op_named(graph, "layer7.up_proj").n == 3584);
  CHECK(op_named(graph, "lm_head").n == 16032);
  CHECK(op_named(graph, "lm_head").k == 8192);
  // Row-parallel: o reads the rank's 1024 attention columns, down its 3584 MLP columns; both
  // produce full-width partial sums.
  CHECK(op_named(graph, "layer0.o_proj").k == 1024);
  CHECK(op_named(graph, "layer0.o_proj").n == 8192);
  CHECK(op_named(graph, "layer79.down_proj").k == 3584);
  CHECK(op_named(graph, "layer79.down_proj").n == 8192);
  // Attention per rank: batch 4 x 8 heads = 32 (sequence, head) groups over 129 keys; the rank's
  // KV cache is its one head: 4 x 129 x 128 x 2 B = 132,096 B each for K and V.
  CHECK(op_named(graph, "layer0.attention_scores").groups == 32);
  CHECK(op_named(graph, "layer0.attention_scores").cache_read_bytes == 132'096.0);
  CHECK(op_named(graph, "layer0.kv_append").cache_write_bytes == 2.0 * 4 * 128 * 2);

  // Two all-reduces per layer (after o and after down), each of the full [4, 8192] bf16 output:
  // 4 x 8192 x 2 = 65,536 B; summing 8 partials costs 7 adds per element: 4 x 8192 x 7 = 229,376.
  const std::vector<const Op*> all_reduces = ops_of_kind(graph, OpKind::kAllReduce);
  REQUIRE(all_reduces.size() == 160);
  for (int layer = 0; layer < 80; ++layer) {
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    for (const char* role : {"attn_all_reduce", "mlp_all_reduce"}) {
      const Op& op = op_named(graph, prefix + role);
      INFO(op.name);
      CHECK(op.kind == OpKind::kAllReduce);
      CHECK(op.layer == layer);
      CHECK(op.collective_bytes == 65'536.0);
      CHECK(op.flops == 229'376.0);
      CHECK(op.weight_bytes == 0);
    }
  }
  // One all-gather of the fp32 logits: each rank computes 4 x 16032, everyone ends with
  // 4 x 128256 x 4 B = 2,052,096 B, which leave the graph from the gather, not from lm_head.
  const std::vector<const Op*> gathers = ops_of_kind(graph, OpKind::kAllGather);
  REQUIRE(gathers.size() == 1);
  CHECK(gathers[0]->name == "logits_all_gather");
  CHECK(gathers[0]->collective_bytes == 2'052'096.0);
  CHECK(gathers[0]->external_write_bytes == 2'052'096.0);
  CHECK(gathers[0]->n == 16032);
  CHECK(op_named(graph, "lm_head").external_write_bytes == 0);
  // Without tensor parallelism there are no collectives and lm_head writes the logits.
  CHECK(ops_of_kind(whole, OpKind::kAllReduce).empty());
  CHECK(ops_of_kind(whole, OpKind::kAllGather).empty());
  CHECK(op_named(whole, "lm_head").external_write_bytes == 2'052'096.0);

  // Parameters. Whole model: embedding 128256 x 8192 = 1,050,673,152; per layer q 67,108,864 +
  // k, v 8,388,608 each + o 67,108,864 + gate/up/down 234,881,024 each + 2 norms 16,384 =
  // 855,654,400, x 80 = 68,452,352,000; final norm 8,192; lm_head 1,050,673,152
  // -> 70,553,706,496.
  CHECK(whole.total_parameters() == 70'553'706'496);
  // Per rank: the embedding (1,050,673,152) and the 161 norms (161 x 8192 = 1,318,912) are
  // replicated, everything else is split 8 ways: (70,553,706,496 - 1,050,673,152 - 1,318,912) / 8
  // = 8,687,714,304 -> 8,687,714,304 + 1,050,673,152 + 1,318,912 = 9,739,706,368.
  // (Per layer 8,388,608 + 2 x 1,048,576 + 8,388,608 + 3 x 29,360,128 + 16,384 = 106,971,136;
  // x 80 + 8,192 + 16032 x 8192 + 1,050,673,152 gives the same.)
  CHECK(graph.total_parameters() == 9'739'706'368);
  const std::int64_t replicated = 1'050'673'152 + 161 * 8192;
  CHECK((whole.total_parameters() - replicated) % 8 == 0);
  CHECK(graph.total_parameters() == (whole.total_parameters() - replicated) / 8 + replicated);

  // Heads that do not divide split unevenly; the graph is the busiest rank's. 64 heads over 3
  // ranks: 22, 21, 21 (heads 0-21, 22-42, 43-63); 8 kv heads, one per 8 query heads: the ranks
  // read kv heads 0-2 (3), 2-5 (4) and 5-7 (3). Weight columns 2 x 22 + 2 x 3 = 50 and
  // 2 x 21 + 2 x 4 = 50 tie; the rank with more kv heads (more KV cache to read) is the busiest:
  // 21 x 128 = 2688 q columns, 4 x 128 = 512 k columns.
  const WorkloadGraph uneven = dfsim::build_decoder_graph(model, StepShape{}, 3);
  CHECK(op_named(uneven, "layer0.q_proj").n == 2688);
  CHECK(op_named(uneven, "layer0.k_proj").n == 512);
}

TEST_CASE("KV heads are split over ranks or replicated", "[tp]") {
  SECTION("8 KV heads over 16 ranks: one (replicated) KV head per rank") {
    const ModelSpec model = dfsim::load_model_spec("llama3.1-70b", {});
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 128, false}, 16);
    // 64 / 16 = 4 query heads x 128 = 512; max(1, 8 / 16) = 1 KV head x 128 = 128.
    CHECK(op_named(graph, "layer0.q_proj").n == 512);
    CHECK(op_named(graph, "layer0.k_proj").n == 128);
    CHECK(op_named(graph, "layer0.v_proj").n == 128);
    // Its cache: 1 x 129 x 128 x 2 B = 33,024 B for K.
    CHECK(op_named(graph, "layer0.attention_scores").cache_read_bytes == 33'024.0);
  }

  SECTION("6 KV heads") {
    const ModelSpec model = model_with_6_kv_heads();
    // 4 ranks (6 % 4 != 0 and 4 % 6 != 0): 6 query heads each, one kv head per 4 query heads,
    // so every rank's run straddles two groups (heads 0-5: kv 0-1; 6-11: kv 1-2; ...): 2 kv
    // heads x 16 = 32 columns, kv heads 1 and 4 held twice.
    CHECK(op_named(dfsim::build_decoder_graph(model, StepShape{}, 4), "layer0.k_proj").n == 32);
    // 3 ranks: 2 KV heads x 16 = 32 each; 12 ranks: each KV head on 2 ranks, 1 x 16.
    CHECK(op_named(dfsim::build_decoder_graph(model, StepShape{}, 3), "layer0.k_proj").n == 32);
    CHECK(op_named(dfsim::build_decoder_graph(model, StepShape{}, 12), "layer0.k_proj").n == 16);
  }

  SECTION("every layer's KV heads are split, overrides included") {
    // 24 heads over 8 ranks: 3 each. Layer 0 has 8 KV heads (one per 3 query heads): one each,
    // 16 columns. Layer 1 is overridden to 6 (one per 4 query heads): heads 3-5 read kv 0-1,
    // so the busiest rank holds 2 x 16 = 32 columns.
    ModelSpec model = model_with_6_kv_heads();
    model.num_key_value_heads = 8;
    model.layer_overrides.push_back(dfsim::LayerOverride{{1}, 0, 6});
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{}, 8);
    CHECK(op_named(graph, "layer0.k_proj").n == 16);
    CHECK(op_named(graph, "layer1.k_proj").n == 32);
  }
}

TEST_CASE("Ring collective cost: bytes per rank and latency steps", "[tp]") {
  const dfsim::LinkSpec link;  // a ring's steps and bytes do not depend on the link
  auto ring_cost = [&](Collective collective, double bytes, int ranks) {
    return dfsim::collective_cost(dfsim::CollectiveAlgorithm::kRing, collective, bytes, ranks,
                                  link);
  };
  // All-reduce over R = 8: reduce-scatter + all-gather, each rank sends 2 x 7/8 of the tensor in
  // 2 x 7 = 14 steps. 16,384 B (one token's bf16 hidden state of llama3.1-70b) -> 28,672 B.
  dfsim::CollectiveCost cost = ring_cost(Collective::kAllReduce, 16'384, 8);
  CHECK(cost.link_bytes == 28'672.0);
  CHECK(cost.steps == 14);
  // All-gather: 7/8 in 7 steps. The fp32 logits of one token: 128256 x 4 = 513,024 -> 448,896.
  cost = ring_cost(Collective::kAllGather, 513'024, 8);
  CHECK(cost.link_bytes == 448'896.0);
  CHECK(cost.steps == 7);
  // R = 16: 2 x 15/16 = 1.875 x, 30 steps.
  cost = ring_cost(Collective::kAllReduce, 16'384, 16);
  CHECK(cost.link_bytes == 30'720.0);
  CHECK(cost.steps == 30);
  // One rank or no collective: nothing.
  cost = ring_cost(Collective::kAllReduce, 16'384, 1);
  CHECK(cost.link_bytes == 0);
  CHECK(cost.steps == 0);
  cost = ring_cost(Collective::kNone, 16'384, 8);
  CHECK(cost.link_bytes == 0);
  CHECK(cost.steps == 0);
}

TEST_CASE("All-reduce time grows with the message and falls with link bandwidth", "[tp]") {
  // llama3.1-70b, 1-token decode at past 128 on dgx-h100, whose GPU mapper runs each collective
  // as a kernel of its own, with the ring forced (auto would pick one-shot; test_collectives.cpp
  // checks each algorithm): time = 13 serial step latencies + the transfer's own latency + bytes
  // over the link.
  const std::string ring = "hw.link.collective=ring";
  const RunStats base = dfsim::run_isolated(decode_request("dgx-h100", 1, {ring}));
  const RunStats slow_link =
      dfsim::run_isolated(decode_request("dgx-h100", 1, {ring, "hw.link.bandwidth=225GB/s"}));
  const RunStats batch64 = dfsim::run_isolated(decode_request("dgx-h100", 64, {ring}));

  // Batch 1: 28,672 B on the link -> 14 x 0.6 us + 28,672 / 450 GB/s = 8.4 + 0.063716 us.
  const double t1 = 14 * kNvlinkStep + 28'672 / kNvlink;
  CHECK(t1 == Approx(8.463716e-6).epsilon(1e-7));
  CHECK(kernel_stats(base, "layer0.attn_all_reduce").time_s == Approx(t1).margin(1e-11));
  CHECK(kernel_stats(base, "layer0.mlp_all_reduce").time_s == Approx(t1).margin(1e-11));
  // Halved link: 8.4 + 28,672 / 225 GB/s = 8.527431 us.
  const double t1_slow = 14 * kNvlinkStep + 28'672 / (kNvlink / 2);
  CHECK(kernel_stats(slow_link, "layer0.attn_all_reduce").time_s == Approx(t1_slow).margin(1e-11));
  // Batch 64: a [64, 8192] bf16 tensor = 1,048,576 B -> 1,835,008 B on the link
  // -> 8.4 + 4.077796 us = 12.477796 us.
  const double t64 = 14 * kNvlinkStep + 1'835'008 / kNvlink;
  CHECK(kernel_stats(batch64, "layer0.attn_all_reduce").time_s == Approx(t64).margin(1e-11));
  CHECK(t64 > t1);

  // The whole step: every collective is on the critical path of a GPU, so halving the link adds
  // (160 all-reduces x 28,672 + the logits all-gather's 448,896 B) x (1/225 - 1/450) GB/s^-1
  // = 5,036,416 B / 450 GB/s = 11.192 us.
  const double delta = (160 * 28'672.0 + 448'896.0) * (1 / (kNvlink / 2) - 1 / kNvlink);
  CHECK(delta == Approx(11.192e-6).epsilon(1e-4));
  CHECK(slow_link.time_s - base.time_s == Approx(delta).epsilon(0.01));
  // Link bandwidth does not change the work.
  CHECK(slow_link.dram_bytes == base.dram_bytes);
  CHECK(slow_link.flops == base.flops);

  // sn40l-8: the collectives are pipeline stages of the layer kernels and partly overlap the
  // weight stream, so halving the 128 GB/s P2P link costs more than nothing and at most the
  // same bytes at the lower rate: (160 x 28,672 + 448,896) x (1/64 - 1/128) GB/s^-1 = 39.35 us.
  const RunStats rdu = dfsim::run_isolated(decode_request("sn40l-8", 1, {ring}));
  const RunStats rdu_slow =
      dfsim::run_isolated(decode_request("sn40l-8", 1, {ring, "hw.link.bandwidth=64GB/s"}));
  const double rdu_delta = rdu_slow.time_s - rdu.time_s;
  INFO("sn40l-8 slowdown from the halved link: " << rdu_delta << " s");
  CHECK(rdu_delta > 0);
  CHECK(rdu_delta <= (160 * 28'672.0 + 448'896.0) * (1 / 64e9 - 1 / 128e9) * 1.001);
}

TEST_CASE("A dgx-h100 decode reads one eighth of the weights per GPU", "[tp]") {
  const RunStats stats = dfsim::run_isolated(decode_request("dgx-h100", 1));
  CHECK(stats.sockets == 8);
  CHECK(stats.kernel_launches == 10 * 80 + 3 + 160 + 1);  // + the 161 collective kernels
  // Single-GPU weights read per step (bf16): 80 layers x 855,654,400 + final norm 8,192 +
  // lm_head 1,050,673,152 = 69,503,033,344 parameters x 2 B, + one embedding row 8192 x 2 B
  // -> 139,006,083,072 B; one eighth: 17,375,760,384 B.
  const double single = 2 * 69'503'033'344.0 + 16'384;
  // Per rank: 2 x (80 x 106,971,136 + 8,192 + 16032 x 8192) + 16,384 = 17,378,082,816 B (the
  // replicated norms and embedding row make it 2,322,432 B more than one eighth).
  const double rank_weights = 2 * (80 * 106'971'136.0 + 8'192 + 16'032 * 8'192.0) + 16'384;
  CHECK(rank_weights == 17'378'082'816.0);
  // Reported DRAM bytes cover all 8 GPUs; one GPU's share adds its KV cache (80 x 2 x 129 x 128
  // x 2 B = 5.3 MB) and activations to the weights.
  const double per_gpu = stats.dram_bytes / 8;
  INFO("per-GPU DRAM bytes " << per_gpu);
  CHECK(per_gpu >= rank_weights + 5'283'840);
  CHECK(per_gpu <= rank_weights * 1.005);
  CHECK(per_gpu == Approx(single / 8).epsilon(0.01));
}

TEST_CASE("Uneven heads: qwen2.5-7b runs on 8 sockets and its busiest socket sets the time",
          "[tp]") {
  // 28 query heads over 8 sockets: 4, 4, 4, 4, 3, 3, 3, 3. 4 kv heads, one per 7 query heads:
  // the runs 4-7 and 12-15 straddle two groups, so the busiest socket holds 4 query + 2 kv heads
  // (the others 4 + 1, 3 + 1 or 3 + 2). Kv heads held: 1 + 2 + 1 + 2 + 1 + 2 + 1 + 1 = 11.
  const dfsim::HeadShard shard = dfsim::head_shard(28, 4, 8);
  CHECK(shard.heads == 4);
  CHECK(shard.kv_heads == 2);
  CHECK(shard.mean_heads == 3.5);
  CHECK(shard.mean_kv_heads == 11.0 / 8);
  CHECK_FALSE(shard.even());
  // 16 sockets: 12 with 2 heads, 4 with 1; heads 6-7 and 20-21 straddle groups: busiest 2 + 2.
  const dfsim::HeadShard sixteen = dfsim::head_shard(28, 4, 16);
  CHECK(sixteen.heads == 2);
  CHECK(sixteen.kv_heads == 2);
  CHECK(sixteen.mean_kv_heads == 18.0 / 16);
  // An even split is even: 32 heads, 8 kv heads on 8 sockets.
  CHECK(dfsim::head_shard(32, 8, 8).even());

  RunRequest r = decode_request("sn40l-8", 1);
  r.model = "qwen2.5-7b";
  const RunStats uneven = dfsim::run_isolated(r);
  CHECK(uneven.heads_per_socket == 4);
  CHECK(uneven.kv_heads_per_socket == 2);
  CHECK(uneven.mean_heads_per_socket == 3.5);
  // The same model with 32 heads and 16 kv heads of the same width gives every socket exactly
  // the busiest socket's 4 + 2 heads: the same per-socket program, so the same time.
  RunRequest even = r;
  even.overrides.push_back(dfsim::parse_override("model.num_attention_heads=32"));
  even.overrides.push_back(dfsim::parse_override("model.num_key_value_heads=16"));
  const RunStats busiest_everywhere = dfsim::run_isolated(even);
  CHECK(busiest_everywhere.heads_per_socket == 4);
  CHECK(busiest_everywhere.kv_heads_per_socket == 2);
  CHECK(uneven.time_s == busiest_everywhere.time_s);
}
