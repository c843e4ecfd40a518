#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "sim/cli/commands.h"
#include "sim/common/error.h"

namespace dfsim {

int dfsim_main(int argc, char** argv) {
  // Before any SystemC object exists: dfsim's output stays free of SystemC's banner.
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  // A file-size limit (ulimit -f) then fails the write with EFBIG, which is reported like a full
  // disk, instead of killing dfsim in the middle of a row.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{
      "dfsim: a simulator and performance model of LLM inference on accelerators.\n"
      "Maps transformer workload graphs onto SystemC hardware models and reports time,\n"
      "cycles, bandwidth utilization and synchronization overhead.",
      "dfsim"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dfsim 0.1.0");
  std::map<CLI::App*, Action> actions;
  auto add = [&](Action (*adder)(CLI::App&)) {
    std::size_t before = app.get_subcommands({}).size();
    Action action = adder(app);
    actions[app.get_subcommands({}).at(before)] = std::move(action);
  };
  add(add_run_command);
  add(add_list_command);
  add(add_bench_command);
  add(add_estimate_command);
  add(add_sweep_command);
  add(add_merge_command);
  add(add_roofline_command);
  add(add_validate_command);
  add(add_calibrate_command);
  add(add_quantize_eval_command);
  add(add_serving_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);  // --help, --version
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "dfsim: error: %s\n", error.what());
    std::fprintf(stderr, "Run 'dfsim --help' for usage.\n");
    return kExitBadInput;
  }
  // A report that did not reach stdout (a full disk, a closed pipe) is an error, not exit 0.
  auto flushed = [](int code) {
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::fprintf(stderr, "dfsim: error: stdout: cannot write: %s\n", std::strerror(errno));
      return code == 0 ? 1 : code;
    }
    return code;
  };
  try {
    for (auto& [subcommand, action] : actions) {
      if (subcommand->parsed()) return flushed(action());
    }
  } catch (const InputError& error) {
    std::fprintf(stderr, "dfsim: error: %s\n", error.what());
    return kExitBadInput;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "dfsim: internal error: %s\n", error.what());
    return 1;
  }
  return 1;
}

}  // namespace dfsim
