#include "sim/serving/synthetic_requests.h"

#include <cmath>
#include <string>

#include "sim/common/error.h"
#include "sim/serving/random_stream.h"

namespace dfsim {

namespace {

void require_at_least_one(const char* name, int value) {
  if (value < 1) {
    throw InputError(std::string(name) + ": expected an integer >= 1, got " +
                     std::to_string(value));
  }
}

void require_std(const char* name, double value) {
  if (!std::isfinite(value) || value < 0) {
    throw InputError(std::string(name) + ": expected a finite number >= 0, got " +
                     std::to_string(value));
  }
}

int draw_length(RandomStream& stream, int mean, double stddev) {
  if (stddev == 0) return mean;
  const double value = std::round(stream.normal(mean, stddev));
  // The clamp also keeps a far tail (many standard deviations) inside int.
  if (value < 1) return 1;
  if (value > 1e9) return 1000000000;
  return static_cast<int>(value);
}

}  // namespace

std::vector<Request> synthetic_requests(const SyntheticLoad& load) {
  require_at_least_one("requests", load.requests);
  require_at_least_one("isl", load.isl);
  require_at_least_one("osl", load.osl);
  require_std("isl_std", load.isl_std);
  require_std("osl_std", load.osl_std);
  RandomStream stream(load.seed);
  std::vector<Request> requests(static_cast<std::size_t>(load.requests));
  for (Request& request : requests) {
    request.arrival_s = 0;
    request.input_tokens = draw_length(stream, load.isl, load.isl_std);
    request.output_tokens = draw_length(stream, load.osl, load.osl_std);
  }
  return requests;
}

}  // namespace dfsim
