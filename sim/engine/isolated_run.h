// Runs a simulation in a forked child process and returns its result: SystemC elaborates once
// per process, so anything that needs several simulations (comparisons, sweeps, benchmarks,
// tests) runs each one here. A child that fails reports its error; one that crashes is reported
// with its signal.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "sim/engine/run_request.h"

namespace dfsim {

// Runs `work` in a child process; its JSON result comes back through a pipe. An InputError in
// the child is rethrown as InputError here, anything else as std::runtime_error.
nlohmann::json run_in_child(const std::function<nlohmann::json()>& work);

// run_simulation() in a child process.
RunStats run_isolated(const RunRequest& request);

}  // namespace dfsim
