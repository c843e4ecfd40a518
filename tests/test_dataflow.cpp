// Dataflow mapping (sim/mapping/dataflow_mapper.h) and the SN40L-like machine
// (models/dataflow/dataflow_machine.h) against hand derivations from workloads/*.yaml and
// hw_configs/sn40l.yaml. Every expected number is derived in the comment next to it. SystemC
// elaborates once per process, so every simulation runs in a forked child (run_isolated /
// run_in_child).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/mapping/dataflow_mapper.h"
#include "sim/mapping/kernel_formation.h"
#include "sim/workload/workload_graph.h"

using dfsim::DataflowSpec;
using dfsim::HwConfig;
using dfsim::Kernel;
using dfsim::LoopingMode;
using dfsim::ModelSpec;
using dfsim::Program;
using dfsim::RunRequest;
using dfsim::RunStats;
using dfsim::StepShape;
using dfsim::WorkloadGraph;
using nlohmann::json;

namespace {

// Figures of hw_configs/sn40l.yaml the derivations below use.
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr int kPcus = 1040;
constexpr double kPcuRate = 638e12 / kPcus;      // FLOP/s of one PCU (bf16)
constexpr double kHbmStreaming = 1.6e12 * 0.87;  // 1.392e12 B/s
constexpr double kDdrStreaming = 200e9 * 0.75;   // 1.5e11 B/s
constexpr double kHbmLatency = 300e-9;           // s
constexpr double kStageLatency = 25e-9;          // s
constexpr double kLaunch = 3e-6;                 // kernel_call.launch_overhead
constexpr double kHostSync = 2e-6;               // kernel_call.host_sync
constexpr double kProgramLoad = 20e-6;           // kernel_call.program_load

DataflowSpec sn40l(const std::vector<dfsim::Override>& overrides = {}) {
  const HwConfig hw = dfsim::load_hw_config("sn40l", overrides);
  REQUIRE(hw.dataflow() != nullptr);
  return *hw.dataflow();
}

const char* const kLayerStages[] = {
    "attn_norm",        "q_proj",  "k_proj",           "v_proj",    "rope",          "kv_append",
    "attention_scores", "softmax", "attention_values", "o_proj",    "attn_residual", "mlp_norm",
    "gate_proj",        "up_proj", "swiglu",           "down_proj", "mlp_residual"};

const dfsim::Stage& stage_named(const Kernel& kernel, const std::string& name) {
  for (const dfsim::Stage& stage : kernel.stages) {
    if (stage.name == name) return stage;
  }
  FAIL("no stage " << name << " in " << kernel.name);
  throw std::logic_error("unreachable");
}

dfsim::Phase decode(std::int64_t context, std::int64_t tokens) {
  dfsim::Phase phase;
  phase.kind = dfsim::PhaseKind::kDecode;
  phase.context = context;
  phase.tokens = tokens;
  return phase;
}

RunRequest request(const std::string& model, const dfsim::Phase& phase,
                   std::vector<dfsim::Override> overrides = {}) {
  RunRequest r;
  r.model = model;
  r.hw = "sn40l";
  r.phase = phase;
  r.overrides = std::move(overrides);
  r.looping = LoopingMode::kOff;
  return r;
}

// llama3.1-70b weight bytes of one decoder layer (bf16): q 8192x8192, k and v 8192x1024 each,
// o 8192x8192, gate/up/down 8192x28672 each = 855,638,016 parameters x 2 B = 1,711,276,032,
// plus two norms of 8192 x 2 B = 32,768 -> 1,711,308,800.
constexpr double k70bLayerWeights = 1'711'308'800.0;

}  // namespace

