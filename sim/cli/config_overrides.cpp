#include "sim/cli/config_overrides.h"

#include <utility>

#include "sim/config/tensor_parallel.h"

namespace dfsim {

std::vector<Override> command_overrides(const std::vector<std::string>& sets, bool tp_given, int tp,
                                        const std::string& hw, const std::string& model) {
  std::vector<Override> overrides;
  for (const std::string& text : sets) overrides.push_back(parse_override(text));
  if (!tp_given) return overrides;
  return tensor_parallel_overrides(hw, model, tp, std::move(overrides));
}

}  // namespace dfsim
