// The table a serving sweep prints when it ends: one line per point in point order, the inputs
// that vary, then request and output token throughput, TTFT, ITL and E2E latency (mean, p50, p99;
// E2E mean and p99) and goodput when the sweep has an SLO. The file keeps every figure; this is
// the part one reads a throughput-latency curve from.
#pragma once

#include <string>

#include "sim/engine/sweep_table.h"

namespace dfsim {

// InputError when the file is not a serving sweep's or has no rows.
std::string serving_sweep_table(const SweepFile& file);

}  // namespace dfsim