TEST_CASE("Dataflow kernels: one per decoder layer with stages in op order and PCUs by FLOPs",
          "[dataflow]") {
  const ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 128, false});
  const Program program = dfsim::map_to_dataflow(graph, sn40l());

  // embedding, 32 layers, lm_head (final norm + LM head).
  REQUIRE(program.kernels.size() == 34);
  CHECK(program.kernels.front().name == "embedding");
  REQUIRE(program.kernels.front().stages.size() == 1);
  CHECK(program.kernels.front().stages[0].name == "embedding");
  const Kernel& head = program.kernels.back();
  CHECK(head.name == "lm_head");
  REQUIRE(head.stages.size() == 2);
  CHECK(head.stages[0].name == "final_norm");
  CHECK(head.stages[1].name == "lm_head");
  std::size_t next_op = 0;
  for (const Kernel& kernel : program.kernels) {
    for (std::size_t id : kernel.ops) CHECK(id == next_op++);
  }
  CHECK(next_op == graph.op_count());  // 1 + 17 x 32 + 2 = 547
  CHECK(next_op == 547);

  for (int layer = 0; layer < 32; ++layer) {
    const Kernel& kernel = program.kernels[static_cast<std::size_t>(layer + 1)];
    INFO(kernel.name);
    CHECK(kernel.name == "layer" + std::to_string(layer) + ".decoder_layer");
    CHECK(kernel.layer == layer);
    REQUIRE(kernel.stages.size() == 17);
    for (std::size_t i = 0; i < 17; ++i) CHECK(kernel.stages[i].name == kLayerStages[i]);
    // Decode: one token, one micro-batch, one chunk, nothing spilled (16 GB fits in 64 GiB).
    CHECK(kernel.micro_batches == 1);
    CHECK(kernel.token_chunks == 1);
    CHECK(kernel.ddr_read_bytes == 0);
  }

  // FLOPs of a layer at past 128 (129 keys, 32 heads -> 4,128 head pairs):
  //   matmuls 2 x 4096 x (4096 + 1024 + 1024 + 4096 + 3 x 14336) = 436,207,616;
  //   scores 2 x 128 x 4,128 + 4,128 = 1,060,896; softmax 5 x 4,128 = 20,640;
  //   values 1,056,768; norms 2 x 16,387 = 32,774; rope 3 x 5,120 = 15,360;
  //   swiglu 5 x 14,336 = 71,680; residual adds 2 x 4,096 = 8,192 -> 438,473,926.
  const Kernel& layer0 = program.kernels[1];
  CHECK(layer0.flops == 438'473'926.0);
  // PCUs: one per stage (17), the other 1,023 by FLOP share, leftovers by largest remainder:
  //   q_proj  33,554,432 / 438,473,926 x 1023 = 78.286  -> 1 + 78      = 79
  //   k_proj   8,388,608 / ...          x 1023 = 19.571  -> 1 + 19 + 1  = 21
  //   gate   117,440,512 / ...          x 1023 = 273.9997 -> 1 + 273 + 1 = 275
  //   attention_scores 1,060,896 / ...  x 1023 = 2.475   -> 1 + 2 + 1   = 4
  //   softmax 20,640 / ...              x 1023 = 0.048   -> 1
  //   kv_append 0 FLOPs                                  -> 1
  // The whole shares sum to 1,017; the 6 leftovers go to the largest remainders: gate, up,
  // down (0.9997), k, v (0.571) and attention_scores (0.475).
  CHECK(stage_named(layer0, "q_proj").units == 79);
  CHECK(stage_named(layer0, "k_proj").units == 21);
  CHECK(stage_named(layer0, "gate_proj").units == 275);
  CHECK(stage_named(layer0, "down_proj").units == 275);
  CHECK(stage_named(layer0, "attention_scores").units == 4);
  CHECK(stage_named(layer0, "attention_values").units == 3);
  CHECK(stage_named(layer0, "softmax").units == 1);
  CHECK(stage_named(layer0, "kv_append").units == 1);
  // Every PCU is placed, none twice.
  int units = 0;
  for (const dfsim::Stage& stage : layer0.stages) units += stage.units;
  CHECK(units == 1040);
  // Stage work sums to the kernel's.
  double flops = 0;
  for (const dfsim::Stage& stage : layer0.stages) flops += stage.work.flops;
  CHECK(flops == layer0.flops);
}

