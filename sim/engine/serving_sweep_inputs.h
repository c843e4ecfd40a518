// What varies in a serving sweep's rows: the inputs that differ between points, the load axis
// the throughput-latency curves run along, and the series they are drawn as. Shared by the
// sweep's table and its plot, so both group the points the same way.
#pragma once

#include <string>
#include <vector>

#include "sim/engine/sweep_table.h"

namespace dfsim {

struct ServingSweepInputs {
  std::vector<const SweepRow*> rows;  // in point order
  std::vector<std::size_t> varying;   // input columns whose value differs between the rows
  // The load axis: load.rate when it varies, else the first varying load.* or serving.* column;
  // -1 when none varies.
  int along = -1;
  std::vector<std::size_t> series;  // `varying` without `along`
};

// The rows with status ok (and with status error too when `with_errors`) of a serving sweep's
// file. InputError prefixed by `where` when the file is not a serving sweep's or has no rows.
ServingSweepInputs serving_sweep_inputs(const SweepFile& file, const std::string& where,
                                        bool with_errors = false);

// A series' label: the row's values of `columns`, a name as it is ("dgx-h100"), looping as
// "looping on", anything else as "key=value"; joined by ", ".
std::string series_label(const SweepFile& file, const SweepRow& row,
                         const std::vector<std::size_t>& columns);

}  // namespace dfsim
