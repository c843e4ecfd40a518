// `dfsim estimate` output: a table (with `explain`, every figure followed by its derivation with
// the numbers substituted) or JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sim/workload/estimate.h"

namespace dfsim {

std::string format_estimate(const Estimate& estimate, bool explain);
nlohmann::json estimate_to_json(const Estimate& estimate);

}  // namespace dfsim
