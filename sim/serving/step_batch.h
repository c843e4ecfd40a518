// What one iteration of the server computes, as a plain value: the scheduler's output, and the
// input of whatever prices a step (step_cost.h). A sequence in a step is a prefill chunk
// (tokens >= 1 at its context) or a decode (1 token); the cost of the step depends on the
// tokens (matmuls over their sum) and on each sequence's context (attention).
#pragma once

#include <vector>

namespace dfsim {

struct StepSequence {
  int request = 0;        // index of the request in the run
  int tokens = 1;         // tokens computed this step: a prefill chunk's length, or 1
  long long context = 0;  // tokens already in its KV cache before the step
  bool samples = false;   // whether the step ends with a sampled token (the logits are needed
                          // only then: a decode, or a prefill's last chunk)
  bool prefill = false;   // computing its prompt (or recomputing after a preemption)
};

struct StepBatch {
  std::vector<StepSequence> sequences;

  long long total_tokens() const {
    long long total = 0;
    for (const StepSequence& sequence : sequences) total += sequence.tokens;
    return total;
  }
};

}  // namespace dfsim
