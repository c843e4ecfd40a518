#include "sim/serving/random_stream.h"

#include <cmath>
#include <numbers>

namespace dfsim {

double RandomStream::uniform() {
  return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

double RandomStream::normal(double mean, double stddev) {
  // 1 - u is in (0, 1], so the logarithm is finite.
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double RandomStream::exponential(double rate) {
  return -std::log(1.0 - uniform()) / rate;
}

}  // namespace dfsim
