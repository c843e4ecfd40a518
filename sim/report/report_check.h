// The last check before a report leaves dfsim: every number in it is finite and non-negative.
// A NaN would print as "null" in JSON and "nan" in a table, and a negative time or byte count is
// meaningless; either means some input slipped past validation or the model has a bug, and the
// user must hear about it instead of plotting it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dfsim {

// Throws std::runtime_error naming the first offending field ("time_s", "kernels[3].flops") and
// `what` (the report). `layer: -1` ("not in a layer") is the one negative value allowed.
void check_report_values(const nlohmann::json& report, const std::string& what);

}  // namespace dfsim
