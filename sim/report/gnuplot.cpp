#include "sim/report/gnuplot.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "sim/common/atomic_file.h"
#include "sim/common/error.h"

namespace dfsim {

namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  write_file_atomically(path.string(), text, "");
}

// Runs `gnuplot script` in `directory`; returns its exit status and stderr.
std::pair<int, std::string> run_gnuplot(const std::string& directory, const std::string& script) {
  int err[2];
  if (::pipe(err) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(err[0]);
    ::dup2(err[1], STDERR_FILENO);
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(null_fd, STDOUT_FILENO);
    }
    if (::chdir(directory.c_str()) != 0) ::_exit(126);
    ::execlp("gnuplot", "gnuplot", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(err[1]);
  std::string messages;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(err[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    messages.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(err[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), messages};
}

std::string relative_to(const std::string& path, const fs::path& directory) {
  std::error_code error;
  fs::path relative = fs::relative(fs::absolute(path), directory, error);
  return error ? fs::absolute(path).string() : relative.string();
}

}  // namespace

PlotFiles plot_files(const std::string& svg, const std::string& png) {
  auto check = [](const std::string& path, const char* extension, const char* option) {
    if (!path.empty() && fs::path(path).extension() != extension) {
      throw InputError(std::string(option) + " " + path + ": expected a " + extension + " file");
    }
  };
  check(svg, ".svg", "--svg");
  check(png, ".png", "--png");
  if (svg.empty() && png.empty()) throw InputError("a plot needs --svg FILE or --png FILE");
  PlotFiles files;
  files.svg = svg;
  files.png = png;
  const fs::path image = fs::absolute(svg.empty() ? png : svg);
  files.directory = image.parent_path().string();
  files.data_name = image.stem().string() + ".dat";
  files.script_name = image.stem().string() + ".gp";
  return files;
}

std::string gnuplot_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';  // gnuplot doubles a quote inside '...'
    quoted += c;
  }
  return quoted + "'";
}

void render_plot(const PlotFiles& files, const std::string& data, const std::string& commands,
                 const std::string& title) {
  const fs::path directory(files.directory);
  std::string script = "# " + title + "\n# Written by dfsim with " + files.data_name +
                       "; restyle and re-run with: gnuplot " + files.script_name +
                       " (in this directory)\n";
  // The commands once per image, not `replot`, which repeats only the last panel of a
  // multiplot.
  auto output = [&](const std::string& path, const std::string& terminal) {
    script += terminal + "\nset output " + gnuplot_quote(relative_to(path, directory)) + "\n";
    script += commands;
  };
  // noenhanced: kernel names like qkv_proj must not turn into subscripts.
  if (!files.svg.empty()) {
    output(files.svg,
           "set terminal svg size 1000,680 dynamic noenhanced font 'sans,12' background rgb "
           "'white'");
  }
  if (!files.png.empty()) {
    output(files.png,
           "set terminal pngcairo size 1400,952 noenhanced font 'sans,13' background rgb 'white'");
  }
  script += "set output\n";
  write_text(directory / files.data_name, data);
  write_text(directory / files.script_name, script);
  auto [status, messages] = run_gnuplot(files.directory, files.script_name);
  if (status == 127) {
    throw std::runtime_error("gnuplot not found (install gnuplot-nox; scripts/setup.sh does); " +
                             (directory / files.script_name).string() +
                             " and its data are written");
  }
  if (status != 0) {
    std::string first_line = messages.substr(0, messages.find_last_not_of("\n ") + 1);
    throw std::runtime_error("gnuplot failed on " + (directory / files.script_name).string() +
                             ": " + first_line);
  }
}

}  // namespace dfsim
