// The figures of a serving run, computed from its records (serving_result.h) alone, with the
// definitions of vLLM's benchmark_serving.py and trtllm-bench:
//  - duration: first arrival to last finish. Rates divide by it: requests/s, input tokens/s
//    (prompt tokens), output tokens/s (generated tokens), total tokens/s (both).
//  - TTFT: first token - arrival (queueing included). Queueing delay: first scheduled - arrival.
//  - TPOT: per request with >= 2 output tokens, (finish - first token) / (output tokens - 1).
//  - ITL: every gap between consecutive tokens of a request, over all requests.
//  - E2E latency: finish - arrival.
//  - Batch size and KV blocks over time: averaged over the iterations weighted by their
//    durations (time the server is busy); maxima over iterations.
//  - Goodput: requests/s that meet every bound of the SLO (a request with one output token has
//    no TPOT and meets any TPOT bound).
#pragma once

#include <optional>
#include <vector>

#include "sim/serving/distribution_summary.h"
#include "sim/serving/serving_result.h"
#include "sim/serving/slo.h"

namespace dfsim {

struct ServingStats {
  int requests = 0;
  long long input_tokens = 0;
  long long output_tokens = 0;
  double duration_s = 0;
  double request_throughput = 0;  // requests/s
  double input_tokens_per_s = 0;
  double output_tokens_per_s = 0;
  double total_tokens_per_s = 0;

  DistributionSummary ttft_s;
  DistributionSummary tpot_s;
  DistributionSummary itl_s;
  DistributionSummary e2e_s;
  DistributionSummary queueing_s;

  int iterations = 0;
  double busy_fraction = 0;  // time spent in steps / duration
  double mean_batch = 0;     // sequences per step, time-weighted
  int max_batch = 0;
  double mean_kv_blocks = 0;  // KV blocks held, time-weighted
  int max_kv_blocks = 0;
  int kv_capacity_blocks = 0;
  int preemptions = 0;
  int preempted_requests = 0;  // requests preempted at least once
  double mean_in_system = 0;   // requests arrived and not finished, time-averaged over duration

  std::optional<Slo> slo;
  int slo_met = 0;     // requests meeting it
  double goodput = 0;  // slo_met / duration, requests/s
};

// std::invalid_argument if a request has not finished.
ServingStats serving_stats(const ServingResult& result, const std::optional<Slo>& slo = {});

// Requests in the system (arrived, not finished) averaged over [from_s, to_s] (to_s > from_s),
// integrated exactly from the arrival and finish timestamps.
double mean_requests_in_system(const std::vector<RequestRecord>& requests, double from_s,
                               double to_s);

}  // namespace dfsim
