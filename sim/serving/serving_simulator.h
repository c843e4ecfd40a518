// The serving loop: requests arrive, the scheduler forms iterations, something runs them, and each
// request's timestamps are recorded. It does not own time: whoever runs the steps drives it, so a
// SystemC machine can pull the next step when one ends inside a single elaboration:
//
//   while (!sim.done()) {
//     if (auto step = sim.next_step(now)) { run *step on the machine; now = its end;
//     sim.step_done(now); } else now = *sim.next_arrival_s();  // idle until the next request
//     arrives
//   }
//
// run_serving() is that loop for a cost model that is a plain function (StepCost).
#pragma once

#include <optional>
#include <vector>

#include "sim/serving/request.h"
#include "sim/serving/scheduler.h"
#include "sim/serving/scheduler_config.h"
#include "sim/serving/serving_result.h"
#include "sim/serving/step_batch.h"
#include "sim/serving/step_cost.h"

namespace dfsim {

class ServingSimulator {
 public:
  // Requests must be in arrival order (arrival_s >= 0, non-decreasing; std::invalid_argument
  // otherwise: readers enforce it for user input). The config and requests are checked as the
  // Scheduler does (InputError).
  ServingSimulator(std::vector<Request> requests, const SchedulerConfig& config);
  ServingSimulator(const ServingSimulator&) = delete;
  ServingSimulator& operator=(const ServingSimulator&) = delete;

  // At time `now`, queues the requests that have arrived and returns the next step, or nullopt
  // when there is nothing to run: done(), or idle until next_arrival_s(). `now` never decreases,
  // and a returned step must be finished with step_done() before the next call.
  std::optional<StepBatch> next_step(double now);
  // The step returned last ended at `now` (>= its start).
  void step_done(double now);

  bool done() const;
  // Arrival time of the next request not yet queued, if any.
  std::optional<double> next_arrival_s() const;

  const std::vector<Request>& requests() const { return requests_; }
  const Scheduler& scheduler() const { return scheduler_; }
  const std::vector<RequestRecord>& records() const { return result_.requests; }
  const std::vector<IterationRecord>& iterations() const { return result_.iterations; }
  // The records so far (all of them once done()).
  const ServingResult& result() const { return result_; }

 private:
  std::vector<Request> requests_;
  Scheduler scheduler_;
  ServingResult result_;
  std::size_t next_arrival_ = 0;  // index of the first request not yet queued
  std::size_t finished_ = 0;
  double now_ = 0;
  std::optional<StepBatch> in_flight_;
};

// Runs every request to completion, pricing each step with `cost`.
ServingResult run_serving(std::vector<Request> requests, const SchedulerConfig& config,
                          StepCost& cost);

}  // namespace dfsim
