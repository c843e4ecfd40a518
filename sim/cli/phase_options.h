// How the commands read the length of a phase from --context and --prompt: decode starts from
// --context cached tokens (or the --prompt that was prefilled), prefill processes --prompt tokens
// (or --context when only it is given). -1 means "not given".
#pragma once

#include <cstdint>

#include "sim/workload/phase.h"

namespace dfsim {

inline constexpr std::int64_t kDefaultDecodeContext = 128;
inline constexpr std::int64_t kDefaultPrefillPrompt = 512;

inline std::int64_t phase_length(PhaseKind kind, std::int64_t context, std::int64_t prompt) {
  if (kind == PhaseKind::kPrefill) {
    return prompt >= 0 ? prompt : context >= 0 ? context : kDefaultPrefillPrompt;
  }
  return context >= 0 ? context : prompt >= 0 ? prompt : kDefaultDecodeContext;
}

}  // namespace dfsim
