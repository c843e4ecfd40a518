// A sample of latencies reduced to what serving benchmarks print: mean, p50, p90, p99, max.
// Percentiles interpolate linearly between the closest ranks (numpy.percentile's default, which
// vLLM's benchmark_serving.py uses), so p50 of {1, 2, 3, 4} is 2.5.
#pragma once

#include <vector>

namespace dfsim {

struct DistributionSummary {
  int count = 0;  // 0: an empty sample, every figure 0
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// q in [0, 100]; `sorted` ascending and not empty.
double percentile_of_sorted(const std::vector<double>& sorted, double q);

DistributionSummary summarize_distribution(std::vector<double> values);

}  // namespace dfsim
