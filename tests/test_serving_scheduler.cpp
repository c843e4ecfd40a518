// The serving scheduler and loop, priced by an analytic step cost (a + b * tokens) so that every
// timestamp can be derived by hand.
#include <catch2/catch.hpp>

#include <map>

#include "sim/common/error.h"
#include "sim/serving/arrivals.h"
#include "sim/serving/kv_block_manager.h"
#include "sim/serving/scheduler.h"
#include "sim/serving/serving_simulator.h"
#include "sim/serving/serving_stats.h"
#include "sim/serving/synthetic_requests.h"
#include "test_support.h"

using dfsim::KvPolicy;
using dfsim::Request;
using dfsim::SchedulerConfig;
using dfsim::StepBatch;
using dfsim::testing::message_of;

namespace {

// A step costs a fixed overhead plus a time per token computed.
class LinearCost : public dfsim::StepCost {
 public:
  LinearCost(double a, double b) : a_(a), b_(b) {}
  double step_seconds(const StepBatch& batch) override {
    batches.push_back(batch);
    return a_ + b_ * static_cast<double>(batch.total_tokens());
  }
  std::vector<StepBatch> batches;

 private:
  double a_, b_;
};

SchedulerConfig config(int max_batch, int max_tokens, int chunk, int block, int blocks,
                       KvPolicy policy) {
  SchedulerConfig c;
  c.max_batch = max_batch;
  c.max_tokens = max_tokens;
  c.chunk = chunk;
  c.block_tokens = block;
  c.capacity_blocks = blocks;
  c.policy = policy;
  return c;
}

struct Seq {
  int request, tokens;
  long long context;
  bool samples;
};

std::vector<Seq> seqs(const StepBatch& batch) {
  std::vector<Seq> out;
  for (const auto& s : batch.sequences) out.push_back({s.request, s.tokens, s.context, s.samples});
  return out;
}

bool operator==(const Seq& a, const Seq& b) {
  return a.request == b.request && a.tokens == b.tokens && a.context == b.context &&
         a.samples == b.samples;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<Seq> {
  static std::string convert(const Seq& s) {
    return "{r" + std::to_string(s.request) + " " + std::to_string(s.tokens) + "@" +
           std::to_string(s.context) + (s.samples ? " samples}" : "}");
  }
};
}  // namespace Catch

TEST_CASE("the KV block manager counts blocks per sequence", "[serving]") {
  dfsim::KvBlockManager blocks(16, 10);
  CHECK(blocks.blocks_for(0) == 0);
  CHECK(blocks.blocks_for(1) == 1);
  CHECK(blocks.blocks_for(16) == 1);
  CHECK(blocks.blocks_for(17) == 2);
  CHECK(blocks.grow_to(3, 100));  // 7 blocks
  CHECK(blocks.held(3) == 7);
  CHECK(blocks.used_blocks() == 7);
  CHECK(blocks.grow_to(3, 112));  // still 7
  CHECK(blocks.used_blocks() == 7);
  CHECK(blocks.blocks_needed(5, 64) == 4);
  CHECK_FALSE(blocks.grow_to(5, 64));  // 4 > 3 free: nothing changes
  CHECK(blocks.held(5) == 0);
  CHECK(blocks.used_blocks() == 7);
  CHECK(blocks.grow_to(5, 48));
  CHECK(blocks.free_blocks() == 0);
  blocks.free(3);
  CHECK(blocks.free_blocks() == 7);
  CHECK(blocks.held(3) == 0);
}

TEST_CASE("chunked prefill splits a 1000-token prompt with chunk 256 into 256,256,256,232",
          "[serving]") {
  std::vector<Request> requests{{0, 1000, 3}};
  LinearCost cost(1, 0);
  dfsim::run_serving(requests, config(8, 4096, 256, 16, 1000, KvPolicy::kRecompute), cost);
  REQUIRE(cost.batches.size() == 6);  // 4 chunks, then 2 decodes for tokens 2 and 3
  CHECK(seqs(cost.batches[0]) == std::vector<Seq>{{0, 256, 0, false}});
  CHECK(seqs(cost.batches[1]) == std::vector<Seq>{{0, 256, 256, false}});
  CHECK(seqs(cost.batches[2]) == std::vector<Seq>{{0, 256, 512, false}});
  CHECK(seqs(cost.batches[3]) == std::vector<Seq>{{0, 232, 768, true}});
  CHECK(seqs(cost.batches[4]) == std::vector<Seq>{{0, 1, 1000, true}});
  CHECK(seqs(cost.batches[5]) == std::vector<Seq>{{0, 1, 1001, true}});
  CHECK(cost.batches[3].sequences[0].prefill);
  CHECK_FALSE(cost.batches[4].sequences[0].prefill);
}

TEST_CASE("a lone request's TTFT is its prefill step and each later token one decode step",
          "[serving]") {
  // Prefill: 0.01 + 0.001 * 100 = 0.11 s; a decode: 0.01 + 0.001 = 0.011 s.
  LinearCost cost(0.01, 0.001);
  const dfsim::ServingResult result = dfsim::run_serving(
      {{0, 100, 5}}, config(8, 4096, 0, 16, 100, KvPolicy::kGuaranteedNoEvict), cost);
  const dfsim::RequestRecord& record = result.requests[0];
  CHECK(record.first_scheduled_s == 0);
  CHECK(record.first_token_s == Approx(0.11).epsilon(1e-12));
  CHECK(record.finish_s == Approx(0.11 + 4 * 0.011).epsilon(1e-12));
  REQUIRE(record.token_s.size() == 5);
  CHECK(record.token_s[2] == Approx(0.132).epsilon(1e-12));
  const dfsim::ServingStats stats = dfsim::serving_stats(result);
  CHECK(stats.ttft_s.mean == Approx(0.11).epsilon(1e-12));
  CHECK(stats.tpot_s.mean == Approx(0.011).epsilon(1e-12));
  CHECK(stats.itl_s.count == 4);
  CHECK(stats.itl_s.max == Approx(0.011).epsilon(1e-9));
}

TEST_CASE("a hand-computed two-request schedule", "[serving]") {
  // A (4 in, 3 out) at t = 0; B (3 in, 2 out) at t = 0.05. A step costs 0.1 + 0.01 s per token.
  //  step 1 [0, 0.14]:    A prefill 4 (4 tokens)             -> A token 1
  //  step 2 [0.14, 0.28]: A decode at 4, B prefill 3 (4 tokens) -> A token 2, B token 1
  //  step 3 [0.28, 0.40]: A decode at 5, B decode at 3 (2 tokens) -> A token 3, B token 2: done
  LinearCost cost(0.1, 0.01);
  const std::vector<Request> requests{{0, 4, 3}, {0.05, 3, 2}};
  const dfsim::ServingResult result =
      dfsim::run_serving(requests, config(8, 4096, 0, 4, 16, KvPolicy::kGuaranteedNoEvict), cost);
  REQUIRE(cost.batches.size() == 3);
  CHECK(seqs(cost.batches[0]) == std::vector<Seq>{{0, 4, 0, true}});
  CHECK(seqs(cost.batches[1]) == std::vector<Seq>{{0, 1, 4, true}, {1, 3, 0, true}});
  CHECK(seqs(cost.batches[2]) == std::vector<Seq>{{0, 1, 5, true}, {1, 1, 3, true}});
  const auto& a = result.requests[0];
  const auto& b = result.requests[1];
  CHECK(a.first_token_s == Approx(0.14));
  CHECK(a.finish_s == Approx(0.40));
  CHECK(b.first_scheduled_s == Approx(0.14));
  CHECK(b.first_token_s == Approx(0.28));
  CHECK(b.finish_s == Approx(0.40));

  const dfsim::ServingStats stats = dfsim::serving_stats(result, dfsim::parse_slo("ttft=200ms"));
  CHECK(stats.duration_s == Approx(0.40));
  CHECK(stats.request_throughput == Approx(5.0));    // 2 / 0.4
  CHECK(stats.input_tokens_per_s == Approx(17.5));   // 7 / 0.4
  CHECK(stats.output_tokens_per_s == Approx(12.5));  // 5 / 0.4
  CHECK(stats.total_tokens_per_s == Approx(30.0));
  CHECK(stats.ttft_s.mean == Approx((0.14 + 0.23) / 2));
  CHECK(stats.queueing_s.max == Approx(0.09));            // B waited from 0.05 to 0.14
  CHECK(stats.tpot_s.mean == Approx((0.13 + 0.12) / 2));  // A: 0.26 / 2, B: 0.12 / 1
  CHECK(stats.e2e_s.mean == Approx((0.40 + 0.35) / 2));
  // Batch sizes 1, 2, 2 for 0.14, 0.14, 0.12 s: (0.14 + 0.28 + 0.24) / 0.40.
  CHECK(stats.mean_batch == Approx(1.65));
  CHECK(stats.max_batch == 2);
  CHECK(stats.busy_fraction == Approx(1.0));
  // A's TTFT 0.14 s meets 200 ms, B's 0.23 s does not: 1 request in 0.4 s.
  CHECK(stats.slo_met == 1);
  CHECK(stats.goodput == Approx(2.5));
  // Blocks of 4 tokens, held while a step runs: step 1 A 4 tokens (1 block); step 2 A 5 (2), B 3
  // (1); step 3 A 6 (2), B 4 (1).
  REQUIRE(result.iterations.size() == 3);
  CHECK(result.iterations[0].used_blocks == 1);
  CHECK(result.iterations[1].used_blocks == 3);
  CHECK(result.iterations[2].used_blocks == 3);
}

TEST_CASE("recompute preempts the most recently admitted request and recomputes its tokens",
          "[serving]") {
  // Blocks of 2 tokens, 4 of them; every step costs 1 s. A (4 in, 4 out), B (2 in, 3 out), both
  // at t = 0.
  //  step 1: A prefill 4 (2 blocks), B prefill 2 (1 block)   -> A1, B1      used 3
  //  step 2: A decode at 4 takes a 3rd block, the last free; B decode at 2 needs a second block:
  //          none is free, so B (admitted last) is preempted and requeued -> A2  used 3
  //  step 3: A decode at 5; B would recompute 3 tokens (2 blocks), 1 free -> A3 used 3
  //  step 4: A decode at 6 takes the 4th block                -> A4, A done  used 4
  //  step 5: B recomputes 2 + 1 tokens at context 0           -> B2          used 2
  //  step 6: B decode at 3                                    -> B3, B done  used 2
  LinearCost cost(1, 0);
  const dfsim::ServingResult result = dfsim::run_serving(
      {{0, 4, 4}, {0, 2, 3}}, config(8, 4096, 0, 2, 4, KvPolicy::kRecompute), cost);
  REQUIRE(cost.batches.size() == 6);
  CHECK(seqs(cost.batches[0]) == std::vector<Seq>{{0, 4, 0, true}, {1, 2, 0, true}});
  CHECK(seqs(cost.batches[1]) == std::vector<Seq>{{0, 1, 4, true}});
  CHECK(seqs(cost.batches[2]) == std::vector<Seq>{{0, 1, 5, true}});
  CHECK(seqs(cost.batches[3]) == std::vector<Seq>{{0, 1, 6, true}});
  CHECK(seqs(cost.batches[4]) == std::vector<Seq>{{1, 3, 0, true}});
  CHECK(cost.batches[4].sequences[0].prefill);
  CHECK(seqs(cost.batches[5]) == std::vector<Seq>{{1, 1, 3, true}});
  CHECK(result.preemptions == 1);
  CHECK(result.requests[0].preemptions == 0);
  CHECK(result.requests[1].preemptions == 1);
  CHECK(result.requests[0].token_s == std::vector<double>{1, 2, 3, 4});
  CHECK(result.requests[1].token_s == std::vector<double>{1, 5, 6});
  std::vector<int> used;
  for (const auto& iteration : result.iterations) used.push_back(iteration.used_blocks);
  CHECK(used == std::vector<int>{3, 3, 3, 4, 2, 2});
}

TEST_CASE("guaranteed-no-evict admits a request only when its whole isl + osl fits", "[serving]") {
  // The same two requests and cache as the recompute case: A reserves ceil(8 / 2) = 4 blocks,
  // all of them, so B waits for A to finish (4 steps) and then runs alone: never a preemption.
  LinearCost cost(1, 0);
  const dfsim::ServingResult result = dfsim::run_serving(
      {{0, 4, 4}, {0, 2, 3}}, config(8, 4096, 0, 2, 4, KvPolicy::kGuaranteedNoEvict), cost);
  CHECK(result.preemptions == 0);
  CHECK(result.requests[0].token_s == std::vector<double>{1, 2, 3, 4});
  CHECK(result.requests[1].first_scheduled_s == 4);
  CHECK(result.requests[1].token_s == std::vector<double>{5, 6, 7});
}

namespace {

// Drives the Scheduler directly and counts, per request, the steps that finished it and the
// tokens it was given.
struct Tally {
  std::map<int, int> finishes;
  std::map<int, int> sampled;
  int preemptions = 0;
  int steps = 0;
};

Tally tally(const std::vector<Request>& requests, const SchedulerConfig& c) {
  dfsim::Scheduler scheduler(c, requests);
  for (int i = 0; i < static_cast<int>(requests.size()); ++i) scheduler.enqueue(i);
  Tally t;
  while (!scheduler.idle()) {
    const StepBatch batch = scheduler.schedule();
    REQUIRE_FALSE(batch.sequences.empty());
    REQUIRE(batch.total_tokens() <= c.max_tokens);
    REQUIRE(static_cast<int>(batch.sequences.size()) <= c.max_batch);
    REQUIRE(scheduler.running() <= c.max_batch);
    REQUIRE(scheduler.blocks().used_blocks() <= c.capacity_blocks);
    const auto completion = scheduler.complete(batch);
    for (int id : completion.sampled) ++t.sampled[id];
    for (int id : completion.finished) ++t.finishes[id];
    REQUIRE(++t.steps < 1000000);
  }
  t.preemptions = scheduler.total_preemptions();
  CHECK(scheduler.blocks().used_blocks() == 0);
  return t;
}

}  // namespace

TEST_CASE("every request finishes exactly once with exactly osl tokens, cache too small",
          "[serving]") {
  // 64 requests of ~200 in / ~100 out against 100 blocks of 16 tokens (1600 tokens): far fewer
  // than the 32 that max_batch would run together.
  const std::vector<Request> requests = dfsim::synthetic_requests({64, 200, 100, 40, 40, 5});
  for (int chunk : {0, 64}) {
    for (KvPolicy policy : {KvPolicy::kGuaranteedNoEvict, KvPolicy::kRecompute}) {
      CAPTURE(chunk, dfsim::kv_policy_name(policy));
      const SchedulerConfig c = config(32, 1024, chunk, 16, 100, policy);
      const Tally t = tally(requests, c);
      REQUIRE(t.finishes.size() == requests.size());
      for (int i = 0; i < static_cast<int>(requests.size()); ++i) {
        CHECK(t.finishes.at(i) == 1);
        CHECK(t.sampled.at(i) == requests[static_cast<std::size_t>(i)].output_tokens);
      }
      if (policy == KvPolicy::kRecompute) {
        CHECK(t.preemptions > 0);
      } else {
        CHECK(t.preemptions == 0);
      }
    }
  }
}

TEST_CASE("max_tokens and max_batch hold in every iteration of a mixed load", "[serving]") {
  std::vector<Request> requests = dfsim::synthetic_requests({300, 600, 50, 300, 40, 11});
  dfsim::assign_arrivals(requests, 50, 11);
  for (KvPolicy policy : {KvPolicy::kGuaranteedNoEvict, KvPolicy::kRecompute}) {
    const SchedulerConfig c = config(16, 512, 200, 32, 400, policy);
    LinearCost cost(0.002, 0.00002);
    const dfsim::ServingResult result = dfsim::run_serving(requests, c, cost);
    bool mixed = false;
    for (const StepBatch& batch : cost.batches) {
      REQUIRE(batch.total_tokens() <= 512);
      REQUIRE(batch.sequences.size() <= 16);
      bool prefill = false, decode = false;
      for (const auto& s : batch.sequences) {
        REQUIRE(s.tokens <= 200);
        (s.prefill ? prefill : decode) = true;
      }
      mixed |= prefill && decode;
    }
    CHECK(mixed);  // prefill chunks and decodes share iterations
    for (const auto& iteration : result.iterations) REQUIRE(iteration.used_blocks <= 400);
  }
}

TEST_CASE("Little's law holds on a Poisson run", "[serving]") {
  // 4000 requests at 20 requests/s on a server that could take about four times that (batch 64: 64
  // tokens per 11.4 ms).
  std::vector<Request> requests = dfsim::synthetic_requests({4000, 128, 64, 32, 16, 3});
  dfsim::assign_arrivals(requests, 20, 3);
  LinearCost cost(0.005, 0.0001);
  const dfsim::ServingResult result =
      dfsim::run_serving(requests, config(64, 2048, 512, 16, 4000, KvPolicy::kRecompute), cost);
  const dfsim::ServingStats stats = dfsim::serving_stats(result);
  // Over the whole run: time-averaged requests in the system = throughput x mean latency.
  CHECK(stats.mean_in_system == Approx(stats.request_throughput * stats.e2e_s.mean).epsilon(0.02));
  // Over the middle half, counting only what happens inside it: L = lambda W with lambda the
  // arrivals in the window per second and W their mean latency (edge effects are W / window).
  const double from = stats.duration_s / 4, to = 3 * stats.duration_s / 4;
  double latency = 0;
  int arrivals = 0;
  for (const auto& r : result.requests) {
    if (r.arrival_s >= from && r.arrival_s < to) {
      ++arrivals;
      latency += r.finish_s - r.arrival_s;
    }
  }
  const double lambda = arrivals / (to - from);
  CHECK(lambda == Approx(20).epsilon(0.1));
  CHECK(dfsim::mean_requests_in_system(result.requests, from, to) ==
        Approx(lambda * latency / arrivals).epsilon(0.02));
  CHECK(stats.mean_in_system > 1);  // a real queue, not an empty server
}

TEST_CASE("the same seed gives the same serving run", "[serving]") {
  auto run = [](std::uint64_t seed) {
    std::vector<Request> requests = dfsim::synthetic_requests({500, 300, 80, 100, 40, seed});
    dfsim::assign_arrivals(requests, 30, seed);
    LinearCost cost(0.004, 0.00005);
    return dfsim::run_serving(requests, config(24, 1024, 256, 16, 600, KvPolicy::kRecompute), cost);
  };
  const dfsim::ServingResult a = run(17), b = run(17), c = run(18);
  REQUIRE(a.requests.size() == b.requests.size());
  for (std::size_t i = 0; i < a.requests.size(); ++i) {
    REQUIRE(a.requests[i].token_s == b.requests[i].token_s);
    REQUIRE(a.requests[i].preemptions == b.requests[i].preemptions);
  }
  CHECK(a.iterations.size() == b.iterations.size());
  CHECK(a.preemptions == b.preemptions);
  CHECK(a.requests.back().finish_s != c.requests.back().finish_s);
}

TEST_CASE("unservable requests and bad scheduler settings are input errors", "[serving]") {
  const std::vector<Request> big{{0, 100, 29}};  // isl + osl = 129 tokens = 9 blocks of 16
  CHECK(message_of<dfsim::InputError>([&] {
          dfsim::Scheduler(config(8, 4096, 0, 16, 8, KvPolicy::kGuaranteedNoEvict), big);
        }) ==
        "kv_blocks: request 0 (100 in, 29 out) needs 9 KV blocks of 16 tokens, more than "
        "the cache's 8");
  // Recompute caches at most isl + osl - 1 = 128 tokens: 8 blocks fit.
  CHECK_NOTHROW(dfsim::Scheduler(config(8, 4096, 0, 16, 8, KvPolicy::kRecompute), big));
  CHECK(message_of<dfsim::InputError>([&] {
          dfsim::Scheduler(config(8, 64, 0, 16, 100, KvPolicy::kGuaranteedNoEvict), big);
        }) ==
        "max_tokens: request 0 (100 in, 29 out) needs a prefill of 100 tokens in one "
        "iteration, more than 64; raise it or chunk the prefill");
  CHECK_NOTHROW(dfsim::Scheduler(config(8, 64, 32, 16, 100, KvPolicy::kGuaranteedNoEvict), big));
  CHECK(message_of<dfsim::InputError>([&] {
          dfsim::Scheduler(config(0, 64, 0, 16, 100, KvPolicy::kGuaranteedNoEvict), big);
        }) == "max_batch: expected an integer >= 1, got 0");
}

TEST_CASE("the serving loop is driven from outside: steps are pulled and idle time skipped",
          "[serving]") {
  // One request at t = 0 and one at t = 10 s, as a machine that pulls steps would see them.
  dfsim::ServingSimulator simulator({{0, 8, 2}, {10, 8, 1}},
                                    config(4, 64, 0, 8, 8, KvPolicy::kGuaranteedNoEvict));
  auto step = simulator.next_step(0);
  REQUIRE(step);
  CHECK(seqs(*step) == std::vector<Seq>{{0, 8, 0, true}});
  CHECK_THROWS_AS(simulator.next_step(0), std::logic_error);  // a step is in flight
  simulator.step_done(0.5);
  step = simulator.next_step(0.5);
  REQUIRE(step);
  CHECK(seqs(*step) == std::vector<Seq>{{0, 1, 8, true}});
  simulator.step_done(0.75);
  CHECK_FALSE(simulator.done());
  CHECK_FALSE(simulator.next_step(0.75));  // idle: nothing runs until the next arrival
  REQUIRE(simulator.next_arrival_s());
  CHECK(*simulator.next_arrival_s() == 10);
  step = simulator.next_step(10);
  REQUIRE(step);
  CHECK(seqs(*step) == std::vector<Seq>{{1, 8, 0, true}});
  simulator.step_done(10.25);
  CHECK(simulator.done());
  CHECK_FALSE(simulator.next_step(10.25));
  const auto& records = simulator.records();
  CHECK(records[0].token_s == std::vector<double>{0.5, 0.75});
  CHECK(records[1].first_token_s == 10.25);
  const dfsim::ServingStats stats = dfsim::serving_stats(simulator.result());
  CHECK(stats.duration_s == 10.25);
  CHECK(stats.busy_fraction == Approx(1.0 / 10.25));  // 0.5 + 0.25 + 0.25 s of steps
  CHECK(stats.ttft_s.p50 == Approx(0.375));           // 0.5 and 0.25
}
