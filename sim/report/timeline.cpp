#include "sim/report/timeline.h"

#include <fmt/format.h>

#include <algorithm>

namespace dfsim {

using nlohmann::json;

SimulationTrace trace_window(const SimulationTrace& trace, double begin, double end) {
  SimulationTrace window;
  window.streaming_bandwidth = trace.streaming_bandwidth;
  window.end_time = std::min(trace.end_time, end);
  for (const KernelRecord& record : trace.kernels) {
    if (record.end >= begin && record.start <= end) window.kernels.push_back(record);
  }
  double rate_at_begin = 0;
  for (const RatePoint& point : trace.dram_rate) {
    if (point.time <= begin) rate_at_begin = point.rate;
    if (point.time > begin && point.time <= end) window.dram_rate.push_back(point);
  }
  window.dram_rate.insert(window.dram_rate.begin(), RatePoint{begin, rate_at_begin});
  for (const UnitSlice& slice : trace.unit_slices) {
    if (slice.end >= begin && slice.start <= end) window.unit_slices.push_back(slice);
  }
  for (const MemoryRateLog& log : trace.memory_rates) {
    MemoryRateLog part{log.memory, {}};
    double at_begin = 0;
    for (const RatePoint& point : log.rate) {
      if (point.time <= begin) at_begin = point.rate;
      if (point.time > begin && point.time <= end) part.rate.push_back(point);
    }
    part.rate.insert(part.rate.begin(), RatePoint{begin, at_begin});
    window.memory_rates.push_back(std::move(part));
  }
  return window;
}

json trace_to_json(const SimulationTrace& trace) {
  json kernels = json::array();
  for (const KernelRecord& k : trace.kernels) {
    kernels.push_back({k.step, k.kernel, k.name, k.boundary_begin, k.start, k.end,
                       k.dram_first_byte, k.dram_last_byte, k.dram_bytes, k.flops});
  }
  json rates = json::array();
  for (const RatePoint& p : trace.dram_rate) rates.push_back({p.time, p.rate});
  json units = json::array();
  for (const UnitSlice& u : trace.unit_slices) units.push_back({u.unit, u.name, u.start, u.end});
  json memories = json::array();
  for (const MemoryRateLog& log : trace.memory_rates) {
    json points = json::array();
    for (const RatePoint& p : log.rate) points.push_back({p.time, p.rate});
    memories.push_back({{"memory", log.memory}, {"rate", points}});
  }
  return {{"kernels", kernels},
          {"dram_rate", rates},
          {"end_time", trace.end_time},
          {"streaming_bandwidth", trace.streaming_bandwidth},
          {"unit_slices", units},
          {"memory_rates", memories}};
}

SimulationTrace trace_from_json(const json& j) {
  SimulationTrace trace;
  for (const json& k : j.at("kernels")) {
    KernelRecord r;
    r.step = k[0];
    r.kernel = k[1];
    r.name = k[2];
    r.boundary_begin = k[3];
    r.start = k[4];
    r.end = k[5];
    r.dram_first_byte = k[6];
    r.dram_last_byte = k[7];
    r.dram_bytes = k[8];
    r.flops = k[9];
    trace.kernels.push_back(std::move(r));
  }
  for (const json& p : j.at("dram_rate")) trace.dram_rate.push_back({p[0], p[1]});
  trace.end_time = j.at("end_time");
  trace.streaming_bandwidth = j.at("streaming_bandwidth");
  if (j.contains("unit_slices")) {
    for (const json& u : j.at("unit_slices")) trace.unit_slices.push_back({u[0], u[1], u[2], u[3]});
  }
  if (j.contains("memory_rates")) {
    for (const json& log : j.at("memory_rates")) {
      MemoryRateLog entry{log.at("memory"), {}};
      for (const json& p : log.at("rate")) entry.rate.push_back({p[0], p[1]});
      trace.memory_rates.push_back(std::move(entry));
    }
  }
  return trace;
}

double first_layers_end(const SimulationTrace& trace, int layers) {
  const std::string stop = "layer" + std::to_string(layers) + ".";
  double end = 0;
  for (const KernelRecord& record : trace.kernels) {
    if (record.step != 0 || record.name.rfind(stop, 0) == 0) break;
    end = record.end;
  }
  return end > 0 ? end : trace.end_time;
}

json perfetto_events(const SimulationTrace& trace, const std::string& label, int pid) {
  json events = json::array();
  auto meta = [&](const char* what, int tid, const std::string& name) {
    events.push_back({{"ph", "M"}, {"name", what}, {"pid", pid}, {"tid", tid},
                      {"args", {{"name", name}}}});
  };
  meta("process_name", 0, label);
  meta("thread_name", 1, "kernels");
  meta("thread_name", 2, "synchronization boundaries");
  constexpr double kMicro = 1e6;  // trace events are in microseconds
  for (const KernelRecord& k : trace.kernels) {
    events.push_back({{"ph", "X"}, {"name", k.name}, {"pid", pid}, {"tid", 1},
                      {"ts", k.start * kMicro}, {"dur", (k.end - k.start) * kMicro},
                      {"args", {{"step", k.step}, {"dram_bytes", k.dram_bytes}, {"flops", k.flops}}}});
    if (k.boundary_begin >= 0 && k.start > k.boundary_begin) {
      events.push_back({{"ph", "X"}, {"name", "launch / call overhead"}, {"pid", pid}, {"tid", 2},
                        {"ts", k.boundary_begin * kMicro},
                        {"dur", (k.start - k.boundary_begin) * kMicro}});
    }
  }
  for (const RatePoint& p : trace.dram_rate) {
    events.push_back({{"ph", "C"}, {"name", "HBM bandwidth (GB/s)"}, {"pid", pid},
                      {"ts", p.time * kMicro}, {"args", {{"GB/s", p.rate / 1e9}}}});
  }
  // One track per hardware unit, in the order the units first appear.
  std::vector<std::string> units;
  for (const UnitSlice& slice : trace.unit_slices) {
    auto it = std::find(units.begin(), units.end(), slice.unit);
    if (it == units.end()) {
      units.push_back(slice.unit);
      meta("thread_name", static_cast<int>(units.size()) + 2, slice.unit);
      it = units.end() - 1;
    }
    const int tid = static_cast<int>(it - units.begin()) + 3;
    events.push_back({{"ph", "X"}, {"name", slice.name}, {"pid", pid}, {"tid", tid},
                      {"ts", slice.start * kMicro}, {"dur", (slice.end - slice.start) * kMicro}});
  }
  for (const MemoryRateLog& log : trace.memory_rates) {
    const std::string name = log.memory + " bandwidth (GB/s)";
    for (const RatePoint& p : log.rate) {
      events.push_back({{"ph", "C"}, {"name", name}, {"pid", pid}, {"ts", p.time * kMicro},
                        {"args", {{"GB/s", p.rate / 1e9}}}});
    }
  }
  return events;
}

std::string perfetto_file(const json& events) {
  return json{{"traceEvents", events}, {"displayTimeUnit", "ns"}}.dump() + "\n";
}

std::string timeline_svg(const std::vector<std::pair<std::string, SimulationTrace>>& rows,
                         double end, double peak_bandwidth, const std::string& title) {
  const double width = 960, left = 130, right = 20, row_height = 110, top = 40;
  const double plot = width - left - right;
  const double height = top + rows.size() * row_height + 40;
  auto x = [&](double t) { return left + plot * std::clamp(t / end, 0.0, 1.0); };
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif' "
      "font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n"
      "<text x='{}' y='20' font-size='14'>{}</text>\n",
      width, height, left, title);
  const char* colors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948"};
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto& [label, trace] = rows[r];
    const double y0 = top + r * row_height;
    svg += fmt::format("<text x='8' y='{}'>{}</text>\n", y0 + 18, label);
    svg += fmt::format("<text x='8' y='{}' fill='#555'>HBM bandwidth</text>\n", y0 + 70);
    // Kernel bars, colored by layer, boundary gaps in red.
    int color = 0;
    for (const KernelRecord& k : trace.kernels) {
      if (k.start > end) break;
      if (k.boundary_begin >= 0 && k.start > k.boundary_begin) {
        svg += fmt::format("<rect x='{:.2f}' y='{}' width='{:.2f}' height='22' fill='#d62728'/>\n",
                           x(k.boundary_begin), y0 + 4, std::max(0.5, x(k.start) - x(k.boundary_begin)));
      }
      svg += fmt::format(
          "<rect x='{:.2f}' y='{}' width='{:.2f}' height='22' fill='{}' stroke='white' "
          "stroke-width='0.3'><title>{}</title></rect>\n",
          x(k.start), y0 + 4, std::max(0.5, x(k.end) - x(k.start)), colors[color++ % 6], k.name);
    }
    // Bandwidth as a step area, 0 to peak over 50 px.
    const double base = y0 + 90, scale = 50;
    std::string path = fmt::format("M{:.2f},{:.2f}", x(0), base);
    double rate = 0;
    for (const RatePoint& p : trace.dram_rate) {
      if (p.time > end) break;
      path += fmt::format(" L{:.2f},{:.2f} L{:.2f},{:.2f}", x(p.time),
                          base - scale * rate / peak_bandwidth, x(p.time),
                          base - scale * p.rate / peak_bandwidth);
      rate = p.rate;
    }
    path += fmt::format(" L{:.2f},{:.2f} L{:.2f},{:.2f} Z", x(end), base - scale * rate / peak_bandwidth,
                        x(end), base);
    svg += fmt::format("<path d='{}' fill='#9ecae1' stroke='#3182bd' stroke-width='0.6'/>\n", path);
    svg += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#999' stroke-dasharray='3,3'/>\n",
                       left, base - scale, left + plot, base - scale);
    svg += fmt::format("<text x='{}' y='{}' fill='#777' font-size='10'>peak</text>\n",
                       left + plot - 24, base - scale - 2);
  }
  // Time axis.
  const double axis = top + rows.size() * row_height + 5;
  svg += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='black'/>\n", left, axis,
                     left + plot, axis);
  for (int i = 0; i <= 5; ++i) {
    double t = end * i / 5;
    svg += fmt::format("<text x='{:.1f}' y='{}' text-anchor='middle'>{:.0f} us</text>\n", x(t),
                       axis + 16, t * 1e6);
  }
  svg += fmt::format(
      "<text x='{}' y='{}' fill='#555'>bars: kernels (one color per kernel); red: launch / call "
      "overhead</text>\n</svg>\n",
      left, axis + 32);
  return svg;
}

}  // namespace dfsim
