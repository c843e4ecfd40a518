// Kernel looping (sim/mapping/kernel_looping.h) on real programs: what it changes (kernel-call
// boundaries) and what it must not (FLOPs, bytes). Every expected number is derived by hand in
// the comment next to it from the model and hardware files. SystemC elaborates once per process,
// so every simulation runs in a forked child (run_isolated / run_in_child).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/mapping/kernel_looping.h"
#include "sim/mapping/mapper.h"
#include "sim/report/roofline.h"
#include "sim/workload/workload_graph.h"

using dfsim::HwConfig;
using dfsim::Kernel;
using dfsim::LoopingMode;
using dfsim::LoopingResult;
using dfsim::LoopScope;
using dfsim::ModelSpec;
using dfsim::Program;
using dfsim::RunRequest;
using dfsim::RunStats;
using dfsim::StepShape;
using dfsim::WorkloadGraph;
using nlohmann::json;

namespace {

constexpr const char* kNothingToLoop =
    "--looping on: the program has no run of identical kernels to loop (use --looping auto to "
    "allow that)";

dfsim::Phase decode(std::int64_t context, std::int64_t tokens, std::int64_t batch = 1) {
  dfsim::Phase phase;
  phase.kind = dfsim::PhaseKind::kDecode;
  phase.batch = batch;
  phase.context = context;
  phase.tokens = tokens;
  return phase;
}

RunRequest request(const std::string& model, const std::string& hw, const dfsim::Phase& phase,
                   LoopingMode looping, const std::vector<std::string>& overrides = {}) {
  RunRequest r;
  r.model = model;
  r.hw = hw;
  r.phase = phase;
  r.looping = looping;
  for (const std::string& text : overrides) r.overrides.push_back(dfsim::parse_override(text));
  return r;
}

// The device-orchestrated boundary between two calls of a step, set here rather than read from
// sn40l.yaml (whose barrier_round is fitted): a barrier of ceil(log2 R) rounds of 0.5 us, then
// the AGCU's 1 us launch.
const std::vector<std::string> kBoundary = {"hw.kernel_call.orchestration=device",
                                            "hw.kernel_call.barrier_round=0.5us",
                                            "hw.kernel_call.device_launch=1us"};

// The decode step with `past` cached tokens (batch 1, one new token).
Program map_decode(const ModelSpec& model, const HwConfig& hw, LoopingMode looping,
                   std::int64_t past = 128) {
  const WorkloadGraph graph =
      dfsim::build_decoder_graph(model, StepShape{1, 1, past, false}, hw.sockets());
  return dfsim::map_program(graph, hw, looping);
}

std::vector<bool> continues(const Program& program) {
  std::vector<bool> flags;
  for (const Kernel& kernel : program.kernels) flags.push_back(kernel.continues_loop);
  return flags;
}

void check_same_work(const dfsim::Work& a, const dfsim::Work& b) {
  CHECK(a.flops == b.flops);
  CHECK(a.matmul_flops == b.matmul_flops);
  CHECK(a.dram_read_bytes == b.dram_read_bytes);
  CHECK(a.dram_write_bytes == b.dram_write_bytes);
  CHECK(a.ddr_read_bytes == b.ddr_read_bytes);
  CHECK(a.onchip_bytes == b.onchip_bytes);
  CHECK(a.collective_bytes == b.collective_bytes);
  CHECK(a.collective == b.collective);
}

// A workload file in the temp directory, removed when the test ends.
struct TempYaml {
  std::filesystem::path path;
  explicit TempYaml(const std::string& name, const std::string& text)
      : path(std::filesystem::temp_directory_path() /
             (name + "-" + std::to_string(::getpid()) + ".yaml")) {
    std::ofstream out(path);
    out << text;
  }
  ~TempYaml() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

}  // namespace

TEST_CASE("Looping never changes FLOPs or DRAM bytes", "[looping]") {
  const ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
  const dfsim::Phase phase = decode(128, 2);
  for (const char* hw_name : {"sn40l", "h100-sxm"}) {
    INFO(hw_name);
    const HwConfig hw = dfsim::load_hw_config(hw_name, {});
    const std::vector<Program> off = dfsim::build_programs(model, hw, phase, LoopingMode::kOff);
    const std::vector<Program> on = dfsim::build_programs(model, hw, phase, LoopingMode::kOn);
    REQUIRE(off.size() == 2);
    REQUIRE(on.size() == 2);
    for (std::size_t step = 0; step < off.size(); ++step) {
      REQUIRE(off[step].kernels.size() == on[step].kernels.size());
      std::int64_t looped = 0;
      for (std::size_t i = 0; i < off[step].kernels.size(); ++i) {
        const Kernel& a = off[step].kernels[i];
        const Kernel& b = on[step].kernels[i];
        INFO(a.name);
        CHECK(a.name == b.name);
        CHECK(!a.continues_loop);
        looped += b.continues_loop ? 1 : 0;
        check_same_work(a, b);
        CHECK(a.tiles == b.tiles);
        CHECK(a.token_chunks == b.token_chunks);
        REQUIRE(a.stages.size() == b.stages.size());
        for (std::size_t s = 0; s < a.stages.size(); ++s) {
          check_same_work(a.stages[s].work, b.stages[s].work);
          CHECK(a.stages[s].units == b.stages[s].units);
        }
      }
      // Something was looped: sn40l loops layers 1..31 into layer 0 (31 kernels); the GPU
      // megakernel makes every kernel but the first continue (10 x 32 + 3 - 1 = 322).
      CHECK(looped == (hw.gpu() ? 322 : 31));
    }
    // Step 0 of llama3.1-8b (h 4096, I 14336, 32 heads / 8 KV heads of 128, vocab 128256),
    // past 128 -> 129 keys, 129 x 32 = 4,128 head pairs per layer:
    //   matmuls 2 x (4096 x (4096 + 1024 + 1024 + 4096) + 3 x 4096 x 14336) = 436,207,616
    //   scores 2 x 128 x 4,128 + 4,128 = 1,060,896; softmax 5 x 4,128 = 20,640;
    //   values 2 x 128 x 4,128 = 1,056,768; norms 2 x (4 x 4096 + 3) = 32,774;
    //   rope 3 x (4096 + 1024) = 15,360; swiglu 5 x 14336 = 71,680; adds 2 x 4096 = 8,192
    //   -> 438,473,926 per layer x 32 = 14,031,165,632
    //   + final norm 16,387 + lm_head 2 x 4096 x 128256 = 1,050,673,152 -> 15,081,855,171.
    double step0 = 0;
    for (const Kernel& kernel : on[0].kernels) step0 += kernel.flops;
    CHECK(step0 == 15'081'855'171.0);

    const RunStats stats_off =
        dfsim::run_isolated(request("llama3.1-8b", hw_name, phase, LoopingMode::kOff));
    const RunStats stats_on =
        dfsim::run_isolated(request("llama3.1-8b", hw_name, phase, LoopingMode::kOn));
    CHECK(stats_on.flops == stats_off.flops);
    CHECK(stats_on.dram_bytes == stats_off.dram_bytes);
    CHECK(stats_on.flops > 3.0e10);  // two steps of ~1.508e10
    // Same work, fewer boundaries: looping is faster.
    CHECK(stats_on.time_s < stats_off.time_s);
    CHECK(stats_on.looping == "on");
    CHECK(stats_off.looping == "off");
  }
}

TEST_CASE("Looping removes exactly layers - 1 boundaries per loop", "[looping]") {
  const HwConfig sn40l = dfsim::load_hw_config("sn40l", {});

  SECTION("dataflow: one call per layer off, one call for all layers on") {
    // (model, layers): tiny-llama 2, llama3.1-8b 32, llama3.1-70b 80.
    const std::pair<const char*, std::int64_t> models[] = {
        {"tiny-llama", 2}, {"llama3.1-8b", 32}, {"llama3.1-70b", 80}};
    for (const auto& [name, layers] : models) {
      INFO(name);
      const ModelSpec model = dfsim::load_model_spec(name, {});
      REQUIRE(model.num_layers == layers);
      Program program = map_decode(model, sn40l, LoopingMode::kOff);
      // Off: embedding, N layers, lm_head (with the final norm) = N + 2 calls.
      REQUIRE(program.kernels.size() == static_cast<std::size_t>(layers + 2));
      CHECK(program.calls() == layers + 2);
      const LoopingResult result =
          dfsim::apply_kernel_looping(program, LoopingMode::kOn, LoopScope::kIdenticalRuns);
      CHECK(result.loops == 1);
      CHECK(result.removed_boundaries == layers - 1);
      // On: embedding, the loop over the layers, lm_head.
      CHECK(program.calls() == 3);
      CHECK(!program.kernels.front().continues_loop);  // embedding
      CHECK(!program.kernels[1].continues_loop);       // layer 0 starts the loop
      for (std::int64_t layer = 1; layer < layers; ++layer) {
        CHECK(program.kernels[static_cast<std::size_t>(layer + 1)].continues_loop);
      }
      CHECK(!program.kernels.back().continues_loop);  // lm_head
    }
  }

  SECTION("map_program applies the mode; off changes nothing") {
    const ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
    CHECK(map_decode(model, sn40l, LoopingMode::kOff).calls() == 34);
    CHECK(map_decode(model, sn40l, LoopingMode::kOn).calls() == 3);
    CHECK(map_decode(model, sn40l, LoopingMode::kAuto).calls() == 3);
    Program program = map_decode(model, sn40l, LoopingMode::kOff);
    const LoopingResult result =
        dfsim::apply_kernel_looping(program, LoopingMode::kOff, LoopScope::kIdenticalRuns);
    CHECK(result.loops == 0);
    CHECK(result.removed_boundaries == 0);
    CHECK(program.calls() == 34);
  }

  SECTION("GPU megakernel: one call per step") {
    const HwConfig h100 = dfsim::load_hw_config("h100-sxm", {});
    const ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
    Program program = map_decode(model, h100, LoopingMode::kOff);
    // 10 kernels per layer x 32 + embedding, final_norm, lm_head = 323 launches.
    REQUIRE(program.kernels.size() == 323);
    CHECK(program.calls() == 323);
    const LoopingResult result =
        dfsim::apply_kernel_looping(program, LoopingMode::kOn, LoopScope::kWholeStep);
    CHECK(result.loops == 1);
    CHECK(result.removed_boundaries == 322);
    CHECK(program.calls() == 1);
    // Every step of a decode is one launch.
    const std::vector<Program> steps =
        dfsim::build_programs(model, h100, decode(128, 3), LoopingMode::kOn);
    REQUIRE(steps.size() == 3);
    for (const Program& step : steps) CHECK(step.calls() == 1);
  }
}

TEST_CASE("Partial looping loops around an odd layer", "[looping]") {
  const TempYaml file("dfsim-odd-layer5",
                      "inherit: llama3.1-8b\n"
                      "name: llama3.1-8b-odd5\n"
                      "description: llama3.1-8b with a wider MLP in layer 5 (test)\n"
                      "layer_overrides:\n"
                      "  - layers: [5]\n"
                      "    intermediate_size: 16384\n");
  const ModelSpec model = dfsim::load_model_spec(file.path.string(), {});
  REQUIRE(model.num_layers == 32);
  CHECK(model.intermediate_size_of(4) == 14336);
  CHECK(model.intermediate_size_of(5) == 16384);
  CHECK(model.intermediate_size_of(6) == 14336);
  const HwConfig sn40l = dfsim::load_hw_config("sn40l", {});

  Program program = map_decode(model, sn40l, LoopingMode::kOff);
  REQUIRE(program.kernels.size() == 34);
  // Layer 5's gate stage is 4096 x 16384 bf16 = 134,217,728 B of weights (vs 4096 x 14336 x 2 =
  // 117,440,512 in the others), so its signature differs.
  CHECK(program.kernels[6].name == "layer5.decoder_layer");
  CHECK(program.kernels[6].signature != program.kernels[5].signature);
  CHECK(program.kernels[7].signature == program.kernels[5].signature);
  const LoopingResult result =
      dfsim::apply_kernel_looping(program, LoopingMode::kOn, LoopScope::kIdenticalRuns);
  // Loops: layers 0-4 (4 boundaries removed) and layers 6-31 (25 removed).
  CHECK(result.loops == 2);
  CHECK(result.removed_boundaries == 29);
  // Calls: embedding, layers 0-4, layer 5, layers 6-31, lm_head = 5.
  CHECK(program.calls() == 5);
  // Index 0 embedding, 1 + l layer l, 33 lm_head. Calls start at 0, 1 (layer 0), 6 (layer 5),
  // 7 (layer 6) and 33.
  std::vector<bool> expected(34, true);
  for (std::size_t start : {0, 1, 6, 7, 33}) expected[start] = false;
  CHECK(continues(program) == expected);

  // Auto loops the same runs; the GPU megakernel does not care about the odd layer.
  CHECK(continues(map_decode(model, sn40l, LoopingMode::kAuto)) == expected);
  CHECK(map_decode(model, dfsim::load_hw_config("h100-sxm", {}), LoopingMode::kOn).calls() == 1);

  // The simulated run reports those 5 calls per step as its synchronization boundaries.
  const RunStats stats =
      dfsim::run_isolated(request(file.path.string(), "sn40l", decode(128, 2), LoopingMode::kOn));
  CHECK(stats.kernel_launches == 10);
  CHECK(stats.sync_boundaries == 10);
}

TEST_CASE("Looping on with nothing to loop is an input error while auto is not", "[looping]") {
  const ModelSpec model =
      dfsim::load_model_spec("tiny-llama", {dfsim::parse_override("model.num_layers=1")});
  REQUIRE(model.num_layers == 1);
  const HwConfig sn40l = dfsim::load_hw_config("sn40l", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 16, false});

  // Embedding, layer 0, lm_head: no two consecutive layer kernels.
  CHECK_THROWS_AS(dfsim::map_program(graph, sn40l, LoopingMode::kOn), dfsim::InputError);
  CHECK_THROWS_WITH(dfsim::map_program(graph, sn40l, LoopingMode::kOn), kNothingToLoop);

  Program program;
  REQUIRE_NOTHROW(program = dfsim::map_program(graph, sn40l, LoopingMode::kAuto));
  CHECK(program.calls() == 3);
  CHECK(continues(program) == std::vector<bool>{false, false, false});

  // The GPU megakernel always has a step to fuse: 10 + 3 kernels in one launch.
  const Program gpu =
      dfsim::map_program(graph, dfsim::load_hw_config("h100-sxm", {}), LoopingMode::kOn);
  CHECK(gpu.kernels.size() == 13);
  CHECK(gpu.calls() == 1);

  // Through a run request the error comes back from the child as the same InputError.
  RunRequest r = request("tiny-llama", "sn40l", decode(16, 1), LoopingMode::kOn);
  r.overrides = {dfsim::parse_override("model.num_layers=1")};
  CHECK_THROWS_AS(dfsim::run_isolated(r), dfsim::InputError);
  CHECK_THROWS_WITH(dfsim::run_isolated(r), kNothingToLoop);
  r.looping = LoopingMode::kAuto;
  const RunStats stats = dfsim::run_isolated(r);
  CHECK(stats.sync_boundaries == 3);
}

TEST_CASE("With looping on, memory-bound decode approaches the HBM bandwidth", "[looping]") {
  // llama3.1-70b over 8 sockets, 4096 cached tokens, 2 steps. Each socket streams ~1/8 of the
  // 141 GB of weights per step at 1.6 TB/s x 0.87 = 1.392 TB/s (hw_configs/sn40l.yaml).
  const dfsim::Phase phase = decode(4096, 2);
  const RunStats off =
      dfsim::run_isolated(request("llama3.1-70b", "sn40l-8", phase, LoopingMode::kOff, kBoundary));
  const RunStats on =
      dfsim::run_isolated(request("llama3.1-70b", "sn40l-8", phase, LoopingMode::kOn, kBoundary));
  INFO("off: " << off.time_s << " s, util " << off.bandwidth_utilization << ", sync "
               << off.sync_overhead_s);
  INFO("on: " << on.time_s << " s, util " << on.bandwidth_utilization << ", sync "
              << on.sync_overhead_s);
  CHECK(on.sockets == 8);
  // Utilization cannot beat the streaming share of peak (achievable_fraction 0.87); with the
  // boundaries gone it should come within 0.07 of it.
  CHECK(on.bandwidth_utilization >= 0.80);
  CHECK(on.bandwidth_utilization <= 0.87);
  CHECK(on.bandwidth_utilization > off.bandwidth_utilization);
  CHECK(on.time_s < off.time_s);
  // Boundaries: off 82 calls (embedding, 80 layers, lm_head) x 2 steps = 164; on 3 x 2 = 6.
  CHECK(off.sync_boundaries == 164);
  CHECK(on.sync_boundaries == 6);
  CHECK(on.sync_overhead_s < off.sync_overhead_s);
  // Each of the 2 x 79 removed boundaries cost at least the barrier, 3 rounds x 0.5 us, and the
  // device launch, 1 us (the drain and HBM latency come on top): at least 158 x 2.5 us = 395 us.
  CHECK(off.time_s - on.time_s >= 158 * 2.5e-6);
  CHECK(off.sync_overhead_s - on.sync_overhead_s >= 158 * 2.5e-6);
  // Same work either way.
  CHECK(on.dram_bytes == off.dram_bytes);
  CHECK(on.flops == off.flops);
}

TEST_CASE("Inside a loop the next layer's weights stream before the previous layer's end",
          "[looping]") {
  // llama3.1-8b decode on one sn40l socket: per-layer first and last DRAM byte from the trace.
  auto trace_of = [](LoopingMode looping) {
    return dfsim::run_in_child([looping] {
      const dfsim::RunResult result = dfsim::run_simulation_traced(
          request("llama3.1-8b", "sn40l", decode(128, 1), looping, kBoundary));
      json kernels = json::array();
      for (const dfsim::KernelRecord& record : result.trace.kernels) {
        kernels.push_back({{"name", record.name},
                           {"start", record.start},
                           {"end", record.end},
                           {"first_byte", record.dram_first_byte},
                           {"last_byte", record.dram_last_byte}});
      }
      return kernels;
    });
  };
  const json on = trace_of(LoopingMode::kOn);
  const json off = trace_of(LoopingMode::kOff);
  REQUIRE(on.size() == 34);
  REQUIRE(off.size() == 34);
  for (std::size_t layer = 0; layer + 1 < 32; ++layer) {
    const json& a_on = on[layer + 1];  // index 0 is the embedding
    const json& b_on = on[layer + 2];
    INFO(a_on["name"].get<std::string>() << " -> " << b_on["name"].get<std::string>());
    const double last_on = a_on["last_byte"].get<double>();
    const double first_on = b_on["first_byte"].get<double>();
    // Looped: the loader runs straight into the next iteration's weights (the layer's 436 MB fit
    // in the 520 MiB of SRAM beside its activations), so they start arriving while the current
    // layer still streams and computes.
    CHECK(first_on < last_on);
    CHECK(first_on < a_on["end"].get<double>());
    // The iterations' compute does not overlap: the next one starts after the previous ends.
    CHECK(b_on["start"].get<double>() >= a_on["end"].get<double>());
    // Not looped: HBM idles at least the device launch + HBM latency = 1 + 0.3 us (one socket:
    // no barrier rounds).
    const double gap_off =
        off[layer + 2]["first_byte"].get<double>() - off[layer + 1]["last_byte"].get<double>();
    CHECK(gap_off >= 1.3e-6);
  }
}

TEST_CASE(
    "Sync overhead is the call boundary only: a looped call's all-reduce backlog is the "
    "layers' own time, communication-bound",
    "[looping]") {
  // llama3.1-8b on sn40l-16, looping on, one step at 4096 cached tokens, with the ring forced
  // (2 x 15 = 30 steps of 0.5 us per 8 KB all-reduce, two per layer: ~30 us a layer against
  // ~22 us of weight streaming, so the loader runs ahead and the all-reduces build a backlog)
  // and the host issuing each call for 2 + 3 us (no per-socket terms).
  const std::vector<std::string> settings = {"hw.link.collective=ring",
                                             "hw.kernel_call.orchestration=host",
                                             "hw.kernel_call.launch_overhead=3us",
                                             "hw.kernel_call.host_sync=2us",
                                             "hw.kernel_call.launch_per_socket=0us",
                                             "hw.kernel_call.poll_per_socket=0us",
                                             "hw.kernel_call.program_load=20us"};
  const RunStats stats = dfsim::run_isolated(
      request("llama3.1-8b", "sn40l-16", decode(4096, 1), LoopingMode::kOn, settings));
  const dfsim::KernelStats* head = nullptr;
  const dfsim::KernelStats* layer = nullptr;
  for (const dfsim::KernelStats& k : stats.kernels) {
    if (k.name == "lm_head") head = &k;
    if (k.name == "layer31.decoder_layer") layer = &k;
  }
  REQUIRE(head);
  REQUIRE(layer);
  // Before the LM head: host_sync 2 + launch 3 + program_load 20 + HBM latency 0.3 = 25.3 us,
  // plus the looped call's write-back and last stage latency (under 0.7 us). Counting from the
  // last layer's last weight byte instead (the old rule) gave 332 us: the backlog.
  CHECK(head->sync_overhead_s >= 25.3e-6);
  CHECK(head->sync_overhead_s <= 26.0e-6);
  // The backlog is the layers' time, and the table calls them communication-bound: a layer's
  // two ring all-reduces (2 x (30 x 0.5 us + 15,360 B / 128 GB/s) = 30.24 us) outlast its bytes.
  CHECK(layer->bound == "communication");
  CHECK(layer->collectives == "all-reduce ring, all-reduce ring");
  // So does the roofline.
  const ModelSpec model = dfsim::load_model_spec("llama3.1-8b", {});
  std::vector<dfsim::Override> overrides;
  for (const std::string& text : settings) overrides.push_back(dfsim::parse_override(text));
  const HwConfig hw = dfsim::load_hw_config("sn40l-16", overrides);
  const Program program = map_decode(model, hw, LoopingMode::kOn, 4096);
  bool found = false;
  for (const dfsim::RooflineKernel& k : dfsim::roofline_kernels(stats, program, hw, true)) {
    if (k.name != "decoder_layer") continue;
    found = true;
    CHECK(k.bottleneck == "communication");
  }
  CHECK(found);
  // With the algorithm the link picks (one-shot, 1.46 us each) the same layers are memory-bound.
  const RunStats chosen =
      dfsim::run_isolated(request("llama3.1-8b", "sn40l-16", decode(4096, 1), LoopingMode::kOn));
  for (const dfsim::KernelStats& k : chosen.kernels) {
    if (k.name == "layer31.decoder_layer") CHECK(k.bound == "memory");
  }
}
