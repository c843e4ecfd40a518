// Output files are written to a temporary name beside the target and renamed over it, so a
// reader, a crash half-way or a full disk never leaves half a file behind (the old file, if any,
// stays as it was).
#pragma once

#include <string>

namespace dfsim {

// Writes `text` to `path` through a unique temporary file in the same directory (flushed to disk
// before the rename). A failure removes the temporary and is an InputError
// "<option> <path>: cannot write: <reason>" (just "<path>: ..." when `option` is empty).
void write_file_atomically(const std::string& path, const std::string& text,
                           const std::string& option);

}  // namespace dfsim
