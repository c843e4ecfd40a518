// One inference request of a serving run: when it arrives and how many tokens it reads and writes.
// Requests come from a synthetic load (synthetic_requests.h) or a trace (request_trace.h); the
// scheduler and the statistics refer to a request by its index in the run's request vector.
#pragma once

namespace dfsim {

struct Request {
  double arrival_s = 0;   // seconds since the run began
  int input_tokens = 1;   // prompt length (isl), >= 1
  int output_tokens = 1;  // tokens generated (osl), >= 1; the first comes from the prefill
};

}  // namespace dfsim
