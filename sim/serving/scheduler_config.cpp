#include "sim/serving/scheduler_config.h"

#include <string>

#include "sim/common/error.h"

namespace dfsim {

std::string_view kv_policy_name(KvPolicy policy) {
  return policy == KvPolicy::kGuaranteedNoEvict ? "no-evict" : "recompute";
}

std::optional<KvPolicy> parse_kv_policy(std::string_view text) {
  if (text == "no-evict") return KvPolicy::kGuaranteedNoEvict;
  if (text == "recompute") return KvPolicy::kRecompute;
  return std::nullopt;
}

namespace {

void require_minimum(const char* name, int value, int minimum) {
  if (value < minimum) {
    throw InputError(std::string(name) + ": expected an integer >= " + std::to_string(minimum) +
                     ", got " + std::to_string(value));
  }
}

long long blocks_for(long long tokens, int block_tokens) {
  return (tokens + block_tokens - 1) / block_tokens;
}

}  // namespace

void validate_scheduler_config(const SchedulerConfig& config) {
  require_minimum("max_batch", config.max_batch, 1);
  require_minimum("max_tokens", config.max_tokens, 1);
  require_minimum("chunk", config.chunk, 0);
  require_minimum("block", config.block_tokens, 1);
  require_minimum("kv_blocks", config.capacity_blocks, 1);
}

void check_requests_servable(const SchedulerConfig& config, const std::vector<Request>& requests) {
  validate_scheduler_config(config);
  const bool recompute = config.policy == KvPolicy::kRecompute;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const Request& request = requests[i];
    const std::string which = "request " + std::to_string(i) + " (" +
                              std::to_string(request.input_tokens) + " in, " +
                              std::to_string(request.output_tokens) + " out)";
    // No-evict reserves isl + osl; recompute at most ever caches isl + osl - 1 (the last token
    // is sampled, never fed back).
    const long long footprint =
        static_cast<long long>(request.input_tokens) + request.output_tokens - (recompute ? 1 : 0);
    const long long blocks = blocks_for(footprint, config.block_tokens);
    if (blocks > config.capacity_blocks) {
      throw InputError("kv_blocks: " + which + " needs " + std::to_string(blocks) +
                       " KV blocks of " + std::to_string(config.block_tokens) +
                       " tokens, more than the cache's " + std::to_string(config.capacity_blocks));
    }
    if (config.chunk == 0) {
      const long long prefill = recompute ? footprint : request.input_tokens;
      if (prefill > config.max_tokens) {
        throw InputError("max_tokens: " + which + " needs a prefill of " + std::to_string(prefill) +
                         " tokens in one iteration, more than " +
                         std::to_string(config.max_tokens) + "; raise it or chunk the prefill");
      }
    }
  }
}

}  // namespace dfsim
