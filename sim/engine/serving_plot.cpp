#include "sim/engine/serving_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace dfsim {

namespace {

struct Row {
  double time = 0, sequences = 0, running = 0, waiting = 0, kv_percent = 0;
  double iteration_s = NAN;  // none: gnuplot skips it
};

std::string format_row(const Row& row) {
  return fmt::format(
      "{:.9g} {:.6g} {:.6g} {:.6g} {:.6g} {}\n", row.time, row.sequences, row.running, row.waiting,
      row.kv_percent,
      std::isnan(row.iteration_s) ? std::string("NaN") : fmt::format("{:.9g}", row.iteration_s));
}

}  // namespace

std::string serving_plot_data(const ServingRun& run, std::size_t max_rows) {
  const std::vector<IterationRecord>& iterations = run.result.iterations;
  const double capacity = std::max(1, run.kv.capacity_blocks);
  auto percent = [&](int blocks) { return 100.0 * blocks / capacity; };
  std::string data = "# iterations: start_s sequences running waiting kv_percent iteration_s\n";
  if (iterations.size() <= max_rows) {
    for (std::size_t i = 0; i < iterations.size(); ++i) {
      const IterationRecord& it = iterations[i];
      data += format_row({it.start_s, static_cast<double>(it.sequences),
                          static_cast<double>(it.running), static_cast<double>(it.waiting),
                          percent(it.used_blocks), it.end_s - it.start_s});
      if (i + 1 == iterations.size() || iterations[i + 1].start_s > it.end_s) {
        data += format_row({it.end_s, 0, 0, 0, 0, NAN});  // idle
      }
    }
  } else {
    const double end = iterations.back().end_s;
    const double width = end / static_cast<double>(max_rows);
    std::vector<Row> bins(max_rows);
    std::vector<double> duration_sum(max_rows, 0), starts(max_rows, 0);
    for (const IterationRecord& it : iterations) {
      const auto first = static_cast<std::size_t>(
          std::min<double>(static_cast<double>(max_rows - 1), std::floor(it.start_s / width)));
      duration_sum[first] += it.end_s - it.start_s;
      starts[first] += 1;
      for (std::size_t b = first; b < max_rows; ++b) {
        const double lo = static_cast<double>(b) * width, hi = lo + width;
        const double overlap = std::min(hi, it.end_s) - std::max(lo, it.start_s);
        if (it.end_s <= lo) break;
        if (overlap <= 0) continue;
        const double share = overlap / width;
        bins[b].sequences += share * it.sequences;
        bins[b].running += share * it.running;
        bins[b].waiting += share * it.waiting;
        bins[b].kv_percent += share * percent(it.used_blocks);
      }
    }
    for (std::size_t b = 0; b < max_rows; ++b) {
      bins[b].time = static_cast<double>(b) * width;
      if (starts[b] > 0) bins[b].iteration_s = duration_sum[b] / starts[b];
      data += format_row(bins[b]);
    }
  }
  data += "\n\n# requests: first_token_s ttft_s finish_s e2e_s\n";
  const std::vector<RequestRecord>& requests = run.result.requests;
  const std::size_t step =
      requests.size() <= max_rows ? 1 : (requests.size() + max_rows - 1) / max_rows;
  for (std::size_t i = 0; i < requests.size(); i += step) {
    const RequestRecord& r = requests[i];
    data += fmt::format("{:.9g} {:.9g} {:.9g} {:.9g}\n", r.first_token_s,
                        r.first_token_s - r.arrival_s, r.finish_s, r.finish_s - r.arrival_s);
  }
  return data;
}

void plot_serving_run(const ServingRun& run, const PlotFiles& files, const std::string& title) {
  const std::string data = serving_plot_data(run);
  const std::string file = gnuplot_quote(files.data_name);
  std::string commands = "set multiplot layout 3,1 title " + gnuplot_quote(title) + "\n";
  commands += "set grid\nset key outside right top\nset xrange [0:*]\nset autoscale xfixmax\n";
  commands += "set lmargin 10\nset rmargin 26\n";  // the panels' axes line up
  commands += "set ylabel 'requests'\nset format x ''\nset yrange [0:*]\n";
  commands += "plot " + file + " index 0 using 1:2 with steps lw 1.5 title 'batch (sequences)', " +
              file + " index 0 using 1:3 with steps dt 2 title 'running', " + file +
              " index 0 using 1:4 with steps title 'waiting'\n";
  commands += "set ylabel 'KV cache (% of blocks)'\n";
  commands += "plot " + file + " index 0 using 1:5 with steps lc 4 title 'KV blocks used'\n";
  commands += "set format x '%g'\nset xlabel 'simulated time (s)'\n";
  commands += "set ylabel 'latency (s)'\nset logscale y\nset yrange [*:*]\n";
  commands += "plot " + file + " index 0 using 1:6 with lines lc 7 title 'iteration time', " +
              file +
              " index 1 using 1:2 with points pt 7 ps 0.3 lc 2 title 'TTFT (at first token)', " +
              file + " index 1 using 3:4 with points pt 7 ps 0.3 lc 1 title 'E2E (at finish)'\n";
  commands += "unset multiplot\n";
  render_plot(files, data, commands, title);
}

}  // namespace dfsim
