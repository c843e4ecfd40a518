// The throughput-latency curves of a serving sweep (`dfsim sweep --plot latency`): for each
// combination of the inputs that vary other than the load (hardware, looping, ...), one curve
// through its points in point order (the order of the load axis's values as the grid gave them),
// at x = output tokens/s, in two panels: mean TTFT and mean ITL. A server's latency stays flat
// while its throughput follows the offered load and climbs once the throughput saturates.
#pragma once

#include <string>
#include <vector>

#include "sim/engine/sweep_table.h"
#include "sim/report/gnuplot.h"

namespace dfsim {

struct ServingCurvePoint {
  std::string load;  // the value of the load axis at this point ("4", "inf")
  double output_tokens_per_s = 0;
  double ttft_mean_s = 0;
  double itl_mean_s = 0;
};

struct ServingCurve {
  std::string label;  // "dgx-h100, looping off"; empty when nothing but the load varies
  std::vector<ServingCurvePoint> points;
};

struct ServingCurves {
  std::string along;  // the load axis: load.rate when it varies, else the first varying
                      // load.* / serving.* input ("" when none varies)
  std::vector<ServingCurve> curves;
  // What every point shares, for the title: "llama3.1-70b, 200 x (512 + 256) tokens" (the model
  // when only one, the load when its requests and lengths do not vary).
  std::string common;
};

// The curves of a serving sweep's rows with status ok, in point order. InputError when the file
// is not a serving sweep's or has no row with status ok.
ServingCurves serving_sweep_curves(const SweepFile& file);

// Draws them (two panels side by side: mean TTFT, log scale, and mean ITL over output tokens/s)
// with gnuplot; the data and script are written beside the image.
void plot_serving_sweep(const ServingCurves& curves, const PlotFiles& files,
                        const std::string& title);

}  // namespace dfsim