TEST_CASE("Weights beyond HBM spill to DDR and slow the run down", "[dataflow]") {
  // llama3.1-70b, decode at past 128 on one sn40l socket.
  const ModelSpec model = dfsim::load_model_spec("llama3.1-70b", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 128, false});
  const Program program = dfsim::map_to_dataflow(graph, sn40l());
  REQUIRE(program.kernels.size() == 82);

  // HBM budget for the layers: 64 GiB = 68,719,476,736 B
  //   - KV cache: 80 layers x K and V x 129 keys x 1024 (8 heads x 128) x 2 B = 42,270,720
  //   - embedding table and LM head, 128256 x 8192 x 2 B each = 2 x 2,101,346,304
  //   - final norm weights, 8192 x 2 B = 16,384
  //   = 64,474,497,024 B = 37.68 layers of 1,711,308,800 B.
  // Layers 0-36 fit (63,318,425,600 B); layer 37 keeps 1,156,071,424 B in HBM and spills
  // 555,237,376 B; layers 38-79 spill whole.
  const double hbm_left = 64 * kGiB - 42'270'720.0 - 2 * 2'101'346'304.0 - 16'384.0;
  CHECK(hbm_left == 64'474'497'024.0);
  CHECK(program.kernels.front().ddr_read_bytes == 0);  // embedding
  CHECK(program.kernels.back().ddr_read_bytes == 0);   // lm_head
  double spilled = 0;
  for (int layer = 0; layer < 80; ++layer) {
    const Kernel& kernel = program.kernels[static_cast<std::size_t>(layer + 1)];
    INFO(kernel.name);
    if (layer < 37) {
      CHECK(kernel.ddr_read_bytes == 0);
    } else if (layer == 37) {
      CHECK(kernel.ddr_read_bytes == Approx(555'237'376.0).epsilon(1e-12));
    } else {
      CHECK(kernel.ddr_read_bytes == Approx(k70bLayerWeights).epsilon(1e-12));
    }
    // Only weights spill: the DDR part never exceeds the layer's weight bytes.
    CHECK(kernel.ddr_read_bytes <= kernel.dram_read_bytes);
    spilled += kernel.ddr_read_bytes;
  }
  // 555,237,376 + 42 x 1,711,308,800 = 72,430,206,976 B.
  const double expected_spill = 555'237'376.0 + 42 * k70bLayerWeights;
  CHECK(spilled == Approx(expected_spill).epsilon(1e-12));

  // With 1 TB of HBM nothing spills.
  const Program roomy =
      dfsim::map_to_dataflow(graph, sn40l({dfsim::parse_override("hw.hbm.capacity=1TB")}));
  for (const Kernel& kernel : roomy.kernels) CHECK(kernel.ddr_read_bytes == 0);

  // Simulated, one token. Expected ratio, with D the bytes the step reads and writes (the same
  // in both runs) and S the spilled bytes: all in HBM, T = D / 1.392 TB/s; spilled, the loader
  // streams S from DDR at 200 GB/s x 0.75 = 150 GB/s instead:
  //   T_spill / T_hbm = 1 + S (1.392e12 / 1.5e11 - 1) / D = 1 + 72.43e9 x 8.28 / 139.05e9 = 5.31.
  // Boundaries (~0.7 ms of 100 ms) dilute it a little; tolerance 3%.
  const RunStats spill = dfsim::run_isolated(request("llama3.1-70b", decode(128, 1)));
  const RunStats hbm = dfsim::run_isolated(
      request("llama3.1-70b", decode(128, 1), {dfsim::parse_override("hw.hbm.capacity=1TB")}));
  CHECK(spill.dram_bytes == hbm.dram_bytes);
  const double d = hbm.dram_bytes;
  CHECK(d == Approx(139.05e9).epsilon(1e-3));
  const double expected_ratio = 1 + expected_spill * (kHbmStreaming / kDdrStreaming - 1) / d;
  INFO("spill " << spill.time_s << " s, all in HBM " << hbm.time_s << " s, expected ratio "
                << expected_ratio);
  CHECK(spill.time_s / hbm.time_s == Approx(expected_ratio).epsilon(0.03));
  // All-HBM run: D / 1.392 TB/s = 99.9 ms plus boundaries, at 86 % of peak.
  CHECK(hbm.time_s == Approx(d / kHbmStreaming).epsilon(0.02));
}

