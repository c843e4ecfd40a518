// The config overrides a command's --set and --tp options give (dfsim run, roofline, serving).
#pragma once

#include <string>
#include <vector>

#include "sim/config/catalog.h"

namespace dfsim {

// Each --set KEY=VALUE in order (parse_override), then, when --tp was given, hw.sockets=N after
// the tensor-parallel checks of `hw` and `model` (tensor_parallel_overrides; InputError naming
// --tp).
std::vector<Override> command_overrides(const std::vector<std::string>& sets, bool tp_given, int tp,
                                        const std::string& hw, const std::string& model);

}  // namespace dfsim
