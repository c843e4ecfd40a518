// Integer rounding shared by the graph builder, the mappers and the machines.
#pragma once

#include <cstdint>

namespace dfsim {

// a / b rounded up, for a >= 0 and b > 0: tiles, waves, groups, blocks.
constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace dfsim