TEST_CASE("A model too big for HBM and DDR is an input error naming the sizes", "[dataflow]") {
  // llama3.1-405b at past 128: 126 layers x (16384 x (2 x 16384 + 2 x 1024) + 3 x 16384 x 53248)
  // x 2 B + 2 norms x 16384 x 2 B = 126 x 6,375,407,616 = 803,301,359,616 B of layer weights;
  // embedding + LM head 2 x 128256 x 16384 x 2 = 8,405,385,216; KV cache 126 x 2 x 129 x 1024 x
  // 2 = 66,576,384 -> 811,773,321,216 B = "811.8 GB". HBM 64 GiB = "68.72 GB"; DDR set to 1 GB.
  const ModelSpec model = dfsim::load_model_spec("llama3.1-405b", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 128, false});
  const std::string message =
      "the model needs 811.8 GB per socket (weights and KV cache), the hardware has 68.72 GB HBM "
      "+ 1 GB DDR; use more sockets or a smaller dtype";
  const DataflowSpec small_ddr = sn40l({dfsim::parse_override("hw.ddr.capacity=1GB")});
  CHECK_THROWS_AS(dfsim::map_to_dataflow(graph, small_ddr), dfsim::InputError);
  CHECK_THROWS_WITH(dfsim::map_to_dataflow(graph, small_ddr), message);
  // With the 1.5 TiB of DDR it fits: 811.8 GB < 68.72 GB + 1649 GB.
  CHECK_NOTHROW(dfsim::map_to_dataflow(graph, sn40l()));
  // The run request fails the same way (in the child, before simulating).
  CHECK_THROWS_WITH(dfsim::run_isolated(request("llama3.1-405b", decode(128, 1),
                                                {dfsim::parse_override("hw.ddr.capacity=1GB")})),
                    message);
}

TEST_CASE("A long prefill is cut into token chunks that each stream the weights", "[dataflow]") {
  // llama3.1-8b prefill of 16384 tokens (T). Activations a layer keeps on chip (every edge between
  // two of its stages except into softmax / attention_values), in elements per token:
  //   attn_norm.out to q, k, v 3 x 4096; q 4096; k 1024; k_rotated 1024; v 1024; q_rotated 4096;
  //   attention 4096; o 4096; hidden to mlp_norm and mlp_residual 2 x 4096; mlp_norm.out to
  //   gate and up 2 x 4096; gate, up, swiglu 3 x 14336; down 4096 = 95,232
  //   -> 95,232 x 2 B x 16384 = 3,120,562,176 B (> 520 MiB = 545,259,520 B).
  // 128 micro-batches (16384 / 128 rows) keep the weights on chip too: 436,224,000 B
  //   (2 x 4096 x (4096 + 1024 + 1024 + 4096 + 3 x 14336) + 2 x 4096 x 2).
  // Budget: 520 MiB - HBM stream buffer 1.6e12 x (300 ns + 17 x 25 ns) = 1,160,000 B
  //   = 544,099,520 B. Chunks = ceil(3,556,786,176 / 544,099,520) = ceil(6.54) = 7.
  const ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
  const StepShape prefill{1, 16384, 0, true};
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, prefill);
  const Program program = dfsim::map_to_dataflow(graph, sn40l());
  REQUIRE(program.kernels.size() == 34);
  const double layer_weights = 436'224'000.0;
  const double working_set = 3'120'562'176.0 + layer_weights;

  // The same kernels before tiling, as kernel formation accounts them.
  const std::vector<Kernel> untiled = dfsim::form_kernels(graph, [](const dfsim::Op& op) {
    return op.layer >= 0
               ? std::string("decoder_layer")
               : std::string(op.kind == dfsim::OpKind::kEmbedding ? "embedding" : "lm_head");
  });
  REQUIRE(untiled.size() == 34);

  for (int layer = 0; layer < 32; ++layer) {
    const Kernel& kernel = program.kernels[static_cast<std::size_t>(layer + 1)];
    const Kernel& base = untiled[static_cast<std::size_t>(layer + 1)];
    INFO(kernel.name);
    CHECK(kernel.micro_batches == 128);
    CHECK(kernel.token_chunks == 7);
    CHECK(kernel.onchip_working_set == Approx(working_set / 7).epsilon(1e-12));
    // Untiled reads: weights 436,224,000 + K and V caches of 16384 keys x 1024 x 2 B =
    // 2 x 33,554,432 + the layer input [16384, 4096] x 2 B = 134,217,728 -> 637,550,592.
    CHECK(base.dram_read_bytes == 637'550'592.0);
    // Each of the 6 extra chunks streams the weights again: + 6 x 436,224,000 = 2,617,344,000.
    CHECK(kernel.dram_read_bytes - base.dram_read_bytes == 6 * layer_weights);
    CHECK(kernel.dram_read_bytes == 3'254'894'592.0);
    CHECK(kernel.dram_write_bytes == base.dram_write_bytes);
    CHECK(kernel.flops == base.flops);
    // Per stage: q_proj's 4096 x 4096 x 2 = 33,554,432 B, 7 times.
    CHECK(stage_named(kernel, "q_proj").work.dram_read_bytes == 7 * 33'554'432.0);
  }
  // The LM head runs on the last position only (1 row): one chunk, nothing re-read.
  CHECK(program.kernels.back().token_chunks == 1);
  CHECK(program.kernels.back().dram_read_bytes == untiled.back().dram_read_bytes);

  // Shorter prompts: 512 tokens -> 190,464 x 512 = 97,517,568 + 436,224,000 = 533,741,568 B
  // fits the 544,099,520 B budget (1 chunk of 4 micro-batches); 1024 tokens -> 195,035,136 +
  // 436,224,000 = 631,259,136 B -> 2 chunks.
  const Program p512 = dfsim::map_to_dataflow(
      dfsim::build_decoder_graph(model, StepShape{1, 512, 0, true}), sn40l());
  CHECK(p512.kernels[1].micro_batches == 4);
  CHECK(p512.kernels[1].token_chunks == 1);
  const Program p1024 = dfsim::map_to_dataflow(
      dfsim::build_decoder_graph(model, StepShape{1, 1024, 0, true}), sn40l());
  CHECK(p1024.kernels[1].micro_batches == 8);
  CHECK(p1024.kernels[1].token_chunks == 2);
}

