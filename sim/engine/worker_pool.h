// A pool of forked worker processes: job i runs in a child of its own (SystemC elaborates once
// per process, and a crash or a hang stays in that child), at most `workers` at a time. Each
// child hands its result back through a pipe; the parent polls the pipes, reaps the children,
// kills those that exceed the timeout, and stops cleanly when asked.
#pragma once

#include <csignal>
#include <cstddef>
#include <functional>
#include <string>

namespace dfsim {

struct WorkerOutcome {
  enum class Kind {
    kExited,    // the child returned; `exit_code` 0 when work() returned normally
    kSignaled,  // the child died of `signal` (a crash)
    kTimedOut,  // the parent killed it after the timeout
  };
  Kind kind = Kind::kExited;
  int exit_code = 0;
  int signal = 0;
  std::string output;      // what work() returned (complete only when kExited with code 0)
  std::string error_tail;  // the last bytes the child wrote to stderr
  double wall_s = 0;       // from fork to reaping
};

struct WorkerPoolOptions {
  int workers = 1;
  double timeout_s = 0;  // per job; 0: none
  // Set asynchronously (a signal handler): launch nothing more, kill the running children.
  const volatile std::sig_atomic_t* stop = nullptr;
};

// Runs jobs 0..count-1, each `work(i)` in a forked child whose stdout goes to /dev/null and
// whose stderr is captured. `on_done(i, outcome)` runs in the parent as each job ends, in
// completion order. Returns the number of jobs completed; fewer than `count` only when stopped
// (children killed for the stop are not reported). A child ignores SIGINT and SIGTERM (the
// parent decides) and dies with the parent (PR_SET_PDEATHSIG), so no orphan keeps running.
// CPUs this process may run on (what `nproc` prints; under Slurm, the job's allocation): the
// default number of workers.
int available_cpus();

std::size_t run_in_workers(std::size_t count, const WorkerPoolOptions& options,
                           const std::function<std::string(std::size_t)>& work,
                           const std::function<void(std::size_t, const WorkerOutcome&)>& on_done);

}  // namespace dfsim
