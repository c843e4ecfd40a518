#include "sim/serving/distribution_summary.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace dfsim {

double percentile_of_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty() || !(q >= 0 && q <= 100)) {
    throw std::invalid_argument("percentile_of_sorted: empty sample or q outside [0, 100]");
  }
  const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(rank));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = rank - static_cast<double>(below);
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

DistributionSummary summarize_distribution(std::vector<double> values) {
  DistributionSummary summary;
  if (values.empty()) return summary;
  std::sort(values.begin(), values.end());
  summary.count = static_cast<int>(values.size());
  summary.mean =
      std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  summary.p50 = percentile_of_sorted(values, 50);
  summary.p90 = percentile_of_sorted(values, 90);
  summary.p99 = percentile_of_sorted(values, 99);
  summary.max = values.back();
  return summary;
}

}  // namespace dfsim