TEST_CASE("A chunked prefill never computes faster than its PCUs allow", "[dataflow]") {
  // Each stage keeps its PCUs for all its chunks, so a layer takes at least its slowest stage's
  // FLOPs over that stage's PCUs. For the 16384-token llama3.1-8b prefill (layer FLOPs
  // 9.3739e12, 1,023 spare PCUs shared by FLOPs) the MLP matmuls are that stage:
  // 2 x 16384 x 4096 x 14336 = 1,924,145,348,608 FLOPs on 1 + floor(209.988) + 1 = 211 PCUs
  // (softmax, 21.48e9 FLOPs on 3 PCUs, and attention, 1.104e12 on 122, do less per PCU)
  // -> 1.924e12 / (211 x 613.46e9) = 14.865 ms per layer, 475.7 ms for the 32 layers.
  // And never above the 638 TFLOPS peak.
  dfsim::Phase phase;
  phase.kind = dfsim::PhaseKind::kPrefill;
  phase.context = 16384;
  const RunStats stats = dfsim::run_isolated(request("llama3.1-8b", phase));
  INFO("time " << stats.time_s << " s, compute utilization " << stats.compute_utilization);
  CHECK(stats.compute_utilization <= 1.0);
  CHECK(stats.time_s >= stats.flops / 638e12);
  const double mlp_bound = 32 * 1'924'145'348'608.0 / (211 * kPcuRate);
  CHECK(mlp_bound == Approx(0.4757).epsilon(1e-3));
  CHECK(stats.time_s >= mlp_bound);
  // ...and not much more: the other stages keep pace with the MLP, so only the pipeline fill
  // before its first chunk and the drain after its last come on top: at most 10 %.
  CHECK(stats.time_s <= 1.10 * mlp_bound);
}

