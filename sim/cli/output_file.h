// Output files of the commands are written to a temporary name and renamed, so a reader (or a
// crash half-way) never leaves half a file behind.
#pragma once

#include <string>

namespace dfsim {

// Writes `text` to `path`; a failure is an InputError naming `option` and the path.
void write_file_atomically(const std::string& path, const std::string& text,
                           const std::string& option);

// A command's report: to stdout when `path` is empty, else to the file as above.
void write_output(const std::string& path, const std::string& text, const std::string& option);

}  // namespace dfsim
