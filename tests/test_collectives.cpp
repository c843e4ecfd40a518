// Collective algorithms (sim/mapping/collective_algorithm.h): each algorithm's alpha-beta time
// against its formula worked out by hand, the `auto` choice, and the simulated collective
// (models/common/collective.h) taking exactly that time on an idle link. Simulations run in
// forked children (run_isolated); SystemC elaborates once per process.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/mapping/collective_algorithm.h"

using dfsim::Collective;
using dfsim::CollectiveAlgorithm;
using dfsim::CollectiveChoice;
using dfsim::LinkSpec;

namespace {

// sn40l.yaml's P2P link: 128 GB/s per socket over 4 ports, 0.5 us per step.
LinkSpec p2p(CollectiveChoice choice = CollectiveChoice::kAuto) {
  LinkSpec link;
  link.bandwidth = 128e9;
  link.latency = 0.5e-6;
  link.ports = 4;
  link.collective = choice;
  return link;
}

double time_of(CollectiveAlgorithm algorithm, Collective collective, double bytes, int ranks,
               const LinkSpec& link) {
  return dfsim::collective_cost(algorithm, collective, bytes, ranks, link).time(link);
}

}  // namespace

TEST_CASE("Ring, tree and one-shot times follow their alpha-beta formulas", "[collective]") {
  const LinkSpec link = p2p();
  const double S = 8192;  // one token's bf16 hidden state of llama3.1-8b (4096 x 2 B)

  SECTION("ring") {
    // All-reduce on R = 16: 2(R-1) = 30 steps x 0.5 us = 15 us, and 2 x 15/16 x 8192 = 15,360 B
    // at 128 GB/s = 0.12 us -> 15.12 us.
    CHECK(time_of(CollectiveAlgorithm::kRing, Collective::kAllReduce, S, 16, link) ==
          Approx(15.12e-6).epsilon(1e-12));
    // All-gather on R = 8: 7 steps = 3.5 us, 7/8 x 8192 = 7,168 B -> 0.056 us: 3.556 us.
    CHECK(time_of(CollectiveAlgorithm::kRing, Collective::kAllGather, S, 8, link) ==
          Approx(3.556e-6).epsilon(1e-12));
  }
  SECTION("tree (recursive doubling)") {
    // All-reduce on R = 16: log2 16 = 4 rounds, each 0.5 us + 8192 B over one port of
    // 128/4 = 32 GB/s (0.256 us) -> 4 x 0.756 = 3.024 us.
    CHECK(time_of(CollectiveAlgorithm::kTree, Collective::kAllReduce, S, 16, link) ==
          Approx(3.024e-6).epsilon(1e-12));
    // R = 12 (not a power of two): ceil(log2 12) = 4 rounds, the same 3.024 us.
    CHECK(time_of(CollectiveAlgorithm::kTree, Collective::kAllReduce, S, 12, link) ==
          Approx(3.024e-6).epsilon(1e-12));
    // All-gather on R = 8: 3 rounds = 1.5 us; blocks of 1, 2, 4 x 1024 B = 7,168 B over one
    // 32 GB/s port = 0.224 us -> 1.724 us.
    CHECK(time_of(CollectiveAlgorithm::kTree, Collective::kAllGather, S, 8, link) ==
          Approx(1.724e-6).epsilon(1e-12));
  }
  SECTION("one-shot") {
    // All-reduce on R = 16: one step 0.5 us; 15 peers x 8192 B = 122,880 B over all four ports
    // (128 GB/s) = 0.96 us -> 1.46 us.
    CHECK(time_of(CollectiveAlgorithm::kOneShot, Collective::kAllReduce, S, 16, link) ==
          Approx(1.46e-6).epsilon(1e-12));
    // R = 2: one peer, so one port of 32 GB/s: 0.5 us + 8192 / 32 GB/s = 0.756 us.
    CHECK(time_of(CollectiveAlgorithm::kOneShot, Collective::kAllReduce, S, 2, link) ==
          Approx(0.756e-6).epsilon(1e-12));
    // All-gather on R = 8: 7 peers x 1024 B = 7,168 B at 128 GB/s = 0.056 us -> 0.556 us.
    CHECK(time_of(CollectiveAlgorithm::kOneShot, Collective::kAllGather, S, 8, link) ==
          Approx(0.556e-6).epsilon(1e-12));
  }
  SECTION("nothing to do on one rank or without a collective") {
    for (CollectiveAlgorithm a :
         {CollectiveAlgorithm::kRing, CollectiveAlgorithm::kTree, CollectiveAlgorithm::kOneShot}) {
      CHECK(time_of(a, Collective::kAllReduce, S, 1, link) == 0);
      CHECK(time_of(a, Collective::kNone, S, 16, link) == 0);
    }
  }
}

