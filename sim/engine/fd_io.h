// Whole-buffer reads and writes on file descriptors (pipes to and from worker processes),
// retried across EINTR and short transfers.
#pragma once

#include <string>

namespace dfsim {

// Writes all of `data`; stops silently if the other end has gone (the caller learns of it from
// the child's exit status).
void write_all(int fd, const std::string& data);

// Reads until end of file.
std::string read_all(int fd);

}  // namespace dfsim
