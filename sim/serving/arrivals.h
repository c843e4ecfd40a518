// When requests arrive: a Poisson process at a rate, or all at once (rate = infinity), as
// `trtllm-bench throughput` and vLLM's benchmark_serving.py (--request-rate inf) run a load.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/serving/request.h"

namespace dfsim {

// Sets every request's arrival_s, in request order. rate is in requests/s, > 0, or +infinity
// (all arrive at t = 0). For a finite rate the first request arrives at t = 0 and each gap to
// the next is Exponential(rate), as benchmark_serving.py yields a request and then sleeps an
// exponential interval. The gaps come from their own stream of `seed`, independent of the one
// that drew the lengths, so the same seed serves the same requests at every rate.
void assign_arrivals(std::vector<Request>& requests, double rate, std::uint64_t seed);

// A rate as the user writes it: a positive number of requests/s, or "inf". `option` names it in
// the InputError for anything else ("--rate: expected a number > 0 or inf, got 'abc'").
double parse_request_rate(std::string_view text, const std::string& option);

}  // namespace dfsim
