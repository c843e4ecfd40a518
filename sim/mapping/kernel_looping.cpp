#include "sim/mapping/kernel_looping.h"

#include "sim/common/error.h"

namespace dfsim {

std::string_view looping_mode_name(LoopingMode mode) {
  switch (mode) {
    case LoopingMode::kOff: return "off";
    case LoopingMode::kOn: return "on";
    case LoopingMode::kAuto: return "auto";
  }
  return "?";
}

std::optional<LoopingMode> parse_looping_mode(std::string_view text) {
  if (text == "off") return LoopingMode::kOff;
  if (text == "on") return LoopingMode::kOn;
  if (text == "auto") return LoopingMode::kAuto;
  return std::nullopt;
}

LoopingResult apply_kernel_looping(Program& program, LoopingMode mode, LoopScope scope) {
  LoopingResult result;
  if (mode == LoopingMode::kOff) return result;
  std::vector<Kernel>& kernels = program.kernels;
  for (std::size_t i = 1; i < kernels.size(); ++i) {
    bool joins = scope == LoopScope::kWholeStep ||
                 (kernels[i].signature == kernels[i - 1].signature && kernels[i].layer >= 0);
    if (!joins) continue;
    if (!kernels[i - 1].continues_loop) ++result.loops;
    kernels[i].continues_loop = true;
    ++result.removed_boundaries;
  }
  if (mode == LoopingMode::kOn && result.loops == 0) {
    throw InputError(
        "--looping on: the program has no run of identical kernels to loop (use --looping auto "
        "to allow that)");
  }
  return result;
}

}  // namespace dfsim
