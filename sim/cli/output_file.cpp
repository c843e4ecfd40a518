#include "sim/cli/output_file.h"

#include <cstdio>

namespace dfsim {

void write_output(const std::string& path, const std::string& text, const std::string& option) {
  if (path.empty()) {
    std::fputs(text.c_str(), stdout);  // a failed write to stdout is reported by dfsim_main
  } else {
    write_file_atomically(path, text, option);
  }
}

}  // namespace dfsim
