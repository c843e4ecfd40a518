// Max-min fair division of a channel's bandwidth among concurrent streams, each capped by what
// it can keep in flight (Little's law: cap = bytes in flight / latency). Plain C++, so the
// arithmetic is testable without SystemC.
#pragma once

#include <vector>

namespace dfsim {

// Returns each stream's rate: no stream exceeds its cap, the total never exceeds `capacity`, and
// capacity a capped stream cannot use goes to the others (water-filling).
std::vector<double> fair_share(double capacity, const std::vector<double>& caps);

}  // namespace dfsim
