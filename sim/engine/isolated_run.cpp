#include "sim/engine/isolated_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

#include "sim/common/error.h"
#include "sim/engine/fd_io.h"
#include "sim/report/report.h"

namespace dfsim {

nlohmann::json run_in_child(const std::function<nlohmann::json()>& work) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    nlohmann::json reply;
    try {
      reply = {{"ok", true}, {"result", work()}};
    } catch (const InputError& error) {
      reply = {{"ok", false}, {"input_error", true}, {"error", error.what()}};
    } catch (const std::exception& error) {
      reply = {{"ok", false}, {"input_error", false}, {"error", error.what()}};
    }
    write_all(fds[1], reply.dump());
    ::close(fds[1]);
    ::_exit(0);  // no atexit handlers, no SystemC teardown in the child
  }
  ::close(fds[1]);
  std::string data = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    throw std::runtime_error(std::string("simulation process killed by signal ") +
                             std::to_string(WTERMSIG(status)) + " (" +
                             strsignal(WTERMSIG(status)) + ")");
  }
  nlohmann::json reply = nlohmann::json::parse(data, nullptr, false);
  if (reply.is_discarded() || !reply.contains("ok")) {
    throw std::runtime_error("simulation process exited without a result");
  }
  if (!reply["ok"].get<bool>()) {
    std::string message = reply["error"].get<std::string>();
    if (reply["input_error"].get<bool>()) throw InputError(message);
    throw std::runtime_error(message);
  }
  return reply["result"];
}

RunStats run_isolated(const RunRequest& request) {
  return run_stats_from_json(run_in_child([&] { return to_json(run_simulation(request)); }));
}

}  // namespace dfsim
