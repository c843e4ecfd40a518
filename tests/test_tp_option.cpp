// `--tp N` (sim/config/tensor_parallel.h): N single-GPU configs joined by the link of the system
// they ship in. Every expected number is derived by hand in the comment next to it. SystemC
// elaborates once per process, so every simulation runs in a forked child (run_isolated).
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/config/tensor_parallel.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "test_support.h"

using dfsim::InputError;
using dfsim::RunRequest;
using dfsim::RunStats;
using dfsim::testing::message_of;
using dfsim::testing::Outcome;
using dfsim::testing::run_dfsim;
using dfsim::testing::TempDir;

namespace {

// One llama3.1-8b decode step (batch 1, 128 cached tokens) on `hw`, on `tp` GPUs (0: the
// config's own sockets).
RunRequest decode_step(const std::string& hw, int tp) {
  RunRequest r;
  r.model = "llama3.1-8b";
  r.hw = hw;
  r.phase.kind = dfsim::PhaseKind::kDecode;
  r.phase.batch = 1;
  r.phase.context = 128;
  r.phase.tokens = 1;
  r.looping = dfsim::LoopingMode::kOff;
  if (tp > 0) r.overrides = dfsim::tensor_parallel_overrides(hw, r.model, tp, {});
  return r;
}

// Weight bytes one of N GPUs reads in a llama3.1-8b decode step (bf16, 2 B per parameter).
// llama3.1-8b: hidden 4096, MLP 14336, 32 layers, 32 heads and 8 kv heads of 128, vocab 128256.
// Per layer: q and o 4096 x 4096 = 16,777,216 each, k and v 4096 x 1024 = 4,194,304 each
// (41,943,040 attention), gate and up 4096 x 14336 = 58,720,256 each and down the same
// (176,160,768 MLP): 218,103,808 sharded over N (kv heads 8/N each for N <= 8), + two norms of
// 4096 replicated. Plus the final norm (4096, replicated), the LM head ceil(128256/N) x 4096 and
// one embedding row (4096 x 2 B, replicated).
double rank_weight_bytes(std::int64_t n) {
  const std::int64_t layer = 218'103'808 / n + 8'192;
  const std::int64_t vocab = (128'256 + n - 1) / n;
  return 2.0 * (32 * layer + 4'096 + vocab * 4'096) + 8'192;
}

}  // namespace

TEST_CASE("tp N on h100-sxm runs N GPUs, each reading 1/N of the sharded weights", "[tp]") {
  // Hand values of rank_weight_bytes (the formula's terms, multiplied out):
  // N=1: 32 x 218,112,000 + 4,096 + 525,336,576 = 7,504,924,672 params -> 15,009,857,536 B.
  // N=2: 32 x 109,060,096 + 4,096 + 64,128 x 4,096 = 3,752,595,456 -> 7,505,199,104 B.
  // N=4: 32 x 54,534,144 + 4,096 + 32,064 x 4,096 = 1,876,430,848 -> 3,752,869,888 B.
  // N=8: 32 x 27,271,168 + 4,096 + 16,032 x 4,096 = 938,348,544 -> 1,876,705,280 B.
  CHECK(rank_weight_bytes(1) == 15'009'857'536.0);
  CHECK(rank_weight_bytes(2) == 7'505'199'104.0);
  CHECK(rank_weight_bytes(4) == 3'752'869'888.0);
  CHECK(rank_weight_bytes(8) == 1'876'705'280.0);
  double previous_time = 0;
  for (int n : {1, 2, 4, 8}) {
    INFO("--tp " << n);
    const RunStats stats = dfsim::run_isolated(decode_step("h100-sxm", n));
    CHECK(stats.sockets == n);
    // Each GPU's DRAM bytes: its weights, its share of the KV cache (32 layers x 2 x 129
    // positions x 8/N kv heads x 128 x 2 B = 16,908,288 / N B) and the activations, which are
    // small next to the weights (under 0.5 % of them).
    const double per_gpu = stats.dram_bytes / n;
    CHECK(per_gpu >= rank_weight_bytes(n) + 16'908'288.0 / n);
    CHECK(per_gpu <= rank_weight_bytes(n) * 1.005);
    // More GPUs read fewer bytes each and the step gets faster (the collectives are small).
    if (previous_time > 0) CHECK(stats.time_per_step_s < previous_time);
    previous_time = stats.time_per_step_s;
  }
}

TEST_CASE("h100-sxm --tp 8 is dgx-h100", "[tp]") {
  // dgx-h100.yaml inherits h100-sxm.yaml and sets sockets: 8; the link is h100-sxm's. The same
  // machine must give the same step, to the bit.
  const RunStats tp8 = dfsim::run_isolated(decode_step("h100-sxm", 8));
  const RunStats dgx = dfsim::run_isolated(decode_step("dgx-h100", 0));
  CHECK(dgx.sockets == 8);
  CHECK(tp8.time_s == dgx.time_s);
  CHECK(tp8.dram_bytes == dgx.dram_bytes);
  CHECK(tp8.kernel_launches == dgx.kernel_launches);
  // --tp on dgx-h100 itself selects that many of its 8 GPUs.
  const RunStats dgx2 = dfsim::run_isolated(decode_step("dgx-h100", 2));
  const RunStats sxm2 = dfsim::run_isolated(decode_step("h100-sxm", 2));
  CHECK(dgx2.sockets == 2);
  CHECK(dgx2.time_s == sxm2.time_s);
}

TEST_CASE("tp checks the system's size and the model's heads", "[tp]") {
  const dfsim::HwConfig h100 = dfsim::load_hw_config("h100-sxm", {});
  const dfsim::ModelSpec llama = dfsim::load_model_spec("llama3.1-8b", {});
  CHECK_NOTHROW(dfsim::check_tensor_parallel(h100, llama, 8));
  // 32 heads over 3 GPUs: 32 % 3 = 2.
  CHECK(message_of<InputError>([&] { dfsim::check_tensor_parallel(h100, llama, 3); }) ==
        "--tp 3: llama3.1-8b's 32 attention heads do not split evenly over 3 GPUs (sizes that "
        "do, up to 8: 1, 2, 4, 8)");
  // The HGX baseboard joins 8 (h100-sxm.yaml link.max_sockets).
  CHECK(message_of<InputError>([&] {
          dfsim::check_tensor_parallel(h100, llama, 16);
        }).rfind("--tp 16: h100-sxm's system joins at most 8 GPUs (link.max_sockets in ", 0) == 0);
  CHECK(message_of<InputError>([&] { dfsim::check_tensor_parallel(h100, llama, 0); }) ==
        "--tp 0: the GPU count must lie in [1, 4096]");
  // 16 and 32 GPUs of a larger NVLink domain (a gh200 whose link joins 256): 32 heads split; the
  // 8 kv heads are replicated, 2 or 4 copies each (16 % 8 = 32 % 8 = 0).
  const dfsim::HwConfig gh200 = dfsim::load_hw_config("gh200", {{"hw.link.max_sockets", "256"}});
  CHECK_NOTHROW(dfsim::check_tensor_parallel(gh200, llama, 16));
  CHECK_NOTHROW(dfsim::check_tensor_parallel(gh200, llama, 32));
  // 24 heads and 6 kv heads on 4 GPUs: 24 % 4 = 0, but 6 % 4 = 2 and 4 % 6 = 4.
  dfsim::ModelSpec odd = llama;
  odd.name = "odd";
  odd.num_attention_heads = 24;
  odd.num_key_value_heads = 6;
  CHECK(message_of<InputError>([&] { dfsim::check_tensor_parallel(gh200, odd, 4); }) ==
        "--tp 4: odd's 6 kv heads (layer 0) neither split evenly over 4 GPUs nor replicate "
        "evenly on them (N must divide 6 or be a multiple of it)");
  // The option name is the caller's (dfsim validate passes its CSV column).
  CHECK(message_of<InputError>([&] {
          dfsim::check_tensor_parallel(h100, llama, 3, "tp");
        }).rfind("tp 3: ", 0) == 0);
  // One GPU needs no link: an Apple SoC at --tp 1 is fine, at 2 it is not.
  const dfsim::HwConfig apple = dfsim::load_hw_config("apple-m2", {});
  CHECK_NOTHROW(dfsim::check_tensor_parallel(apple, llama, 1));
  CHECK(message_of<InputError>([&] {
          dfsim::check_tensor_parallel(apple, llama, 2);
        }).rfind("--tp 2: apple-m2 has no link section", 0) == 0);
}

TEST_CASE("tensor_parallel_overrides appends hw.sockets and refuses a second GPU count", "[tp]") {
  const std::vector<dfsim::Override> out = dfsim::tensor_parallel_overrides(
      "h100-sxm", "llama3.1-8b", 4, {{"hw.hbm.bandwidth", "3TB/s"}});
  REQUIRE(out.size() == 2);
  CHECK(out[0].key == "hw.hbm.bandwidth");
  CHECK(out[1].key == "hw.sockets");
  CHECK(out[1].value == "4");
  CHECK(dfsim::load_hw_config("h100-sxm", out).sockets() == 4);
  CHECK(message_of<InputError>([] {
          dfsim::tensor_parallel_overrides("h100-sxm", "llama3.1-8b", 2, {{"hw.sockets", "2"}});
        }) == "--tp 2 and --set hw.sockets=2 both set the GPU count; give one");
}

TEST_CASE("A bad --tp exits 2 naming --tp in run, serving and roofline", "[tp][cli]") {
  TempDir dir;
  auto bad = [&](const std::string& args, const std::string& start) {
    const Outcome outcome = run_dfsim(dir, args);
    INFO("dfsim " << args << "\nstderr: " << outcome.err);
    CHECK(outcome.code == 2);
    CHECK(outcome.out.empty());
    CHECK(outcome.err.rfind("dfsim: error: " + start, 0) == 0);
  };
  bad("run --model llama3.1-8b --hw h100-sxm --tp 3 --tokens 1", "--tp 3: llama3.1-8b's 32");
  bad("run --model llama3.1-8b --hw h100-sxm --tp 16 --tokens 1", "--tp 16: h100-sxm's system");
  bad("run --model llama3.1-8b --hw l40s --tp 0 --tokens 1", "--tp 0: the GPU count");
  bad("run --model llama3.1-8b --hw h100-sxm --tp -1 --tokens 1", "--tp -1: the GPU count");
  bad("run --model llama3.1-8b --hw h100-sxm --tp two --tokens 1", "Could not convert: --tp");
  bad("serving --model llama3.1-8b --hw h100-sxm --tp 5 --requests 1", "--tp 5: ");
  bad("roofline --model llama3.1-8b --hw h100-pcie --tp 12", "--tp 12: h100-pcie's system");
  // The config field itself is bounded by the same link.max_sockets.
  bad("run --model llama3.1-8b --hw h100-sxm --set hw.sockets=9 --tokens 1",
      "--set hw.sockets=9: sockets: exceeds the 8 sockets");
}