TEST_CASE("auto picks one-shot or tree for 8 KB on 16 ranks and ring for 64 MB", "[collective]") {
  const LinkSpec link = p2p();
  // 8 KB: ring 15.12 us, tree 3.024 us, one-shot 1.46 us (above): one-shot.
  const dfsim::CollectiveCost small =
      dfsim::choose_collective(Collective::kAllReduce, 8192, 16, link);
  CHECK(small.algorithm == CollectiveAlgorithm::kOneShot);
  CHECK(small.time(link) == Approx(1.46e-6).epsilon(1e-12));
  // 64 MiB = 67,108,864 B: ring 15 us + 2 x 15/16 x S / 128 GB/s = 15 + 983.04 us = 998.04 us;
  // tree 4 x (0.5 us + S / 32 GB/s) = 4 x 2097.652 us; one-shot 0.5 us + 15 S / 128 GB/s =
  // 7864.82 us: ring.
  const double big = 64.0 * 1024 * 1024;
  const dfsim::CollectiveCost large =
      dfsim::choose_collective(Collective::kAllReduce, big, 16, link);
  CHECK(large.algorithm == CollectiveAlgorithm::kRing);
  CHECK(large.time(link) == Approx(998.04e-6).epsilon(1e-9));
  // dgx-h100's NVLink through NVSwitch (one port at 450 GB/s, 0.6 us): 8 KB on 8 GPUs:
  // ring 14 x 0.6 = 8.4 us; tree 3 x (0.6 + 0.0182) = 1.855 us; one-shot 0.6 + 7 x 8192 /
  // 450 GB/s = 0.7274 us: one-shot too.
  LinkSpec nvlink;
  nvlink.bandwidth = 450e9;
  nvlink.latency = 0.6e-6;
  CHECK(dfsim::choose_collective(Collective::kAllReduce, 8192, 8, nvlink).algorithm ==
        CollectiveAlgorithm::kOneShot);
  // A forced choice is kept even where it is slower.
  const LinkSpec ring = p2p(CollectiveChoice::kRing);
  CHECK(dfsim::choose_collective(Collective::kAllReduce, 8192, 16, ring).algorithm ==
        CollectiveAlgorithm::kRing);
  const LinkSpec tree = p2p(CollectiveChoice::kTree);
  CHECK(dfsim::choose_collective(Collective::kAllReduce, big, 16, tree).algorithm ==
        CollectiveAlgorithm::kTree);
}

namespace {

dfsim::RunRequest dgx_request(const std::string& collective) {
  dfsim::RunRequest r;
  r.model = "llama3.1-70b";
  r.hw = "dgx-h100";
  r.phase.kind = dfsim::PhaseKind::kDecode;
  r.phase.batch = 1;
  r.phase.context = 128;
  r.phase.tokens = 1;
  r.looping = dfsim::LoopingMode::kOff;
  r.overrides.push_back(dfsim::parse_override("hw.link.collective=" + collective));
  return r;
}

double kernel_time(const dfsim::RunStats& stats, const std::string& name) {
  for (const dfsim::KernelStats& k : stats.kernels) {
    if (k.name == name) return k.time_s;
  }
  FAIL("no kernel " << name);
  return 0;
}

}  // namespace

TEST_CASE("A simulated all-reduce takes its algorithm's time and is named in the report",
          "[collective]") {
  // llama3.1-70b decode at batch 1 on dgx-h100: a 16,384 B all-reduce (8192 x bf16) over 8 GPUs
  // on NVLink (450 GB/s, 0.6 us, one port), as a kernel of its own on an otherwise idle link.
  // ring: 14 x 0.6 + 28,672 B / 450 GB/s = 8.463716 us.
  // tree: 3 x (0.6 + 16,384 / 450 GB/s) = 3 x 0.636409 = 1.909227 us.
  // one-shot: 0.6 + 7 x 16,384 / 450 GB/s = 0.6 + 0.254862 = 0.854862 us.
  const struct {
    const char* choice;
    double seconds;
  } cases[] = {{"ring", 8.463716e-6}, {"tree", 1.909227e-6}, {"oneshot", 0.854862e-6}};
  for (const auto& c : cases) {
    const dfsim::RunStats stats = dfsim::run_isolated(dgx_request(c.choice));
    INFO(c.choice);
    CHECK(kernel_time(stats, "layer0.attn_all_reduce") == Approx(c.seconds).margin(1e-12));
    for (const dfsim::KernelStats& k : stats.kernels) {
      if (k.name == "layer0.attn_all_reduce") {
        CHECK(k.collectives == std::string("all-reduce ") + c.choice);
      }
    }
  }
  // auto takes the fastest, one-shot.
  const dfsim::RunStats chosen = dfsim::run_isolated(dgx_request("auto"));
  CHECK(kernel_time(chosen, "layer0.attn_all_reduce") == Approx(0.854862e-6).margin(1e-12));
}

TEST_CASE("link.collective, link.ports and the call orchestration reject bad values",
          "[collective]") {
  auto error_of = [](const std::string& setting) {
    try {
      dfsim::load_hw_config("sn40l-8", {dfsim::parse_override(setting)});
    } catch (const dfsim::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("hw.link.collective=fastest") ==
        "--set hw.link.collective=fastest: link.collective: expected one of auto, ring, tree, "
        "oneshot, got 'fastest'");
  CHECK(error_of("hw.link.ports=0") ==
        "--set hw.link.ports=0: link.ports: must be between 1 and 4096, got '0'");
  CHECK(error_of("hw.kernel_call.orchestration=gpu") ==
        "--set hw.kernel_call.orchestration=gpu: kernel_call.orchestration: expected one of "
        "host, device, got 'gpu'");
  // The shipped configs: sn40l-8 inherits sn40l's device orchestration, 4 ports and auto.
  const dfsim::HwConfig hw = dfsim::load_hw_config("sn40l-8", {});
  REQUIRE(hw.link());
  CHECK(hw.link()->ports == 4);
  CHECK(hw.link()->collective == CollectiveChoice::kAuto);
  CHECK(hw.dataflow()->kernel_call.orchestration == dfsim::Orchestration::kDevice);
}
