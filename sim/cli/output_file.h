// Where a command's report goes: stdout, or a file written atomically (sim/common/atomic_file.h).
#pragma once

#include <string>

#include "sim/common/atomic_file.h"

namespace dfsim {

// A command's report: to stdout when `path` is empty, else to the file, atomically.
void write_output(const std::string& path, const std::string& text, const std::string& option);

}  // namespace dfsim
