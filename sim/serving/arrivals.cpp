#include "sim/serving/arrivals.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "sim/common/error.h"
#include "sim/serving/random_stream.h"

namespace dfsim {

namespace {

// Separates the arrival stream from the length stream of the same seed (any fixed odd constant
// does; this one is the 64-bit golden ratio).
constexpr std::uint64_t kArrivalStream = 0x9e3779b97f4a7c15ULL;

}  // namespace

void assign_arrivals(std::vector<Request>& requests, double rate, std::uint64_t seed) {
  if (!(rate > 0)) {
    throw InputError("rate: expected a number > 0 or inf, got " + std::to_string(rate));
  }
  if (std::isinf(rate)) {
    for (Request& request : requests) request.arrival_s = 0;
    return;
  }
  RandomStream stream(seed ^ kArrivalStream);
  double now = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (i > 0) now += stream.exponential(rate);
    requests[i].arrival_s = now;
  }
}

double parse_request_rate(std::string_view text, const std::string& option) {
  auto fail = [&]() -> double {
    throw InputError(option + ": expected a number of requests/s > 0 or inf, got '" +
                     std::string(text) + "'");
  };
  if (text == "inf") return std::numeric_limits<double>::infinity();
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value) || !(value > 0)) {
    return fail();
  }
  return value;
}

}  // namespace dfsim
