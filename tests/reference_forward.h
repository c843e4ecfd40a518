// A naive forward pass of a llama-style decoder for the tests: one token at a time, plain loops,
// no tiles, no fusion, nothing shared with sim/functional's ops or executor except the weights.
// It rounds to the model's dtypes at the same points a serving stack stores tensors (each op's
// output), so programs can be compared with it closely.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/functional/model_weights.h"
#include "sim/workload/model_spec.h"

namespace dfsim::testing {

struct ReferenceRun {
  std::vector<std::int32_t> tokens;  // greedy: one after the prompt, then one per decode step
  std::vector<float> last_logits;    // the logits that chose the last token
};

ReferenceRun reference_generate(const ModelSpec& model, const functional::ModelWeights& weights,
                                const std::vector<std::int32_t>& prompt, int tokens);

}  // namespace dfsim::testing
