// The GPU configs of the TensorRT-LLM tables (gh200, l40s): their figures as read, and what the
// simulated machine makes of them against bounds derived by hand. Each simulation runs in a
// forked child (run_isolated): SystemC elaborates once per process.
#include <catch2/catch.hpp>
#include <string>

#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"

using dfsim::Dtype;
using dfsim::GpuSpec;
using dfsim::RunRequest;
using dfsim::RunStats;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

RunRequest decode_step(const std::string& hw) {
  RunRequest r;
  r.model = "llama3.1-8b";
  r.hw = hw;
  r.phase.kind = dfsim::PhaseKind::kDecode;
  r.phase.batch = 1;
  r.phase.context = 128;
  r.phase.tokens = 1;
  r.looping = dfsim::LoopingMode::kOff;
  return r;
}

}  // namespace

TEST_CASE("l40s loads with its datasheet figures", "[configs]") {
  const dfsim::HwConfig hw = dfsim::load_hw_config("l40s", {});
  const GpuSpec& gpu = *hw.gpu();
  CHECK(gpu.sm_count == 142);
  CHECK(gpu.clock == 2.52e9);
  CHECK(gpu.tensor_rate.at(Dtype::kBf16) == 362.05e12);
  CHECK(gpu.tensor_rate.at(Dtype::kFp8) == 733e12);
  CHECK(gpu.vector_rate == 91.6e12);
  CHECK(gpu.hbm.bandwidth == 864e9);
  CHECK(gpu.hbm.capacity == 46068 * kMiB);
  CHECK(gpu.l2.capacity == 96 * kMiB);
  CHECK(gpu.power.limit == 350);
  // PCIe Gen4 x16, 64 GB/s bidirectional: 32 GB/s per direction; eight cards per server.
  CHECK(gpu.sockets == 1);
  CHECK(gpu.link.bandwidth == 32e9);
  CHECK(gpu.link.max_sockets == 8);
}

TEST_CASE("gh200 is h100-sxm with 96 GB of HBM3 at 4 TB/s", "[configs]") {
  const GpuSpec gh200 = *dfsim::load_hw_config("gh200", {}).gpu();
  const GpuSpec h100 = *dfsim::load_hw_config("h100-sxm", {}).gpu();
  CHECK(gh200.hbm.bandwidth == 4.0e12);
  CHECK(gh200.hbm.capacity == 97871 * kMiB);
  CHECK(gh200.power.limit == 900);
  // Inherited: the same die, clocks and tensor cores, the same NVLink 4 links.
  CHECK(gh200.sm_count == h100.sm_count);
  CHECK(gh200.clock == h100.clock);
  CHECK(gh200.tensor_rate == h100.tensor_rate);
  CHECK(gh200.link.bandwidth == h100.link.bandwidth);
  CHECK(gh200.link.max_sockets == 8);  // one first-tier NVLink Switch group
}

TEST_CASE("gh200 decodes faster than h100-sxm by at most the bandwidth ratio", "[configs]") {
  // The same GPU with more HBM bandwidth: a memory-bound batch-1 step cannot get slower, and
  // cannot gain more than the bandwidth ratio 4.0 / 3.35 = 1.194 (its compute, launches and L2
  // are the same).
  const RunStats h100 = dfsim::run_isolated(decode_step("h100-sxm"));
  const RunStats gh200 = dfsim::run_isolated(decode_step("gh200"));
  INFO("h100-sxm " << h100.time_s << " s, gh200 " << gh200.time_s << " s");
  CHECK(gh200.time_s < h100.time_s);
  CHECK(h100.time_s / gh200.time_s <= 4.0 / 3.35);
}

TEST_CASE("l40s batch-1 decode of llama3.1-8b sits at its bandwidth roofline", "[configs]") {
  // Weights read per step (bf16): 32 layers x 218,112,000 + final norm 4,096 + LM head
  // 128,256 x 4,096 = 7,504,924,672 parameters x 2 B + one embedding row (8,192 B) =
  // 15,009,857,536 B (the 16.06 GB of the whole checkpoint less the embedding table, of which a
  // step reads one row). No step can beat the peak: 15,009,857,536 / 864 GB/s = 17.37 ms; the
  // streaming rate the machine runs at is 0.89 x 864 = 768.96 GB/s: 19.52 ms. Batch 1 is
  // memory-bound, so launches, the KV cache and activations add little (5 % allowed).
  const double weights = 15'009'857'536.0;
  const RunStats stats = dfsim::run_isolated(decode_step("l40s"));
  INFO("l40s step " << stats.time_per_step_s << " s");
  CHECK(stats.time_per_step_s >= weights / 864e9);
  CHECK(stats.time_per_step_s >= weights / 768.96e9);
  CHECK(stats.time_per_step_s <= 1.05 * weights / 768.96e9);
  CHECK(stats.dram_bytes >= weights);
}
