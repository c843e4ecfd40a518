// Timelines of a simulation: Chrome/Perfetto trace events (open in ui.perfetto.dev) and an SVG
// picture of kernels and HBM bandwidth over time, used to show what a kernel boundary costs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sim/report/simulation_trace.h"

namespace dfsim {

// The part of a trace inside [begin, end]: kernels that overlap it and the rate points in it
// (plus the rate in force at `begin`). Serializable, so a child process can hand it back.
SimulationTrace trace_window(const SimulationTrace& trace, double begin, double end);
nlohmann::json trace_to_json(const SimulationTrace& trace);
SimulationTrace trace_from_json(const nlohmann::json& json);

// End time of the first `layers` decoder layers of the first step (the whole trace if shorter).
double first_layers_end(const SimulationTrace& trace, int layers);

// Chrome trace events of one run as process `pid` named `label`: one track of kernels, one of
// synchronization boundaries (drain/launch gaps), one per hardware unit when the trace recorded
// them (dispatcher, SMs, host, loader, each stage's PCUs, link), the HBM bandwidth and the other
// memories' (L2, DDR, link) as counters.
nlohmann::json perfetto_events(const SimulationTrace& trace, const std::string& label, int pid);
// A complete trace file from the events of one or more runs.
std::string perfetto_file(const nlohmann::json& events);

// Rows of (label, trace) drawn on a common time axis from 0 to `end` seconds: kernel bars with
// boundary gaps, and the HBM bandwidth under them as a share of `peak_bandwidth`.
std::string timeline_svg(const std::vector<std::pair<std::string, SimulationTrace>>& rows,
                         double end, double peak_bandwidth, const std::string& title);

}  // namespace dfsim
