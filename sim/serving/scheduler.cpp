#include "sim/serving/scheduler.h"

#include <algorithm>
#include <stdexcept>

namespace dfsim {

Scheduler::Scheduler(const SchedulerConfig& config, const std::vector<Request>& requests)
    : config_(config),
      requests_(requests),
      // Validated before the block manager sees the numbers, so bad input is an InputError.
      blocks_((check_requests_servable(config, requests), config.block_tokens),
              config.capacity_blocks),
      progress_(requests.size()) {}

void Scheduler::enqueue(int id) {
  if (id < 0 || static_cast<std::size_t>(id) >= requests_.size()) {
    throw std::out_of_range("Scheduler::enqueue: no request " + std::to_string(id));
  }
  waiting_.push_back(id);
}

long long Scheduler::known_tokens(int id) const {
  return requests_[static_cast<std::size_t>(id)].input_tokens +
         static_cast<long long>(progress_[static_cast<std::size_t>(id)].generated);
}

bool Scheduler::decoding(int id) const {
  const Progress& progress = progress_[static_cast<std::size_t>(id)];
  return progress.generated >= 1 && progress.computed == known_tokens(id) - 1;
}

StepSequence Scheduler::sequence_step(int id, int tokens) const {
  const Progress& progress = progress_[static_cast<std::size_t>(id)];
  StepSequence sequence;
  sequence.request = id;
  sequence.tokens = tokens;
  sequence.context = progress.computed;
  sequence.samples = progress.computed + tokens == known_tokens(id);
  sequence.prefill = !decoding(id);
  return sequence;
}

long long Scheduler::blocks_reserved_by_running() const {
  long long reserved = 0;
  for (int id : running_) {
    const Request& request = requests_[static_cast<std::size_t>(id)];
    reserved += blocks_.blocks_needed(
        id, static_cast<long long>(request.input_tokens) + request.output_tokens);
  }
  return reserved;
}

int Scheduler::preempt_last(StepBatch& batch, long long& budget) {
  const int victim = running_.back();
  running_.pop_back();
  auto scheduled = std::find_if(batch.sequences.begin(), batch.sequences.end(),
                                [&](const StepSequence& s) { return s.request == victim; });
  if (scheduled != batch.sequences.end()) {  // scheduled earlier in this iteration: undo it
    budget += scheduled->tokens;
    batch.sequences.erase(scheduled);
  }
  blocks_.free(victim);
  Progress& progress = progress_[static_cast<std::size_t>(victim)];
  progress.computed = 0;  // its generated tokens are kept; they become part of the prompt
  ++progress.preemptions;
  ++total_preemptions_;
  waiting_.push_front(victim);
  return victim;
}

StepBatch Scheduler::schedule() {
  if (in_flight_) throw std::logic_error("Scheduler::schedule: the previous step is not complete");
  StepBatch batch;
  long long budget = config_.max_tokens;
  bool preempted = false;

  // Blocks for `tokens` cached tokens of running request `id`; false when `id` itself had to be
  // preempted to find them.
  auto grow = [&](int id, long long tokens) {
    while (!blocks_.grow_to(id, tokens)) {
      if (config_.policy == KvPolicy::kGuaranteedNoEvict) {
        throw std::logic_error("Scheduler: a no-evict request could not grow into its reservation");
      }
      preempted = true;
      if (preempt_last(batch, budget) == id) return false;
    }
    return true;
  };

  // 1. Decodes. Preemption only removes requests from the back of running_, at or after i.
  for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
    const int id = running_[i];
    if (!decoding(id)) continue;
    if (!grow(id, progress_[static_cast<std::size_t>(id)].computed + 1)) continue;
    batch.sequences.push_back(sequence_step(id, 1));
    budget -= 1;
  }

  // 2. Prefills in progress (chunked).
  for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
    const int id = running_[i];
    if (decoding(id)) continue;
    const long long computed = progress_[static_cast<std::size_t>(id)].computed;
    const long long remaining = known_tokens(id) - computed;
    long long tokens = std::min(remaining, budget);
    if (config_.chunk > 0) tokens = std::min<long long>(tokens, config_.chunk);
    if (config_.chunk == 0 && tokens < remaining) continue;  // cannot happen: whole at admission
    if (!grow(id, computed + tokens)) continue;
    batch.sequences.push_back(sequence_step(id, static_cast<int>(tokens)));
    budget -= tokens;
  }

  // 3. Admission, first come first served.
  if (!preempted) {
    long long available = blocks_.free_blocks() - blocks_reserved_by_running();
    while (!waiting_.empty() && budget > 0 &&
           static_cast<int>(running_.size()) < config_.max_batch) {
      const int id = waiting_.front();
      const Request& request = requests_[static_cast<std::size_t>(id)];
      const long long remaining = known_tokens(id);
      long long tokens = std::min(remaining, budget);
      if (config_.chunk > 0) tokens = std::min<long long>(tokens, config_.chunk);
      if (config_.chunk == 0 && tokens < remaining) break;
      if (config_.policy == KvPolicy::kGuaranteedNoEvict) {
        const long long whole = blocks_.blocks_for(static_cast<long long>(request.input_tokens) +
                                                   request.output_tokens);
        if (whole > available) break;
        available -= whole;
      }
      if (!blocks_.grow_to(id, tokens)) break;
      waiting_.pop_front();
      running_.push_back(id);
      batch.sequences.push_back(sequence_step(id, static_cast<int>(tokens)));
      budget -= tokens;
    }
  }

  in_flight_ = !batch.sequences.empty();
  return batch;
}

Scheduler::Completion Scheduler::complete(const StepBatch& batch) {
  if (!in_flight_) throw std::logic_error("Scheduler::complete: no step was scheduled");
  in_flight_ = false;
  Completion completion;
  for (const StepSequence& sequence : batch.sequences) {
    Progress& progress = progress_[static_cast<std::size_t>(sequence.request)];
    progress.computed += sequence.tokens;
    if (progress.computed != known_tokens(sequence.request)) continue;
    ++progress.generated;
    completion.sampled.push_back(sequence.request);
    if (progress.generated == requests_[static_cast<std::size_t>(sequence.request)].output_tokens) {
      completion.finished.push_back(sequence.request);
      progress.finished = true;
      blocks_.free(sequence.request);
    }
  }
  if (!completion.finished.empty()) {
    std::erase_if(running_,
                  [&](int id) { return progress_[static_cast<std::size_t>(id)].finished; });
  }
  return completion;
}

}  // namespace dfsim
