#include "sim/cli/output_file.h"

#include <cstdio>
#include <fstream>

#include "sim/common/error.h"

namespace dfsim {

void write_file_atomically(const std::string& path, const std::string& text,
                           const std::string& option) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc | std::ios::binary);
    file << text;
    if (!file) throw InputError(option + " " + path + ": cannot write");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw InputError(option + " " + path + ": cannot write");
  }
}

void write_output(const std::string& path, const std::string& text, const std::string& option) {
  if (path.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_file_atomically(path, text, option);
  }
}

}  // namespace dfsim
