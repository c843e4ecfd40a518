// A synthetic request load: N requests whose prompt and output lengths are drawn around a mean.
// Arrival times are set apart (arrivals.h), so a sweep over request rates serves the same requests
// at every rate.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/serving/request.h"

namespace dfsim {

struct SyntheticLoad {
  int requests = 1;
  int isl = 1;         // mean prompt length, tokens
  int osl = 1;         // mean output length, tokens
  double isl_std = 0;  // standard deviation of the prompt length, tokens
  double osl_std = 0;  // standard deviation of the output length, tokens
  std::uint64_t seed = 0;
};

// The load's requests, all arriving at t = 0. Each length is Normal(mean, std) rounded to the
// nearest integer and clamped to >= 1 (with std = 0 every request has exactly the mean). Lengths
// are drawn from one stream in request order, prompt then output, so the same seed gives the same
// requests everywhere. An InputError names the field when a value is out of range (requests,
// isl, osl >= 1; std >= 0 and finite).
std::vector<Request> synthetic_requests(const SyntheticLoad& load);

}  // namespace dfsim
