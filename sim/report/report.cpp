#include "sim/report/report.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/common/units.h"
#include "sim/report/report_check.h"

namespace dfsim {

using nlohmann::json;

json to_json(const RunStats& s) {
  json kernels = json::array();
  for (const KernelStats& k : s.kernels) {
    kernels.push_back({{"name", k.name},
                       {"layer", k.layer},
                       {"calls", k.calls},
                       {"time_s", k.time_s},
                       {"cycles", k.cycles},
                       {"flops", k.flops},
                       {"dram_bytes", k.dram_bytes},
                       {"bandwidth_utilization", k.bandwidth_utilization},
                       {"compute_utilization", k.compute_utilization},
                       {"sync_overhead_s", k.sync_overhead_s},
                       {"bound", k.bound},
                       {"collectives", k.collectives}});
  }
  json report = {{"model", s.model},
                 {"hw", s.hw},
                 {"phase", s.phase},
                 {"batch", s.batch},
                 {"context", s.context},
                 {"tokens", s.tokens},
                 {"weight_dtype", s.weight_dtype},
                 {"looping", s.looping},
                 {"sockets", s.sockets},
                 {"time_s", s.time_s},
                 {"time_per_step_s", s.time_per_step_s},
                 {"cycles", s.cycles},
                 {"clock_hz", s.clock_hz},
                 {"tokens_per_second", s.tokens_per_second},
                 {"flops", s.flops},
                 {"dram_bytes", s.dram_bytes},
                 {"achieved_bandwidth_Bps", s.achieved_bandwidth_Bps},
                 {"peak_bandwidth_Bps", s.peak_bandwidth_Bps},
                 {"bandwidth_utilization", s.bandwidth_utilization},
                 {"peak_flops", s.peak_flops},
                 {"compute_utilization", s.compute_utilization},
                 {"kernel_launches", s.kernel_launches},
                 {"sync_boundaries", s.sync_boundaries},
                 {"sync_overhead_s", s.sync_overhead_s},
                 {"sync_overhead_share", s.sync_overhead_share},
                 {"simulated_transfers", s.simulated_transfers},
                 {"heads_per_socket", s.heads_per_socket},
                 {"kv_heads_per_socket", s.kv_heads_per_socket},
                 {"mean_heads_per_socket", s.mean_heads_per_socket},
                 {"mean_kv_heads_per_socket", s.mean_kv_heads_per_socket},
                 {"kernels", kernels}};
  check_report_values(report, "run report");
  return report;
}

RunStats run_stats_from_json(const json& j) {
  RunStats s;
  j.at("model").get_to(s.model);
  j.at("hw").get_to(s.hw);
  j.at("phase").get_to(s.phase);
  j.at("batch").get_to(s.batch);
  j.at("context").get_to(s.context);
  j.at("tokens").get_to(s.tokens);
  j.at("weight_dtype").get_to(s.weight_dtype);
  j.at("looping").get_to(s.looping);
  j.at("sockets").get_to(s.sockets);
  j.at("time_s").get_to(s.time_s);
  j.at("time_per_step_s").get_to(s.time_per_step_s);
  j.at("cycles").get_to(s.cycles);
  j.at("clock_hz").get_to(s.clock_hz);
  j.at("tokens_per_second").get_to(s.tokens_per_second);
  j.at("flops").get_to(s.flops);
  j.at("dram_bytes").get_to(s.dram_bytes);
  j.at("achieved_bandwidth_Bps").get_to(s.achieved_bandwidth_Bps);
  j.at("peak_bandwidth_Bps").get_to(s.peak_bandwidth_Bps);
  j.at("bandwidth_utilization").get_to(s.bandwidth_utilization);
  j.at("peak_flops").get_to(s.peak_flops);
  j.at("compute_utilization").get_to(s.compute_utilization);
  j.at("kernel_launches").get_to(s.kernel_launches);
  j.at("sync_boundaries").get_to(s.sync_boundaries);
  j.at("sync_overhead_s").get_to(s.sync_overhead_s);
  j.at("sync_overhead_share").get_to(s.sync_overhead_share);
  j.at("simulated_transfers").get_to(s.simulated_transfers);
  // Reports written before these fields existed read as an even split.
  s.heads_per_socket = j.value("heads_per_socket", std::int64_t{0});
  s.kv_heads_per_socket = j.value("kv_heads_per_socket", std::int64_t{0});
  s.mean_heads_per_socket = j.value("mean_heads_per_socket", 0.0);
  s.mean_kv_heads_per_socket = j.value("mean_kv_heads_per_socket", 0.0);
  for (const json& k : j.at("kernels")) {
    KernelStats e;
    k.at("name").get_to(e.name);
    k.at("layer").get_to(e.layer);
    k.at("calls").get_to(e.calls);
    k.at("time_s").get_to(e.time_s);
    k.at("cycles").get_to(e.cycles);
    k.at("flops").get_to(e.flops);
    k.at("dram_bytes").get_to(e.dram_bytes);
    k.at("bandwidth_utilization").get_to(e.bandwidth_utilization);
    k.at("compute_utilization").get_to(e.compute_utilization);
    k.at("sync_overhead_s").get_to(e.sync_overhead_s);
    e.bound = k.value("bound", std::string());
    e.collectives = k.value("collectives", std::string());
    s.kernels.push_back(e);
  }
  return s;
}

std::string format_table(const RunStats& s, int max_kernels) {
  to_json(s);  // checks every value before any is printed
  auto duration = [](double v) { return format_quantity(v, Dimension::kDuration); };
  auto percent = [](double v) { return fmt::format("{:.1f} %", 100.0 * v); };
  std::string out;
  out += fmt::format("dfsim run: {} on {}, {} (batch {}, {} {}, {} weights, looping {})\n", s.model,
                     s.hw, s.phase, s.batch, s.phase == "decode" ? "context" : "prompt", s.context,
                     s.weight_dtype, s.looping);
  auto row = [&](std::string_view name, const std::string& value) {
    out += fmt::format("  {:<28}{}\n", name, value);
  };
  row("simulated time", duration(s.time_s));
  row(s.phase == "decode" ? "time per token (step)" : "time per step", duration(s.time_per_step_s));
  row("tokens per second", fmt::format("{:.2f}", s.tokens_per_second));
  row("cycles",
      fmt::format("{:.4g} @ {}", s.cycles, format_quantity(s.clock_hz, Dimension::kFrequency)));
  row("FLOPs", fmt::format("{:.4g}", s.flops));
  row("DRAM bytes", format_quantity(s.dram_bytes, Dimension::kBytes));
  row("achieved bandwidth", format_quantity(s.achieved_bandwidth_Bps, Dimension::kBandwidth));
  row("bandwidth utilization", percent(s.bandwidth_utilization) + " of " +
                                   format_quantity(s.peak_bandwidth_Bps, Dimension::kBandwidth));
  row("compute utilization", percent(s.compute_utilization) + " of " +
                                 format_quantity(s.peak_flops, Dimension::kFlopRate));
  row("kernel launches", fmt::format("{}", s.kernel_launches));
  row("sync boundaries", fmt::format("{}", s.sync_boundaries));
  row("sync overhead", duration(s.sync_overhead_s) + " (" + percent(s.sync_overhead_share) + ")");
  if (s.heads_per_socket > 0 && (s.heads_per_socket != s.mean_heads_per_socket ||
                                 s.kv_heads_per_socket != s.mean_kv_heads_per_socket)) {
    row("uneven head split",
        fmt::format("busiest socket {} + {} kv heads, mean {:.3g} + {:.3g} (it sets the time)",
                    s.heads_per_socket, s.kv_heads_per_socket, s.mean_heads_per_socket,
                    s.mean_kv_heads_per_socket));
  }

  // Kernels grouped by role over the layers ("layer3.qkv_proj" counts as "qkv_proj"), the
  // costliest first; JSON lists every kernel.
  struct Group {
    std::string role;
    std::int64_t calls = 0;
    double time_s = 0, sync_s = 0, dram_bytes = 0, flops = 0;
    std::string bound{}, collectives{};  // of its first kernel
  };
  std::vector<Group> groups;
  for (const KernelStats& k : s.kernels) {
    std::string role = k.name;
    if (k.layer >= 0) role = role.substr(role.find('.') + 1);
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.role == role; });
    if (it == groups.end()) {
      it = groups.insert(groups.end(), Group{.role = role});
      it->bound = k.bound;
      it->collectives = k.collectives;
    }
    it->calls += k.calls;
    it->time_s += k.time_s;
    it->sync_s += k.sync_overhead_s;
    it->dram_bytes += k.dram_bytes;
    it->flops += k.flops;
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const Group& a, const Group& b) { return a.time_s > b.time_s; });
  out += fmt::format("\n  {:<22}{:>8}{:>12}{:>12}{:>12}{:>9}{:>9}  {}\n", "kernel (all layers)",
                     "calls", "time", "sync", "DRAM", "BW", "compute", "bound");
  int shown = 0;
  for (const Group& g : groups) {
    if (shown++ == max_kernels) break;
    const double bandwidth = g.time_s > 0 ? g.dram_bytes / g.time_s / s.peak_bandwidth_Bps : 0;
    const double compute = g.time_s > 0 ? g.flops / g.time_s / s.peak_flops : 0;
    const std::string bound =
        g.collectives.empty() ? g.bound : g.bound + " (" + g.collectives + ")";
    out += fmt::format("  {:<22}{:>8}{:>12}{:>12}{:>12}{:>9}{:>9}  {}\n", g.role, g.calls,
                       duration(g.time_s), duration(g.sync_s),
                       format_quantity(g.dram_bytes, Dimension::kBytes, 3), percent(bandwidth),
                       percent(compute), bound);
  }
  if (groups.size() > static_cast<std::size_t>(max_kernels)) {
    out += fmt::format("  ... {} more (--format json lists every kernel)\n",
                       groups.size() - static_cast<std::size_t>(max_kernels));
  }
  return out;
}

