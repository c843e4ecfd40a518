// Kernel looping (arXiv 2410.23668) as a transform on a Program. A run of consecutive kernels
// that run the same program on different weights (equal signatures: the identical decoder
// layers) becomes one kernel call with a pipelined outer loop: no drain, launch or refill
// between iterations, and the next iteration's weights stream in while the current one computes.
// Layers that differ (per-layer overrides) break the run: each identical run loops on its own
// and the odd layers stay separate calls (partial looping).
//
// On a GPU the same transform is a persistent megakernel: the whole forward step is one launch,
// kernel boundaries become grid-wide barriers.
//
// The transform only marks kernels as continuing a loop; it never changes FLOPs or bytes.
#pragma once

#include <optional>
#include <string>

#include "sim/mapping/program.h"

namespace dfsim {

enum class LoopingMode {
  kOff,   // every kernel is its own call
  kOn,    // loop; an error if the program has nothing to loop
  kAuto,  // loop where legal, leave the rest
};

std::string_view looping_mode_name(LoopingMode mode);
std::optional<LoopingMode> parse_looping_mode(std::string_view text);

enum class LoopScope {
  kIdenticalRuns,  // dataflow: runs of kernels with equal signatures
  kWholeStep,      // GPU megakernel: every kernel of the step in one launch
};

struct LoopingResult {
  std::int64_t loops = 0;               // kernel calls that now loop
  std::int64_t removed_boundaries = 0;  // kernel calls that disappeared
};

// Throws InputError for kOn when nothing can be looped.
LoopingResult apply_kernel_looping(Program& program, LoopingMode mode, LoopScope scope);

}  // namespace dfsim
