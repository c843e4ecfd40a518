#include "sim/report/roofline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "sim/common/units.h"

namespace dfsim {

using nlohmann::json;

namespace {

// Seconds a kernel's FLOPs take at peak, all sockets: matmul FLOPs at the tensor/compute rate
// of its dtype, the rest on the CUDA cores (GPU; what models/gpu/gpu_machine.cpp does). A
// dataflow chip runs every op on its PCUs at the dtype's rate.
double seconds_at_peak(const HwConfig& hw, double matmul_flops, double other_flops, Dtype dtype) {
  const double sockets = hw.sockets();
  if (const GpuSpec* gpu = hw.gpu()) {
    auto tensor = gpu->tensor_rate.find(dtype);
    const double matmul_rate =
        (tensor != gpu->tensor_rate.end() ? tensor->second : gpu->vector_rate) * sockets;
    return matmul_flops / matmul_rate + other_flops / (gpu->vector_rate * sockets);
  }
  if (const AppleSpec* soc = hw.apple()) {
    // The same ALUs run both; the ceiling is the ALU peak (matmul_efficiency is the model's
    // achieved share of it, not a ceiling).
    return (matmul_flops + other_flops) / soc->alu_rate(dtype);
  }
  return (matmul_flops + other_flops) / hw.peak_flops(dtype);
}

// Seconds the ALUs spend at peak dequantizing one call's weights (Work::dequant_slots, FMA issue
// slots, sim/mapping/dequantization.h; one rank's share under tensor parallelism, which the
// ranks do side by side).
double dequant_seconds_at_peak(const HwConfig& hw, const Kernel& kernel) {
  if (kernel.dequant_slots <= 0) return 0;
  if (const GpuSpec* gpu = hw.gpu()) return kernel.dequant_slots / gpu->dequant_slot_rate();
  if (const AppleSpec* soc = hw.apple()) {
    return kernel.dequant_slots / soc->dequant_slot_rate(kernel.compute_dtype);
  }
  return 0;
}

std::string role_of(const std::string& name, int layer) {
  return layer >= 0 ? name.substr(name.find('.') + 1) : name;
}

std::string rate(double flops_per_second) {
  return format_quantity(flops_per_second, Dimension::kFlopRate, 4);
}

}  // namespace

const RooflineCeiling& main_compute_ceiling(const RooflineCeilings& ceilings,
                                            const std::vector<RooflineKernel>& kernels) {
  std::map<std::string, double> flops_by_dtype;
  for (const RooflineKernel& k : kernels) flops_by_dtype[k.dtype] += k.flops;
  const RooflineCeiling* main = &ceilings.compute.front();
  double most = -1;
  for (const RooflineCeiling& c : ceilings.compute) {
    auto it = flops_by_dtype.find(c.name);
    if (it != flops_by_dtype.end() && it->second > most) {
      most = it->second;
      main = &c;
    }
  }
  return *main;
}

RooflineCeilings roofline_ceilings(const HwConfig& hw) {
  RooflineCeilings ceilings;
  const double sockets = hw.sockets();
  if (const GpuSpec* gpu = hw.gpu()) {
    for (const auto& [dtype, value] : gpu->tensor_rate) {
      ceilings.compute.push_back({std::string(dtype_name(dtype)), value * sockets});
    }
    ceilings.compute.push_back({"fp32 vector", gpu->vector_rate * sockets});
    ceilings.bandwidth.push_back({"HBM", gpu->hbm.bandwidth * sockets});
    ceilings.bandwidth.push_back({"L2", gpu->l2.bandwidth * sockets});
  } else if (const AppleSpec* soc = hw.apple()) {
    ceilings.compute.push_back({"fp16", soc->fp16_rate});
    ceilings.compute.push_back({"fp32", soc->fp32_rate});
    ceilings.bandwidth.push_back({"LPDDR", soc->lpddr.bandwidth});
    ceilings.bandwidth.push_back({"SLC", soc->slc.bandwidth});
  } else if (const CpuSpec* cpu = hw.cpu()) {
    for (Dtype dtype : {Dtype::kInt8, Dtype::kBf16, Dtype::kFp32}) {
      ceilings.compute.push_back({std::string(dtype_name(dtype)), cpu->peak_ops(dtype) * sockets});
    }
    ceilings.bandwidth.push_back({"DDR", cpu->ddr.bandwidth() * sockets});
    ceilings.bandwidth.push_back({"L3", cpu->l3.bandwidth * sockets});
  } else {
    const DataflowSpec& chip = *hw.dataflow();
    for (const auto& [dtype, value] : chip.compute_rate) {
      ceilings.compute.push_back({std::string(dtype_name(dtype)), value * sockets});
    }
    ceilings.bandwidth.push_back({"HBM", chip.hbm.bandwidth * sockets});
    ceilings.bandwidth.push_back({"SRAM", chip.sram.bandwidth * sockets});
    ceilings.bandwidth.push_back({"DDR", chip.ddr.bandwidth * sockets});
  }
  std::stable_sort(
      ceilings.compute.begin(), ceilings.compute.end(),
      [](const RooflineCeiling& a, const RooflineCeiling& b) { return a.value > b.value; });
  return ceilings;
}

std::vector<RooflineKernel> roofline_kernels(const RunStats& stats, const Program& first_step,
                                             const HwConfig& hw, bool by_role) {
  std::map<std::string, const Kernel*> program;
  for (const Kernel& kernel : first_step.kernels) program[kernel.name] = &kernel;
  const double bandwidth = hw.peak_dram_bandwidth();

  struct Sum {
    RooflineKernel entry;
    double peak_seconds = 0;
    double dequant_seconds = 0;  // part of peak_seconds
    bool collective = true;
    bool communication = false;  // a kernel whose collectives outlast its memory and compute
  };
  std::vector<Sum> sums;
  std::map<std::string, std::size_t> index;
  for (const KernelStats& k : stats.kernels) {
    auto found = program.find(k.name);
    if (found == program.end()) {
      throw std::runtime_error("roofline: kernel " + k.name +
                               " is not in the first step's program");
    }
    const Kernel& kernel = *found->second;
    // The first step's matmul share applies to every step: only attention's FLOPs change with
    // the context, and its share of matmul FLOPs stays the same.
    const double matmul_share = kernel.flops > 0 ? kernel.matmul_flops / kernel.flops : 0;
    const std::string name = by_role ? role_of(k.name, k.layer) : k.name;
    auto [it, inserted] = index.emplace(name, sums.size());
    if (inserted) {
      Sum sum;
      sum.entry.phase = stats.phase;
      sum.entry.name = name;
      sum.entry.dtype = std::string(dtype_name(kernel.compute_dtype));
      sums.push_back(sum);
    }
    Sum& sum = sums[it->second];
    sum.entry.calls += k.calls;
    sum.entry.flops += k.flops;
    sum.entry.dram_bytes += k.dram_bytes;
    sum.entry.time_s += k.time_s;
    const double dequant = dequant_seconds_at_peak(hw, kernel) * static_cast<double>(k.calls);
    sum.dequant_seconds += dequant;
    sum.peak_seconds +=
        dequant + seconds_at_peak(hw, k.flops * matmul_share, k.flops * (1 - matmul_share),
                                  kernel.compute_dtype);
    sum.collective = sum.collective && kernel.collective != Collective::kNone;
    sum.communication = sum.communication || k.bound == "communication";
  }

  std::vector<RooflineKernel> kernels;
  for (Sum& sum : sums) {
    RooflineKernel& e = sum.entry;
    e.intensity =
        e.dram_bytes > 0 ? e.flops / e.dram_bytes : std::numeric_limits<double>::infinity();
    e.achieved = e.time_s > 0 ? e.flops / e.time_s : 0;
    e.compute_roof = sum.peak_seconds > 0 ? e.flops / sum.peak_seconds : 0;
    e.memory_roof = e.intensity * bandwidth;
    const double achieved_bandwidth = e.time_s > 0 ? e.dram_bytes / e.time_s : 0;
    if (e.flops == 0) {
      // No FLOPs (a gather, a collective): only the bandwidth roof applies.
      e.share_of_roof = achieved_bandwidth / bandwidth;
      e.bottleneck = sum.collective ? "communication" : "memory";
    } else if (e.memory_roof < e.compute_roof) {
      e.share_of_roof = e.achieved / e.memory_roof;
      // Its collectives hold the link longer than its bytes hold memory (summarize.cpp).
      e.bottleneck = sum.communication ? "communication" : "memory";
    } else {
      e.share_of_roof = e.achieved / e.compute_roof;
      // Weight unpacking on the CUDA cores, not the model's FLOPs, sets this roof.
      e.bottleneck = 2 * sum.dequant_seconds > sum.peak_seconds ? "dequantization" : "compute";
    }
    if (e.share_of_roof < kRooflineMargin && e.bottleneck != "communication") {
      e.bottleneck = "latency/overhead";
    }
    kernels.push_back(e);
  }
  return kernels;
}

std::string format_roofline_table(const std::string& title, const RooflineCeilings& ceilings,
                                  const std::vector<RooflineKernel>& kernels) {
  std::string out = title + "\n";
  std::string compute, bandwidth;
  for (const RooflineCeiling& c : ceilings.compute) {
    compute += (compute.empty() ? "" : ", ") + c.name + " " + rate(c.value);
  }
  const double dram = ceilings.bandwidth.front().value;
  for (const RooflineCeiling& b : ceilings.bandwidth) {
    bandwidth += (bandwidth.empty() ? "" : ", ") + b.name + " " +
                 format_quantity(b.value, Dimension::kBandwidth, 4);
  }
  out += "  compute ceilings    " + compute + "\n";
  out += "  bandwidth slopes    " + bandwidth + "\n";
  const RooflineCeiling& main = main_compute_ceiling(ceilings, kernels);
  out += fmt::format("  ridge point         {:.1f} FLOP/byte ({} over {})\n", main.value / dram,
                     main.name, ceilings.bandwidth.front().name);
  out += fmt::format("\n  {:<8} {:<18}{:>7}{:>11}{:>15}{:>15}{:>9}  {}\n", "phase", "kernel",
                     "calls", "FLOP/byte", "achieved", "roof", "of roof", "bottleneck");
  for (const RooflineKernel& k : kernels) {
    const std::string intensity =
        std::isinf(k.intensity) ? "inf" : fmt::format("{:.4g}", k.intensity);
    const double roof = k.flops == 0 ? 0 : std::min(k.compute_roof, k.memory_roof);
    out += fmt::format("  {:<8} {:<18}{:>7}{:>11}{:>15}{:>15}{:>9}  {}\n", k.phase, k.name, k.calls,
                       intensity, k.flops == 0 ? "-" : rate(k.achieved),
                       k.flops == 0 ? "-" : rate(roof),
                       fmt::format("{:.1f} %", 100 * k.share_of_roof), k.bottleneck);
  }
  out += fmt::format(
      "  (of roof: achieved FLOP/s over the lower roof; for kernels without FLOPs, achieved DRAM "
      "bandwidth over peak. Below {:.0f} % of it: latency/overhead)\n",
      100 * kRooflineMargin);
  return out;
}

json roofline_json(const std::string& model, const std::string& hw,
                   const RooflineCeilings& ceilings, const std::vector<RooflineKernel>& kernels) {
  json compute = json::array(), bandwidth = json::array(), entries = json::array();
  for (const RooflineCeiling& c : ceilings.compute)
    compute.push_back({{"name", c.name}, {"flops", c.value}});
  for (const RooflineCeiling& b : ceilings.bandwidth) {
    bandwidth.push_back({{"name", b.name}, {"bytes_per_second", b.value}});
  }
  auto finite = [](double v) { return std::isfinite(v) ? json(v) : json(); };
  for (const RooflineKernel& k : kernels) {
    entries.push_back({{"phase", k.phase},
                       {"name", k.name},
                       {"calls", k.calls},
                       {"dtype", k.dtype},
                       {"flops", k.flops},
                       {"dram_bytes", k.dram_bytes},
                       {"time_s", k.time_s},
                       {"intensity", finite(k.intensity)},
                       {"achieved_flops", k.achieved},
                       {"compute_roof_flops", k.compute_roof},
                       {"memory_roof_flops", finite(k.memory_roof)},
                       {"share_of_roof", k.share_of_roof},
                       {"bottleneck", k.bottleneck}});
  }
  return {{"model", model},
          {"hw", hw},
          {"margin", kRooflineMargin},
          {"ceilings", {{"compute", compute}, {"bandwidth", bandwidth}}},
          {"kernels", entries}};
}

void plot_roofline(const std::string& title, const RooflineCeilings& ceilings,
                   const std::vector<RooflineKernel>& kernels, const PlotFiles& files,
                   double label_share) {
  constexpr double kTera = 1e12;  // the plot is in TFLOP/s
  const RooflineCeiling& main = main_compute_ceiling(ceilings, kernels);
  const std::string main_dtype = main.name;
  const double peak = main.value / kTera;
  const double dram = ceilings.bandwidth.front().value / kTera;  // TFLOP/s per FLOP/byte

  // Data: one block per phase; columns intensity, TFLOP/s, label. Kernels that land on the same
  // spot (all of a layer's weight matmuls in decode) share one label, written at the costliest.
  std::vector<std::string> phases;
  for (const RooflineKernel& k : kernels) {
    if (std::find(phases.begin(), phases.end(), k.phase) == phases.end()) phases.push_back(k.phase);
  }
  double x_min = std::numeric_limits<double>::infinity(), x_max = 0;
  double y_min = std::numeric_limits<double>::infinity();
  std::string data =
      "# intensity_flop_per_byte achieved_tflops label_right label_left kernel time_s "
      "bottleneck\n";
  for (const std::string& phase : phases) {
    double phase_time = 0;
    std::vector<const RooflineKernel*> shown;
    for (const RooflineKernel& k : kernels) {
      if (k.phase != phase) continue;
      phase_time += k.time_s;
      // Not on a log-log plot: no FLOPs or no DRAM bytes.
      if (k.flops > 0 && std::isfinite(k.intensity) && k.achieved > 0) shown.push_back(&k);
    }
    std::stable_sort(
        shown.begin(), shown.end(),
        [](const RooflineKernel* a, const RooflineKernel* b) { return a->time_s > b->time_s; });
    constexpr double kSameSpot = 0.2;  // decades in x and in y
    std::vector<std::string> labels(shown.size());
    std::vector<std::size_t> anchor(shown.size());
    for (std::size_t i = 0; i < shown.size(); ++i) {
      anchor[i] = i;
      for (std::size_t j = 0; j < i; ++j) {
        if (anchor[j] == j &&
            std::fabs(std::log10(shown[i]->intensity / shown[j]->intensity)) < kSameSpot &&
            std::fabs(std::log10(shown[i]->achieved / shown[j]->achieved)) < kSameSpot) {
          anchor[i] = j;
          break;
        }
      }
      const bool labelled = phase_time > 0 && shown[i]->time_s / phase_time >= label_share;
      if (labelled) {
        std::string& label = labels[anchor[i]];
        label += (label.empty() ? "" : ", ") + shown[i]->name;
      }
    }
    // A label goes left of its point when another labelled point sits just right of it.
    std::vector<bool> left(shown.size(), false);
    for (std::size_t i = 0; i < shown.size(); ++i) {
      for (std::size_t j = 0; j < shown.size(); ++j) {
        if (labels[i].empty() || labels[j].empty() || i == j) continue;
        const double dx = std::log10(shown[j]->intensity / shown[i]->intensity);
        const double dy = std::log10(shown[j]->achieved / shown[i]->achieved);
        if (dx > 0 && dx < 0.8 && std::fabs(dy) < 0.3) left[i] = true;
      }
    }
    data += "# phase " + phase + "\n";
    for (std::size_t i = 0; i < shown.size(); ++i) {
      const RooflineKernel& k = *shown[i];
      x_min = std::min(x_min, k.intensity);
      x_max = std::max(x_max, k.intensity);
      y_min = std::min(y_min, k.achieved / kTera);
      data += fmt::format("{:.9g} {:.9g} \"{}\" \"{}\" \"{}\" {:.9g} \"{}\"\n", k.intensity,
                          k.achieved / kTera, left[i] ? "" : labels[i], left[i] ? labels[i] : "",
                          k.name, k.time_s, k.bottleneck);
    }
    data += "\n\n";
  }
  if (!std::isfinite(x_min)) {
    x_min = 0.1;
    x_max = 1000;
    y_min = 0.01;
  }
  // Decades around the points and the ridge.
  const double ridge = peak / dram;
  double top = peak;
  for (const RooflineCeiling& c : ceilings.compute) top = std::max(top, c.value / kTera);
  const double lo_x = std::pow(10, std::floor(std::log10(std::min(x_min, ridge)) - 0.3));
  const double hi_x = std::pow(10, std::ceil(std::log10(std::max(x_max, ridge) * 3)));
  const double lo_y = std::pow(10, std::floor(std::log10(std::min(y_min, lo_x * dram)) - 0.3));
  const double hi_y = std::pow(10, std::ceil(std::log10(top * 2)));

  std::string g;
  g += "set title " + gnuplot_quote(title) + "\n";
  g += "set logscale xy\nset grid xtics ytics mxtics mytics lc rgb '#dddddd'\nset samples 400\n";
  g += "set xlabel 'arithmetic intensity (FLOP per DRAM byte)'\nset ylabel 'TFLOP/s'\n";
  g += fmt::format("set xrange [{:.6g}:{:.6g}]\nset yrange [{:.6g}:{:.6g}]\n", lo_x, hi_x, lo_y,
                   hi_y);
  g += "set key inside right bottom box opaque\nset format x '%g'\nset format y '%g'\n";
  g += fmt::format("peak = {:.9g}  # {} TFLOP/s\ndram = {:.9g}  # {} TB/s\n", peak, main_dtype,
                   dram, ceilings.bandwidth.front().name);
  g += "roof(x) = x * dram < peak ? x * dram : peak\n";
  // Equal ceilings (fp16 and bf16, fp8 and int8) are one line with both names.
  std::vector<RooflineCeiling> merged;
  for (const RooflineCeiling& c : ceilings.compute) {
    auto same = std::find_if(merged.begin(), merged.end(),
                             [&](const RooflineCeiling& m) { return m.value == c.value; });
    if (same == merged.end()) {
      merged.push_back(c);
    } else {
      same->name += "/" + c.name;
    }
  }
  std::string main_title = main_dtype;
  for (const RooflineCeiling& c : merged) {
    if (c.value == main.value) main_title = c.name;
  }
  std::string plot =
      fmt::format("plot roof(x) with lines lw 3 lc rgb 'black' title {}",
                  gnuplot_quote(fmt::format(
                      "{} {} / {} {}", ceilings.bandwidth.front().name,
                      format_quantity(ceilings.bandwidth.front().value, Dimension::kBandwidth, 3),
                      main_title, rate(main.value))));
  // Other compute ceilings: horizontal from where the DRAM slope meets them.
  const char* colors[] = {"#e15759", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#9c755f"};
  int color = 0;
  for (const RooflineCeiling& c : merged) {
    if (c.value == main.value) continue;
    const double value = c.value / kTera;
    plot += fmt::format(
        ", \\\n  (x >= {:.9g} ? {:.9g} : 1/0) with lines dt 2 lw 1.5 lc rgb '{}' title {}",
        value / dram, value, colors[color++ % 6], gnuplot_quote(c.name + " " + rate(c.value)));
  }
  // The DRAM slope above the main ceiling (to the fastest dtype), then the other memory levels.
  if (top > peak) {
    plot += fmt::format(
        ", \\\n  (x * dram > peak && x * dram <= {:.9g} ? x * dram : 1/0) with lines "
        "dt 2 lw 1 lc rgb 'black' notitle",
        top);
  }
  for (std::size_t b = 1; b < ceilings.bandwidth.size(); ++b) {
    const double slope = ceilings.bandwidth[b].value / kTera;
    plot += fmt::format(
        ", \\\n  (x * {0:.9g} <= peak ? x * {0:.9g} : 1/0) with lines dt 3 lw 1.5 lc "
        "rgb '{1}' title {2}",
        slope, colors[color++ % 6],
        gnuplot_quote(ceilings.bandwidth[b].name + " " +
                      format_quantity(ceilings.bandwidth[b].value, Dimension::kBandwidth, 3)));
  }
  const char* point_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
  const int point_types[] = {7, 5, 9, 13};
  for (std::size_t p = 0; p < phases.size(); ++p) {
    plot +=
        fmt::format(", \\\n  {} index {} using 1:2 with points pt {} ps 1.4 lc rgb '{}' title {}",
                    gnuplot_quote(files.data_name), p, point_types[p % 4], point_colors[p % 4],
                    gnuplot_quote(phases[p] + " kernels"));
    plot += fmt::format(
        ", \\\n  '' index {} using 1:2:3 with labels left offset 0.8,0.3 font ',9' "
        "tc rgb '{}' notitle",
        p, point_colors[p % 4]);
    plot += fmt::format(
        ", \\\n  '' index {} using 1:2:4 with labels right offset -0.8,0.3 font ',9' "
        "tc rgb '{}' notitle",
        p, point_colors[p % 4]);
  }
  g += plot + "\n";
  render_plot(files, data, g, title);
}

}  // namespace dfsim
