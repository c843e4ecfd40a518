#include "sim/serving/serving_stats.h"

#include <algorithm>
#include <stdexcept>

namespace dfsim {

double mean_requests_in_system(const std::vector<RequestRecord>& requests, double from_s,
                               double to_s) {
  if (!(to_s > from_s)) throw std::invalid_argument("mean_requests_in_system: empty window");
  // Each request contributes the overlap of [arrival, finish] with the window: the integral of the
  // number in the system is the sum of those overlaps.
  double area = 0;
  for (const RequestRecord& request : requests) {
    const double begin = std::max(request.arrival_s, from_s);
    const double end = std::min(request.finish_s, to_s);
    if (end > begin) area += end - begin;
  }
  return area / (to_s - from_s);
}

namespace {

bool meets(const RequestRecord& request, const Slo& slo) {
  if (slo.ttft_s && request.first_token_s - request.arrival_s > *slo.ttft_s) return false;
  if (slo.e2e_s && request.finish_s - request.arrival_s > *slo.e2e_s) return false;
  if (slo.tpot_s && request.output_tokens >= 2 &&
      (request.finish_s - request.first_token_s) / (request.output_tokens - 1) > *slo.tpot_s) {
    return false;
  }
  return true;
}

}  // namespace

ServingStats serving_stats(const ServingResult& result, const std::optional<Slo>& slo) {
  ServingStats stats;
  stats.requests = static_cast<int>(result.requests.size());
  stats.preemptions = result.preemptions;
  stats.kv_capacity_blocks = result.config.capacity_blocks;
  if (result.requests.empty()) return stats;

  double first_arrival = result.requests.front().arrival_s;
  double last_finish = 0;
  std::vector<double> ttft, tpot, itl, e2e, queueing;
  for (const RequestRecord& request : result.requests) {
    if (request.finish_s < 0 ||
        request.token_s.size() != static_cast<std::size_t>(request.output_tokens)) {
      throw std::invalid_argument("serving_stats: a request has not finished");
    }
    first_arrival = std::min(first_arrival, request.arrival_s);
    last_finish = std::max(last_finish, request.finish_s);
    stats.input_tokens += request.input_tokens;
    stats.output_tokens += request.output_tokens;
    ttft.push_back(request.first_token_s - request.arrival_s);
    e2e.push_back(request.finish_s - request.arrival_s);
    queueing.push_back(request.first_scheduled_s - request.arrival_s);
    if (request.output_tokens >= 2) {
      tpot.push_back((request.finish_s - request.first_token_s) / (request.output_tokens - 1));
    }
    for (std::size_t i = 1; i < request.token_s.size(); ++i) {
      itl.push_back(request.token_s[i] - request.token_s[i - 1]);
    }
    if (request.preemptions > 0) ++stats.preempted_requests;
  }
  stats.ttft_s = summarize_distribution(std::move(ttft));
  stats.tpot_s = summarize_distribution(std::move(tpot));
  stats.itl_s = summarize_distribution(std::move(itl));
  stats.e2e_s = summarize_distribution(std::move(e2e));
  stats.queueing_s = summarize_distribution(std::move(queueing));

  stats.duration_s = last_finish - first_arrival;
  if (stats.duration_s > 0) {
    stats.request_throughput = stats.requests / stats.duration_s;
    stats.input_tokens_per_s = static_cast<double>(stats.input_tokens) / stats.duration_s;
    stats.output_tokens_per_s = static_cast<double>(stats.output_tokens) / stats.duration_s;
    stats.total_tokens_per_s =
        static_cast<double>(stats.input_tokens + stats.output_tokens) / stats.duration_s;
    stats.mean_in_system = mean_requests_in_system(result.requests, first_arrival, last_finish);
  }

  double busy = 0, batch_area = 0, kv_area = 0;
  for (const IterationRecord& iteration : result.iterations) {
    const double seconds = iteration.end_s - iteration.start_s;
    busy += seconds;
    batch_area += seconds * iteration.sequences;
    kv_area += seconds * iteration.used_blocks;
    stats.max_batch = std::max(stats.max_batch, iteration.sequences);
    stats.max_kv_blocks = std::max(stats.max_kv_blocks, iteration.used_blocks);
  }
  stats.iterations = static_cast<int>(result.iterations.size());
  if (busy > 0) {
    stats.mean_batch = batch_area / busy;
    stats.mean_kv_blocks = kv_area / busy;
  }
  if (stats.duration_s > 0) stats.busy_fraction = busy / stats.duration_s;

  if (slo) {
    stats.slo = *slo;
    for (const RequestRecord& request : result.requests) stats.slo_met += meets(request, *slo);
    if (stats.duration_s > 0) stats.goodput = stats.slo_met / stats.duration_s;
  }
  return stats;
}

}  // namespace dfsim
