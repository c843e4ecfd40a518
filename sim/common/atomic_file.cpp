#include "sim/common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "sim/common/error.h"

namespace dfsim {

void write_file_atomically(const std::string& path, const std::string& text,
                           const std::string& option) {
  const std::string name = option.empty() ? path : option + " " + path;
  auto fail = [&](int error) -> void {
    throw InputError(name + ": cannot write: " + std::strerror(error));
  };
  // mkstemp: two dfsim processes writing the same output never share a temporary.
  std::string pattern = path + ".tmp.XXXXXX";
  std::vector<char> temporary(pattern.begin(), pattern.end());
  temporary.push_back('\0');
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) fail(errno);
  auto abandon = [&](int error) {
    ::close(fd);
    ::unlink(temporary.data());
    fail(error);
  };
  // mkstemp creates 0600; an output file gets the usual 0666 & ~umask.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) abandon(errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) abandon(n < 0 ? errno : ENOSPC);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 && errno != EINVAL) abandon(errno);
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temporary.data());
    fail(error);
  }
  if (std::rename(temporary.data(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.data());
    fail(error);
  }
}

}  // namespace dfsim