TEST_CASE("Each kernel-call boundary idles HBM for sync, launch, latency and drain", "[dataflow]") {
  // llama3.1-8b, 1-token decode at past 128 on one sn40l socket, looping off: 34 calls
  // (embedding, 32 layers, lm_head), orchestrated by the host (every call issued and observed
  // by it; on one socket no per-socket terms).
  const dfsim::Override by_host = dfsim::parse_override("hw.kernel_call.orchestration=host");
  const json result = dfsim::run_in_child([&] {
    const dfsim::RunResult run =
        dfsim::run_simulation_traced(request("llama3.1-8b", decode(128, 1), {by_host}));
    json kernels = json::array();
    for (const dfsim::KernelRecord& record : run.trace.kernels) {
      kernels.push_back({{"first_byte", record.dram_first_byte},
                         {"last_byte", record.dram_last_byte},
                         {"end", record.end}});
    }
    return json{{"kernels", kernels},
                {"time_s", run.stats.time_s},
                {"sync_overhead_s", run.stats.sync_overhead_s},
                {"sync_boundaries", run.stats.sync_boundaries}};
  });
  const json& kernels = result["kernels"];
  REQUIRE(kernels.size() == 34);
  CHECK(result["sync_boundaries"].get<std::int64_t>() == 34);

  // Drain after a layer's last weight byte (down_proj's): down_proj computes its one token,
  // 117,440,512 FLOPs on 275 PCUs = 117,440,512 / (275 x 613.46e9) = 0.69614 us; mlp_residual
  // follows one stage latency (25 ns) later, writes the 8 KiB output (HBM latency 300 ns +
  // 8192 B / 1.392 TB/s = 305.885 ns), and the pipeline drains one more stage latency (25 ns):
  // 0.69614 + 0.025 + 0.305885 + 0.025 = 1.052025 us. Then host_sync 2 us + launch 3 us, and the
  // next call's first byte one HBM latency (0.3 us) later: 6.352025 us between layers.
  const double down_compute = 117'440'512.0 / (275 * kPcuRate);
  const double write = kHbmLatency + 8192 / kHbmStreaming;
  const double drain = down_compute + kStageLatency + write + kStageLatency;
  CHECK(drain == Approx(1.052025e-6).epsilon(1e-5));
  const double between_layers = drain + kHostSync + kLaunch + kHbmLatency;
  for (std::size_t i = 1; i < 32; ++i) {
    INFO("layer" << i - 1 << " -> layer" << i);
    const double window =
        kernels[i + 1]["first_byte"].get<double>() - kernels[i]["last_byte"].get<double>();
    CHECK(window == Approx(between_layers).margin(1e-10));
  }
  // lm_head runs a different program: + program_load 20 us -> 26.344515 us.
  const double to_head =
      kernels[33]["first_byte"].get<double>() - kernels[32]["last_byte"].get<double>();
  CHECK(to_head == Approx(between_layers + kProgramLoad).margin(1e-10));

  // Summed over the step (summarize integrates the idle share of each window):
  //   before the embedding: launch + program_load + latency = 23.3 us;
  //   embedding -> layer 0: drain without compute (write 305.885 ns + 25 ns) + host_sync +
  //     launch + program_load + latency = 25.630885 us;
  //   31 layer boundaries x 6.344515 us = 196.679965 us; layer 31 -> lm_head 26.344515 us
  //   -> 271.955 us, less the 33 boundary writes of 8 KiB that keep HBM busy 5.885 ns each
  //   (0.194 us) = 271.761 us. Of it, fixed costs 34 x 3 + 33 x 2 + 3 x 20 + 34 x 0.3 = 238.2 us.
  const double fixed = 34 * kLaunch + 33 * kHostSync + 3 * kProgramLoad + 34 * kHbmLatency;
  CHECK(fixed == Approx(238.2e-6).epsilon(1e-12));
  const double expected_sync =
      fixed + 32 * drain + (write + kStageLatency) - 33 * 8192 / kHbmStreaming;
  CHECK(result["sync_overhead_s"].get<double>() == Approx(expected_sync).epsilon(0.005));

  // A slower host_sync (2 us -> 12 us) adds 10 us at each of the 33 boundaries after the first
  // call: 330 us, to the time and to the measured sync overhead.
  const RunStats slow = dfsim::run_isolated(
      request("llama3.1-8b", decode(128, 1),
              {by_host, dfsim::parse_override("hw.kernel_call.host_sync=12us")}));
  const double base_time = result["time_s"].get<double>();
  CHECK(slow.time_s - base_time == Approx(33 * 10e-6).epsilon(0.01));
  CHECK(slow.sync_overhead_s - result["sync_overhead_s"].get<double>() ==
        Approx(33 * 10e-6).epsilon(0.01));
}

