// `dfsim serving --plot F.svg|F.png`: a serving run over simulated time, drawn by gnuplot in
// three panels on one time axis: the batch (sequences per iteration, running and waiting
// requests), the KV cache's use (% of its blocks), and latency (each iteration's duration, each
// request's TTFT at its first token and E2E latency at its finish, log scale).
#pragma once

#include <string>

#include "sim/engine/serving_run.h"
#include "sim/report/gnuplot.h"

namespace dfsim {

// The plot's data file. Data set 0: one row per iteration (start_s, sequences, running,
// waiting, kv_percent, iteration_s), with a row of zeros where the server idles; runs of more
// than `max_rows` iterations are averaged over `max_rows` equal time bins instead (weighted by
// the time each iteration spends in a bin, idle time counting as 0; iteration_s is the mean of
// the iterations that start in the bin). Data set 1: one row per request (first_token_s,
// ttft_s, finish_s, e2e_s), every k-th request when there are more than `max_rows`.
std::string serving_plot_data(const ServingRun& run, std::size_t max_rows = 2000);

// Writes the data and script beside the image(s) and runs gnuplot.
void plot_serving_run(const ServingRun& run, const PlotFiles& files, const std::string& title);

}  // namespace dfsim
