// Seeded random draws that are the same on every platform. The standard library's distributions
// (std::normal_distribution, std::exponential_distribution) are implementation-defined, so a seed
// would give different loads under libstdc++ and libc++; std::mt19937_64's sequence is fixed by
// the standard, and the transforms on top of it are written out here.
#pragma once

#include <cstdint>
#include <random>

namespace dfsim {

class RandomStream {
 public:
  explicit RandomStream(std::uint64_t seed) : engine_(seed) {}

  // Uniform on [0, 1): the top 53 bits of one 64-bit draw.
  double uniform();
  // Normal(mean, stddev) by Box-Muller, one uniform pair per draw (the second variate is dropped
  // so that every draw consumes the same amount of the stream).
  double normal(double mean, double stddev);
  // Exponential with the given rate (mean 1/rate) by inversion.
  double exponential(double rate);

 private:
  std::mt19937_64 engine_;
};

}  // namespace dfsim
