#include "models/common/fair_share.h"

#include <algorithm>
#include <numeric>

namespace dfsim {

std::vector<double> fair_share(double capacity, const std::vector<double>& caps) {
  std::vector<double> rates(caps.size(), 0.0);
  std::vector<std::size_t> order(caps.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return caps[a] < caps[b]; });
  double left = capacity;
  for (std::size_t i = 0; i < order.size(); ++i) {
    double share = left / static_cast<double>(order.size() - i);
    double rate = std::min(caps[order[i]], share);
    rates[order[i]] = rate;
    left -= rate;
  }
  return rates;
}

}  // namespace dfsim