namespace {
constexpr const char* kCsvColumns[] = {"model",
                                       "hw",
                                       "phase",
                                       "batch",
                                       "context",
                                       "tokens",
                                       "weight_dtype",
                                       "looping",
                                       "sockets",
                                       "time_s",
                                       "time_per_step_s",
                                       "cycles",
                                       "tokens_per_second",
                                       "flops",
                                       "dram_bytes",
                                       "achieved_bandwidth_Bps",
                                       "bandwidth_utilization",
                                       "compute_utilization",
                                       "kernel_launches",
                                       "sync_boundaries",
                                       "sync_overhead_s",
                                       "sync_overhead_share"};
}  // namespace

std::string format_csv(const RunStats& stats, bool header) {
  json j = to_json(stats);
  std::string out;
  if (header) {
    for (const char* column : kCsvColumns) out += std::string(out.empty() ? "" : ",") + column;
    out += "\n";
  }
  std::string row;
  for (const char* column : kCsvColumns) {
    const json& value = j.at(column);
    if (!row.empty()) row += ",";
    row += value.is_string() ? value.get<std::string>() : value.dump();
  }
  return out + row + "\n";
}

std::string format_report(const RunStats& stats, ReportFormat format) {
  switch (format) {
    case ReportFormat::kTable:
      return format_table(stats);
    case ReportFormat::kJson:
      return to_json(stats).dump(2) + "\n";
    case ReportFormat::kCsv:
      return format_csv(stats);
  }
  return "";
}

}  // namespace dfsim
