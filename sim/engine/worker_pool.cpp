#include "sim/engine/worker_pool.h"

#include "sim/engine/fd_io.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace dfsim {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kErrorTailBytes = 4096;

struct Running {
  pid_t pid = -1;
  std::size_t job = 0;
  int out_fd = -1;  // the result
  int err_fd = -1;  // the child's stderr
  Clock::time_point start;
  std::string output;
  std::string error;
};

[[noreturn]] void run_child(std::size_t job, int out_fd, int err_fd, pid_t parent,
                            const std::function<std::string(std::size_t)>& work) {
  // The parent decides when a sweep stops (Ctrl-C reaches the whole process group): a child
  // killed by the terminal's SIGINT would otherwise be recorded as a crashed point.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGPIPE, SIG_DFL);
#ifdef __linux__
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(125);  // the parent died before prctl took effect
#endif
  int null_fd = ::open("/dev/null", O_WRONLY);
  if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  std::string result;
  int code = 0;
  try {
    result = work(job);
  } catch (const std::exception& error) {
    write_all(STDERR_FILENO, std::string(error.what()) + "\n");
    code = 3;
  } catch (...) {
    code = 3;
  }
  write_all(out_fd, result);
  ::_exit(code);  // no atexit handlers, no SystemC teardown, no flush of the parent's buffers
}

Running launch(std::size_t job, const std::function<std::string(std::size_t)>& work) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  Running child;
  child.job = job;
  child.start = Clock::now();
  child.pid = ::fork();
  if (child.pid < 0) {
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (child.pid == 0) {
    ::close(out[0]);
    ::close(err[0]);
    run_child(job, out[1], err[1], parent, work);
  }
  ::close(out[1]);
  ::close(err[1]);
  child.out_fd = out[0];
  child.err_fd = err[0];
  return child;
}

// Reads what is available; closes the descriptor at end of file.
void drain(int& fd, std::string& into, std::size_t keep_tail) {
  char buffer[65536];
  ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    ::close(fd);
    fd = -1;
    return;
  }
  into.append(buffer, static_cast<std::size_t>(n));
  if (keep_tail && into.size() > 2 * keep_tail) into.erase(0, into.size() - keep_tail);
}

void close_pipes(Running& child) {
  if (child.out_fd >= 0) ::close(child.out_fd);
  if (child.err_fd >= 0) ::close(child.err_fd);
  child.out_fd = child.err_fd = -1;
}

int wait_for(pid_t pid, int options) {
  int status = 0;
  for (;;) {
    pid_t result = ::waitpid(pid, &status, options);
    if (result < 0 && errno == EINTR) continue;
    if (result == 0) return -1;  // WNOHANG: still running
    return status;
  }
}

WorkerOutcome outcome_of(Running& child, int status) {
  WorkerOutcome outcome;
  if (WIFSIGNALED(status)) {
    outcome.kind = WorkerOutcome::Kind::kSignaled;
    outcome.signal = WTERMSIG(status);
  } else {
    outcome.kind = WorkerOutcome::Kind::kExited;
    outcome.exit_code = WEXITSTATUS(status);
  }
  outcome.output = std::move(child.output);
  outcome.error_tail = std::move(child.error);
  if (outcome.error_tail.size() > kErrorTailBytes) {
    outcome.error_tail.erase(0, outcome.error_tail.size() - kErrorTailBytes);
  }
  outcome.wall_s = std::chrono::duration<double>(Clock::now() - child.start).count();
  return outcome;
}

}  // namespace

int available_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}

std::size_t run_in_workers(std::size_t count, const WorkerPoolOptions& options,
                           const std::function<std::string(std::size_t)>& work,
                           const std::function<void(std::size_t, const WorkerOutcome&)>& on_done) {
  const std::size_t workers = static_cast<std::size_t>(std::max(1, options.workers));
  auto stopped = [&] { return options.stop != nullptr && *options.stop != 0; };
  std::vector<Running> running;
  std::size_t next = 0, done = 0;
  auto kill_all = [&] {
    for (Running& child : running) {
      ::kill(child.pid, SIGKILL);
      close_pipes(child);
      wait_for(child.pid, 0);
    }
    running.clear();
  };
  try {
    while (next < count || !running.empty()) {
      if (stopped()) break;
      while (running.size() < workers && next < count && !stopped()) {
        running.push_back(launch(next++, work));
      }
      // Sleep until a pipe has data, the nearest deadline, or 100 ms (to notice a stop request
      // that arrived just before poll()).
      std::vector<pollfd> fds;
      std::vector<std::pair<std::size_t, bool>> owners;  // (child, is stdout)
      int timeout_ms = 100;
      const auto now = Clock::now();
      for (std::size_t i = 0; i < running.size(); ++i) {
        if (running[i].out_fd >= 0) {
          fds.push_back({running[i].out_fd, POLLIN, 0});
          owners.emplace_back(i, true);
        }
        if (running[i].err_fd >= 0) {
          fds.push_back({running[i].err_fd, POLLIN, 0});
          owners.emplace_back(i, false);
        }
        if (running[i].out_fd < 0 && running[i].err_fd < 0) timeout_ms = std::min(timeout_ms, 5);
        if (options.timeout_s > 0) {
          auto deadline = running[i].start + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(options.timeout_s));
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
          timeout_ms =
              std::min<int>(timeout_ms, static_cast<int>(std::max<long long>(0, left + 1)));
        }
      }
      int ready = ::poll(fds.data(), fds.size(), timeout_ms);
      if (ready < 0 && errno != EINTR)
        throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
      for (std::size_t f = 0; ready > 0 && f < fds.size(); ++f) {
        if (fds[f].revents == 0) continue;
        Running& child = running[owners[f].first];
        if (owners[f].second) {
          drain(child.out_fd, child.output, 0);
        } else {
          drain(child.err_fd, child.error, kErrorTailBytes);
        }
      }
      // Reap children whose pipes are closed, and kill those past their deadline.
      for (std::size_t i = 0; i < running.size();) {
        Running& child = running[i];
        const double age = std::chrono::duration<double>(Clock::now() - child.start).count();
        if (child.out_fd < 0 && child.err_fd < 0) {
          int status = wait_for(child.pid, WNOHANG);
          if (status != -1) {
            WorkerOutcome outcome = outcome_of(child, status);
            std::size_t job = child.job;
            running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
            ++done;
            on_done(job, outcome);
            continue;
          }
        }
        if (options.timeout_s > 0 && age >= options.timeout_s) {
          ::kill(child.pid, SIGKILL);
          close_pipes(child);
          wait_for(child.pid, 0);
          WorkerOutcome outcome = outcome_of(child, 0);
          outcome.kind = WorkerOutcome::Kind::kTimedOut;
          outcome.signal = SIGKILL;
          outcome.exit_code = 0;
          std::size_t job = child.job;
          running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
          ++done;
          on_done(job, outcome);
          continue;
        }
        ++i;
      }
    }
  } catch (...) {
    kill_all();
    throw;
  }
  kill_all();
  return done;
}

}  // namespace dfsim
