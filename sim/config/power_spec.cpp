#include "sim/config/power_spec.h"

#include <fmt/format.h>

namespace dfsim {

PowerSpec parse_power(ConfigReader& reader) {
  PowerSpec power;
  power.limit = reader.quantity("limit", Dimension::kPower);
  power.idle = reader.quantity("idle", Dimension::kPower, Range::kNonNegative);
  power.sm_dynamic = reader.quantity("sm_dynamic", Dimension::kPower);
  power.dram_energy =
      reader.quantity("dram_energy", Dimension::kEnergyPerByte, Range::kNonNegative);
  power.min_clock = reader.quantity("min_clock", Dimension::kFrequency);
  if (power.limit <= power.idle) {
    reader.fail("limit", fmt::format("{:g} W is not above the idle power ({:g} W): no clock could "
                                     "meet it",
                                     power.limit, power.idle));
  }
  reader.finish();
  return power;
}

}  // namespace dfsim
