// Iteration-level (in-flight, continuous) batching, as TensorRT-LLM and vLLM run it: before every
// iteration the scheduler decides which requests compute which tokens, admitting queued requests
// as KV blocks and the token budget allow; requests join and leave the batch between iterations.
//
// Each iteration, in this order (the token budget is max_tokens):
//  1. Running requests in decode, in admission order: 1 token each while budget lasts.
//     (Decodes before prefill chunks: TensorRT-LLM's MicroBatchScheduler schedules generation
//     requests first and chunks contexts into the capacity left; vLLM's chunked-prefill
//     scheduler and Sarathi-Serve do the same, which is what keeps inter-token latency flat.)
//  2. Running requests still in (chunked) prefill, in admission order: min(remaining, chunk,
//     budget) tokens each.
//  3. Queued requests, first come first served, while fewer than max_batch are admitted and
//     budget is left: a request's first chunk is min(prompt, chunk, budget) tokens; without
//     chunking its whole prompt must fit the budget. The first request that cannot be admitted
//     stops admission (both frameworks break there rather than skip ahead).
// KV blocks (kv_block_manager.h) are allocated for the tokens a step computes, before it runs
// (vLLM's allocate_slots). Under guaranteed-no-evict a request is admitted only when its isl + osl
// blocks fit in the free blocks less those the running requests still need to finish (TensorRT-LLM
// GuaranteedNoEvictScheduler with NoEvictScheduledBlocksManager), so growth never fails. Under
// recompute a step that cannot get its blocks preempts the most recently admitted running request
// (vLLM v1 Scheduler.schedule: self.running.pop()), possibly itself; a preempted request loses its
// blocks and goes to the front of the queue to recompute prompt + generated tokens; no queued
// request is admitted in an iteration that preempted (as vLLM).
// Sources: vllm/v1/core/sched/scheduler.py (Scheduler.schedule, _preempt_request), TensorRT-LLM
// cpp/tensorrt_llm/batch_manager/capacityScheduler.cpp and microBatchScheduler.cpp.
//
// A request's progress: `computed` tokens have KV cached, `generated` tokens were sampled. It
// knows input_tokens + generated tokens; a step that makes computed reach that number samples one
// more token. The prefill's last chunk samples the first output token, each decode one more; the
// request finishes when generated == output_tokens (its last token is never fed back, so it caches
// at most isl + osl - 1 tokens).
#pragma once

#include <deque>
#include <vector>

#include "sim/serving/kv_block_manager.h"
#include "sim/serving/request.h"
#include "sim/serving/scheduler_config.h"
#include "sim/serving/step_batch.h"

namespace dfsim {

class Scheduler {
 public:
  // The requests must outlive the scheduler. Validates the config and that every request is
  // servable (scheduler_config.h); InputError otherwise.
  Scheduler(const SchedulerConfig& config, const std::vector<Request>& requests);

  // Request `id` has arrived: it joins the back of the queue.
  void enqueue(int id);

  // Decides the next iteration and allocates its KV blocks. Empty only when nothing is queued or
  // running. Must be followed by complete() with the same batch before the next schedule().
  StepBatch schedule();

  // What completing a step did.
  struct Completion {
    std::vector<int> sampled;   // requests that got one more output token
    std::vector<int> finished;  // requests that got their last one (a subset of sampled)
  };
  // The step has run: advances each sequence, samples tokens, frees finished requests' blocks.
  Completion complete(const StepBatch& batch);

  bool idle() const { return running_.empty() && waiting_.empty(); }
  int running() const { return static_cast<int>(running_.size()); }
  int waiting() const { return static_cast<int>(waiting_.size()); }
  const KvBlockManager& blocks() const { return blocks_; }
  const SchedulerConfig& config() const { return config_; }
  int generated(int id) const { return progress_[static_cast<std::size_t>(id)].generated; }
  int preemptions(int id) const { return progress_[static_cast<std::size_t>(id)].preemptions; }
  int total_preemptions() const { return total_preemptions_; }

 private:
  struct Progress {
    long long computed = 0;
    int generated = 0;
    int preemptions = 0;
    bool finished = false;
  };

  long long known_tokens(int id) const;
  bool decoding(int id) const;
  StepSequence sequence_step(int id, int tokens) const;
  // No-evict: blocks the running requests still need to reach isl + osl tokens.
  long long blocks_reserved_by_running() const;
  // Recompute: frees and requeues the most recently admitted running request; returns its id.
  int preempt_last(StepBatch& batch, long long& budget);

  SchedulerConfig config_;
  const std::vector<Request>& requests_;
  KvBlockManager blocks_;
  std::vector<Progress> progress_;
  std::vector<int> running_;  // admission order
  std::deque<int> waiting_;
  int total_preemptions_ = 0;
  bool in_flight_ = false;
};

}  // namespace dfsim
