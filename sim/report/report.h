// Prints RunStats as a human table, JSON (the machine-readable form every other output is
// derived from) or CSV (one row per run, no per-kernel detail).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sim/report/run_stats.h"

namespace dfsim {

enum class ReportFormat { kTable, kJson, kCsv };

nlohmann::json to_json(const RunStats& stats);
RunStats run_stats_from_json(const nlohmann::json& json);

std::string format_table(const RunStats& stats, int max_kernels = 12);
std::string format_csv(const RunStats& stats, bool header = true);

std::string format_report(const RunStats& stats, ReportFormat format);

}  // namespace dfsim
