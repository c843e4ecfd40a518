// What is being run: a prompt processed at once (prefill) or tokens generated one step at a time
// (decode).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace dfsim {

enum class PhaseKind { kPrefill, kDecode };

// The largest phases dfsim accepts (run, roofline, sweep). Far above any serving batch or context
// window, low enough that the products of shapes stay inside 64 bits; decode steps are capped
// by memory, since each step's program is kept (about 0.2 MB per step for an 8B model, 0.7 MB
// for 405B): 16384 steps stay within a few GB and minutes.
inline constexpr std::int64_t kMaxBatch = std::int64_t{1} << 20;
inline constexpr std::int64_t kMaxContext = std::int64_t{1} << 30;
inline constexpr std::int64_t kMaxDecodeSteps = std::int64_t{1} << 14;

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

// Sequences of a heterogeneous step (a serving iteration) that share one shape: `count`
// sequences each compute `new_tokens` tokens after `past` tokens already in their KV cache;
// `logits`: the step samples a token for each (a decode, or a prompt's last chunk), so the LM
// head runs on its last position.
struct SequenceGroup {
  std::int64_t count = 1;
  std::int64_t new_tokens = 1;
  std::int64_t past = 0;
  bool logits = true;
};

// The shape of one forward step: `new_tokens` per sequence are processed with `past` tokens of
// each sequence already in the KV cache. A serving iteration mixes shapes: then `groups` lists
// them and batch, new_tokens, past and prefill are ignored (the matmuls run over the sum of the
// groups' tokens, the attention per group at its own context).
struct StepShape {
  std::int64_t batch = 1;
  std::int64_t new_tokens = 1;
  std::int64_t past = 0;
  bool prefill = false;  // logits only for the last position (what serving stacks compute)
  // A static KV cache attended in full, its positions not yet written masked (gpt-fast's): the
  // attention reads and scores this many positions per sequence. 0: the positions written so
  // far (past + new_tokens).
  std::int64_t cache_positions = 0;
  // Empty: a uniform batch (the fields above).
  std::vector<SequenceGroup> groups = {};
};

inline StepShape step_shape(const Phase& phase, std::int64_t step) {
  if (phase.kind == PhaseKind::kPrefill) return {phase.batch, phase.context, 0, true};
  return {phase.batch, 1, phase.context + step, false};
}

}  // namespace dfsim
