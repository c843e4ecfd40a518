// What is being run: a prompt processed at once (prefill) or tokens generated one step at a time
// (decode).
#pragma once

#include <cstdint>
#include <string_view>

namespace dfsim {

enum class PhaseKind { kPrefill, kDecode };

inline std::string_view phase_name(PhaseKind kind) {
  return kind == PhaseKind::kPrefill ? "prefill" : "decode";
}

struct Phase {
  PhaseKind kind = PhaseKind::kDecode;
  std::int64_t batch = 1;
  // Prefill: the prompt length. Decode: tokens already in the KV cache before the first step.
  std::int64_t context = 128;
  // Decode: steps simulated (one generated token per sequence each). Prefill: ignored (1 pass).
  std::int64_t tokens = 128;

  std::int64_t steps() const { return kind == PhaseKind::kPrefill ? 1 : tokens; }
};

// The shape of one forward step: `new_tokens` per sequence are processed with `past` tokens of
// each sequence already in the KV cache.
struct StepShape {
  std::int64_t batch = 1;
  std::int64_t new_tokens = 1;
  std::int64_t past = 0;
  bool prefill = false;  // logits only for the last position (what serving stacks compute)
};

inline StepShape step_shape(const Phase& phase, std::int64_t step) {
  if (phase.kind == PhaseKind::kPrefill) return {phase.batch, phase.context, 0, true};
  return {phase.batch, 1, phase.context + step, false};
}

}  // namespace dfsim
