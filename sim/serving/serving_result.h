// What a serving run leaves behind: every request's timestamps and every iteration's state. The
// statistics (serving_stats.h) are pure functions of it.
#pragma once

#include <vector>

#include "sim/serving/scheduler_config.h"

namespace dfsim {

struct RequestRecord {
  double arrival_s = 0;
  double first_scheduled_s = -1;  // start of the first step that computed any of its tokens
  double first_token_s = -1;      // end of the step that sampled its first output token
  double finish_s = -1;           // end of the step that sampled its last one
  std::vector<double> token_s;    // when each output token was sampled; output_tokens entries
  int input_tokens = 0;
  int output_tokens = 0;
  int preemptions = 0;
};

struct IterationRecord {
  double start_s = 0;
  double end_s = 0;
  int sequences = 0;     // batch size of the step
  long long tokens = 0;  // tokens computed: prefill chunks + decodes
  long long prefill_tokens = 0;
  int decodes = 0;
  int used_blocks = 0;  // KV blocks held while the step runs
  int running = 0;      // requests admitted (holding blocks) during the step
  int waiting = 0;      // requests queued during the step
};

struct ServingResult {
  SchedulerConfig config;
  std::vector<RequestRecord> requests;
  std::vector<IterationRecord> iterations;
  int preemptions = 0;
};

}  // namespace dfsim
