#include "sim/serving/serving_simulator.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace dfsim {

namespace {

std::vector<Request> in_arrival_order(std::vector<Request> requests) {
  double previous = 0;
  for (const Request& request : requests) {
    if (!(request.arrival_s >= previous) || !std::isfinite(request.arrival_s)) {
      throw std::invalid_argument("ServingSimulator: requests must be in arrival order from t = 0");
    }
    previous = request.arrival_s;
  }
  return requests;
}

}  // namespace

ServingSimulator::ServingSimulator(std::vector<Request> requests, const SchedulerConfig& config)
    : requests_(in_arrival_order(std::move(requests))), scheduler_(config, requests_) {
  result_.config = config;
  result_.requests.resize(requests_.size());
  for (std::size_t i = 0; i < requests_.size(); ++i) {
    RequestRecord& record = result_.requests[i];
    record.arrival_s = requests_[i].arrival_s;
    record.input_tokens = requests_[i].input_tokens;
    record.output_tokens = requests_[i].output_tokens;
    record.token_s.reserve(static_cast<std::size_t>(requests_[i].output_tokens));
  }
}

bool ServingSimulator::done() const {
  return finished_ == requests_.size();
}

std::optional<double> ServingSimulator::next_arrival_s() const {
  if (next_arrival_ >= requests_.size()) return std::nullopt;
  return requests_[next_arrival_].arrival_s;
}

std::optional<StepBatch> ServingSimulator::next_step(double now) {
  if (in_flight_) throw std::logic_error("ServingSimulator::next_step: a step is in flight");
  if (now < now_) throw std::logic_error("ServingSimulator::next_step: time went backwards");
  now_ = now;
  while (next_arrival_ < requests_.size() && requests_[next_arrival_].arrival_s <= now) {
    scheduler_.enqueue(static_cast<int>(next_arrival_++));
  }
  StepBatch batch = scheduler_.schedule();
  if (batch.sequences.empty()) {
    if (!scheduler_.idle()) {
      throw std::logic_error("ServingSimulator: requests are queued but no step could be formed");
    }
    return std::nullopt;
  }
  IterationRecord iteration;
  iteration.start_s = now;
  iteration.sequences = static_cast<int>(batch.sequences.size());
  for (const StepSequence& sequence : batch.sequences) {
    iteration.tokens += sequence.tokens;
    if (sequence.prefill) {
      iteration.prefill_tokens += sequence.tokens;
    } else {
      ++iteration.decodes;
    }
    RequestRecord& record = result_.requests[static_cast<std::size_t>(sequence.request)];
    if (record.first_scheduled_s < 0) record.first_scheduled_s = now;
  }
  iteration.used_blocks = scheduler_.blocks().used_blocks();
  iteration.running = scheduler_.running();
  iteration.waiting = scheduler_.waiting();
  result_.iterations.push_back(iteration);
  in_flight_ = std::move(batch);
  return in_flight_;
}

void ServingSimulator::step_done(double now) {
  if (!in_flight_) throw std::logic_error("ServingSimulator::step_done: no step in flight");
  if (!(now >= now_)) throw std::logic_error("ServingSimulator::step_done: ends before it began");
  now_ = now;
  result_.iterations.back().end_s = now;
  const Scheduler::Completion completion = scheduler_.complete(*in_flight_);
  in_flight_.reset();
  for (int id : completion.sampled) {
    RequestRecord& record = result_.requests[static_cast<std::size_t>(id)];
    if (record.token_s.empty()) record.first_token_s = now;
    record.token_s.push_back(now);
  }
  for (int id : completion.finished) {
    RequestRecord& record = result_.requests[static_cast<std::size_t>(id)];
    record.finish_s = now;
    record.preemptions = scheduler_.preemptions(id);
    ++finished_;
  }
  result_.preemptions = scheduler_.total_preemptions();
}

ServingResult run_serving(std::vector<Request> requests, const SchedulerConfig& config,
                          StepCost& cost) {
  ServingSimulator simulator(std::move(requests), config);
  double now = 0;
  while (!simulator.done()) {
    std::optional<StepBatch> step = simulator.next_step(now);
    if (!step) {
      const std::optional<double> arrival = simulator.next_arrival_s();
      if (!arrival) throw std::logic_error("run_serving: nothing to run and nothing to arrive");
      now = *arrival;
      continue;
    }
    const double seconds = cost.step_seconds(*step);
    if (!(seconds > 0) || !std::isfinite(seconds)) {
      throw std::logic_error("run_serving: a step cost " + std::to_string(seconds) + " s");
    }
    now += seconds;
    simulator.step_done(now);
  }
  return simulator.result();
}

}  // namespace dfsim