TEST_CASE("Call-boundary costs of both orchestrations grow with the sockets as derived",
          "[dataflow]") {
  dfsim::KernelCallSpec call;
  call.launch_overhead = 3e-6;
  call.launch_per_socket = 1e-6;
  call.host_sync = 2e-6;
  call.poll_per_socket = 0.1e-6;
  call.device_launch = 1e-6;
  call.barrier_round = 5e-6;
  // Host: the first call launches only: 3 + (R-1) x 1 us; later ones also poll:
  // + 2 + (R-1) x 0.1 us. R = 1: 3 and 5 us; R = 8: 10 and 12.7 us; R = 16: 18 and 21.5 us.
  CHECK(call.host_boundary(1, true) == Approx(3e-6));
  CHECK(call.host_boundary(1, false) == Approx(5e-6));
  CHECK(call.host_boundary(8, true) == Approx(10e-6));
  CHECK(call.host_boundary(8, false) == Approx(12.7e-6));
  CHECK(call.host_boundary(16, false) == Approx(21.5e-6));
  // Device: ceil(log2 R) barrier rounds + the AGCU's launch. R = 1: no rounds, 1 us; R = 8:
  // 3 x 5 + 1 = 16 us; R = 16: 4 x 5 + 1 = 21 us; R = 12: ceil(3.58) = 4 rounds, 21 us.
  CHECK(call.device_boundary(1) == Approx(1e-6));
  CHECK(call.device_boundary(8) == Approx(16e-6));
  CHECK(call.device_boundary(16) == Approx(21e-6));
  CHECK(call.device_boundary(12) == Approx(21e-6));
}

TEST_CASE("Dataflow: a serving step's attention at several contexts is one stage per role",
          "[dataflow][serving]") {
  // 64 decodes of llama3.1-8b in four groups of 16 at contexts 500, 520, 540 and 560, against
  // one group of 64 at their mean, 530. Attention work is linear in the keys (past + 1 for a
  // decode), so the four groups' scores/softmax/values sum to exactly the one group's:
  // 16 x (501 + 521 + 541 + 561) = 64 x 531 keys. Merged, each layer has the 17 stages of a
  // uniform step, with equal work and equal PCUs; unmerged it had 3 x 4 attention stages, each
  // placed by its FLOPs share and run one after another by a single micro-batch.
  const ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
  StepShape ragged;
  for (std::int64_t past : {500, 520, 540, 560}) {
    ragged.groups.push_back({.count = 16, .new_tokens = 1, .past = past, .logits = true});
  }
  StepShape uniform;
  uniform.groups = {{.count = 64, .new_tokens = 1, .past = 530, .logits = true}};
  const Program four = dfsim::map_to_dataflow(dfsim::build_decoder_graph(model, ragged), sn40l());
  const Program one = dfsim::map_to_dataflow(dfsim::build_decoder_graph(model, uniform), sn40l());
  REQUIRE(four.kernels.size() == one.kernels.size());
  const Kernel& layer = four.kernels[1];
  REQUIRE(layer.stages.size() == std::size(kLayerStages));
  CHECK(layer.ops.size() == std::size(kLayerStages) + 3 * 3);  // the ops stay listed
  for (std::size_t i = 0; i < layer.stages.size(); ++i) {
    INFO(kLayerStages[i]);
    const dfsim::Stage& merged = layer.stages[i];
    const dfsim::Stage& single = one.kernels[1].stages[i];
    CHECK(merged.name == kLayerStages[i]);
    CHECK(merged.work.flops == Approx(single.work.flops).epsilon(1e-12));
    CHECK(merged.work.dram_read_bytes == Approx(single.work.dram_read_bytes).epsilon(1e-12));
    CHECK(merged.units == single.units);
  }
}
