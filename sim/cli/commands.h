// The subcommands of `dfsim`. Each registers its options on the CLI11 app and returns the
// action to run once parsing succeeded.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace dfsim {

using Action = std::function<int()>;

Action add_run_command(CLI::App& app);
Action add_list_command(CLI::App& app);
Action add_bench_command(CLI::App& app);
Action add_estimate_command(CLI::App& app);
Action add_sweep_command(CLI::App& app);
Action add_merge_command(CLI::App& app);
Action add_roofline_command(CLI::App& app);
Action add_validate_command(CLI::App& app);
Action add_calibrate_command(CLI::App& app);
Action add_quantize_eval_command(CLI::App& app);
Action add_serving_command(CLI::App& app);

// Parses the command line and runs the chosen subcommand; returns the process exit code.
// Bad input of any kind prints one line "dfsim: error: ..." and returns 2.
int dfsim_main(int argc, char** argv);

}  // namespace dfsim
