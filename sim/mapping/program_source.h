// Where a machine takes its steps from, one at a time: a fixed list (dfsim run: every step known
// before the run) or a callback that decides the next step when the previous one ends (a serving
// loop: its scheduler needs the simulated time at which each iteration finished).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "sim/mapping/program.h"

namespace dfsim {

// What a machine does next.
struct NextProgram {
  // The step to run; the pointer stays valid until the source is asked again.
  const Program* program = nullptr;
  // No program: wait until this simulated time (seconds) and ask again when it is later than
  // now (the server idles until the next request arrives); otherwise the run is over.
  double idle_until = 0;
};

class ProgramSource {
 public:
  virtual ~ProgramSource() = default;
  // Called by the machine at simulated time `now` (seconds), when the previous step has ended.
  virtual NextProgram next(double now) = 0;
  // Whether the trace keeps every kernel's record and the DRAM rate log
  // (SimulationTrace::record_kernels).
  virtual bool record_kernels() const { return true; }
};

// The steps of a list, in order.
class ProgramList final : public ProgramSource {
 public:
  explicit ProgramList(const std::vector<Program>& steps) : steps_(steps) {}
  NextProgram next(double /*now*/) override {
    if (next_ >= steps_.size()) return {};
    return {&steps_[next_++], 0};
  }

 private:
  const std::vector<Program>& steps_;
  std::size_t next_ = 0;
};

// The steps a function returns (a serving loop's).
class ProgramCallback final : public ProgramSource {
 public:
  explicit ProgramCallback(std::function<NextProgram(double)> next, bool record_kernels = true)
      : next_(std::move(next)), record_kernels_(record_kernels) {}
  NextProgram next(double now) override { return next_(now); }
  bool record_kernels() const override { return record_kernels_; }

 private:
  std::function<NextProgram(double)> next_;
  bool record_kernels_;
};

}  // namespace dfsim
