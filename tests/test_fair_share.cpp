// Max-min fair division of a channel's bandwidth (models/common/fair_share.h): plain arithmetic,
// no SystemC, so these run in the test process itself.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "models/common/fair_share.h"

using dfsim::fair_share;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double sum(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0);
}

}  // namespace

TEST_CASE("fair_share splits evenly when no stream is capped", "[model]") {
  // 12 / 3 = 4 each; every cap (100) is above the share.
  CHECK(fair_share(12, {100, 100, 100}) == std::vector<double>{4, 4, 4});
  // Uncapped streams (the channel passes +inf for "no cap"): 9 / 2 = 4.5 each.
  CHECK(fair_share(9, {kInf, kInf}) == std::vector<double>{4.5, 4.5});
  // One stream takes the whole channel.
  CHECK(fair_share(7, {kInf}) == std::vector<double>{7});
  // No streams, nothing to share.
  CHECK(fair_share(10, {}).empty());
}

TEST_CASE("fair_share gives a capped stream's leftover to the others", "[model]") {
  // capacity 10, caps {1, 100, 100}: the even share 10/3 = 3.33 exceeds the first cap, so that
  // stream gets 1; the remaining 9 is split 9/2 = 4.5 between the two uncapped ones.
  CHECK(fair_share(10, {1, 100, 100}) == std::vector<double>{1, 4.5, 4.5});
  // The result follows the input order, whatever the order of the caps.
  CHECK(fair_share(10, {100, 1, 100}) == std::vector<double>{4.5, 1, 4.5});
  CHECK(fair_share(10, {100, 100, 1}) == std::vector<double>{4.5, 4.5, 1});
  // Two levels: 10/4 = 2.5 > 1 -> 1; 9/3 = 3 > 2 -> 2; 7/2 = 3.5 each for the last two.
  CHECK(fair_share(10, {100, 2, 1, 100}) == std::vector<double>{3.5, 2, 1, 3.5});
  // An uncapped stream next to a capped one: 9 - 1 = 8 for the uncapped one.
  CHECK(fair_share(9, {kInf, 1}) == std::vector<double>{8, 1});
  // A cap exactly at the even share: 3 each, nothing left over.
  CHECK(fair_share(9, {3, kInf, kInf}) == std::vector<double>{3, 3, 3});
}

TEST_CASE("fair_share gives every stream its cap when all caps fit", "[model]") {
  // 1 + 2 + 3 = 6 < 10: each stream runs at its own cap and 4 stays unused.
  std::vector<double> rates = fair_share(10, {1, 2, 3});
  CHECK(rates == std::vector<double>{1, 2, 3});
  CHECK(sum(rates) == 6);
  // A Little's-law cap far below the channel: 131072 B / 343 ns = 3.82e11 B/s of 2.98e12.
  const double cap = 131072 / 343e-9;
  CHECK(fair_share(2.9815e12, {cap}) == std::vector<double>{cap});
  // Zero capacity: nobody moves.
  CHECK(fair_share(0, {1, kInf}) == std::vector<double>{0, 0});
}

TEST_CASE("fair_share never exceeds the capacity and is max-min fair", "[model]") {
  // Deterministic pseudo-random cases (64-bit LCG): for each, check the invariants of max-min
  // fairness rather than particular numbers.
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53);  // [0, 1)
  };
  for (int trial = 0; trial < 500; ++trial) {
    const double capacity = 1 + 99 * next();
    const int streams = 1 + static_cast<int>(next() * 12);
    std::vector<double> caps;
    for (int i = 0; i < streams; ++i) caps.push_back(next() < 0.2 ? kInf : 40 * next());
    std::vector<double> rates = fair_share(capacity, caps);
    INFO("trial " << trial << ", capacity " << capacity << ", " << streams << " streams");
    REQUIRE(rates.size() == caps.size());

    const double total = sum(rates);
    CHECK(total <= capacity * (1 + 1e-12));
    double top = 0;
    for (std::size_t i = 0; i < rates.size(); ++i) {
      CHECK(rates[i] >= 0);
      CHECK(rates[i] <= caps[i]);
      top = std::max(top, rates[i]);
    }
    bool all_at_cap = true;
    for (std::size_t i = 0; i < rates.size(); ++i) {
      if (rates[i] < caps[i]) {
        all_at_cap = false;
        // A stream held below its cap is a bottleneck stream: nobody gets more than it does.
        CHECK(rates[i] == Approx(top).epsilon(1e-12));
      }
    }
    // Work-conserving: either every stream is at its cap, or the channel is full.
    if (!all_at_cap) CHECK(total == Approx(capacity).epsilon(1e-12));
  }
}
