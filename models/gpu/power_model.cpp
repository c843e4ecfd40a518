#include "models/gpu/power_model.h"

#include <algorithm>

namespace dfsim {

double kernel_power(const PowerSpec& power, const KernelDemand& demand, double s) {
  const double math = demand.math_seconds / s;
  const double onchip = demand.onchip_seconds / s;
  const double time = std::max({math, onchip, demand.dram_seconds});
  if (time <= 0) return power.idle;
  const double busy = std::max(math, onchip) / time;
  return power.idle + power.sm_dynamic * busy * s * s * s +
         power.dram_energy * demand.dram_bytes / time;
}

double clock_ratio_under_limit(const PowerSpec& power, double clock, const KernelDemand& demand) {
  if (!power.modelled() || kernel_power(power, demand, 1.0) <= power.limit) return 1.0;
  const double lowest = std::min(1.0, power.min_clock / clock);
  if (kernel_power(power, demand, lowest) >= power.limit) return lowest;
  // kernel_power is continuous and increasing in s: bisect to well below a simulated picosecond.
  double low = lowest, high = 1.0;
  for (int i = 0; i < 60; ++i) {
    const double mid = (low + high) / 2;
    (kernel_power(power, demand, mid) > power.limit ? high : low) = mid;
  }
  return low;
}

}  // namespace dfsim
