// The knobs of an inference server's scheduler, named as TensorRT-LLM and vLLM name them:
// max_batch (max_batch_size / max_num_seqs), max_tokens (max_num_tokens /
// max_num_batched_tokens), chunked prefill, the KV block size and the capacity policy.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "sim/serving/request.h"

namespace dfsim {

// What the scheduler does when KV blocks run short.
enum class KvPolicy {
  // TensorRT-LLM's GUARANTEED_NO_EVICT capacity scheduler: a request is admitted only when the
  // blocks of its whole prompt + output (isl + osl tokens) are free beyond those the running
  // requests still need to finish, so no request is ever evicted.
  kGuaranteedNoEvict,
  // vLLM's preemption by recompute: blocks are allocated as tokens are computed; when they run
  // out the most recently admitted running request is preempted, its blocks freed, and it goes
  // back to the front of the queue to recompute its prompt and the tokens it had generated.
  kRecompute,
};

std::string_view kv_policy_name(KvPolicy policy);  // "no-evict", "recompute"
std::optional<KvPolicy> parse_kv_policy(std::string_view text);

struct SchedulerConfig {
  int max_batch = 256;    // requests holding KV blocks (admitted) at once
  int max_tokens = 8192;  // tokens in one iteration: prefill chunks + decode tokens
  int chunk = 0;          // longest prefill chunk of one request per iteration; 0: no chunking
  int block_tokens = 32;  // tokens per KV block
  int capacity_blocks = 1;
  KvPolicy policy = KvPolicy::kGuaranteedNoEvict;
};

// InputError naming the field when a value is out of range (all >= 1 but chunk >= 0).
void validate_scheduler_config(const SchedulerConfig& config);

// InputError when a request could never be served, which would otherwise leave it queued
// forever: its whole KV footprint exceeds the cache, or without chunked prefill its prompt (for
// recompute: prompt + generated tokens, which a preempted request recomputes at once) exceeds
// max_tokens. The message names the first such request (0-based) and the limit.
void check_requests_servable(const SchedulerConfig& config, const std::vector<Request>& requests);

}  // namespace dfsim
