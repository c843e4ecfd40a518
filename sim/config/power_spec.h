// A GPU board's power as a plain value: the limit its clock is held under, and the figures the
// clock model (models/gpu/power_model.h) needs to know what a kernel draws.
#pragma once

#include "sim/config/config_reader.h"

namespace dfsim {

struct PowerSpec {
  double limit = 0;        // W: the board power limit (nvidia-smi -pl); 0: no power section
  double idle = 0;         // W drawn while the SMs idle at speed: leakage, uncore, DRAM refresh
  double sm_dynamic = 0;   // W of all SMs fully busy at the config's clock and rates
  double dram_energy = 0;  // J per byte read or written in DRAM (array, TSVs, PHY)
  double min_clock = 0;    // Hz: the lowest clock the driver goes to under a limit

  bool modelled() const { return limit > 0; }
};

// Reads the `power` section of a GPU config; throws InputError on a bad or missing field, and
// for a limit at or below the idle power (no clock could meet it).
PowerSpec parse_power(ConfigReader& reader);

}  // namespace dfsim
