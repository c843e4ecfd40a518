// Helpers shared by the test files: scratch directories, whole-file I/O, and running the dfsim
// binary the way a user does (through the shell, in a directory, capturing both streams).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace dfsim::testing {

// The message of the `Error` that `action` throws, or "(no error)" when it returns; any other
// exception propagates (and fails the test).
template <typename Error>
std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("dfsim-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `text` to `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::trunc | std::ios::binary) << text;
    return file(name);
  }

 private:
  fs::path path_;
};

inline std::string read_text(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

inline void write_text(const fs::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::trunc | std::ios::binary);
  file << text;
  REQUIRE(file.good());
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `dfsim <args>` in `dir` (args go through the shell as written) and collects stdout,
// stderr and the exit code. A run killed by a signal fails the test.
inline Outcome run_dfsim(const TempDir& dir, const std::string& args) {
  const fs::path out = dir.path() / "dfsim.stdout";
  const fs::path err = dir.path() / "dfsim.stderr";
  const std::string command = "cd '" + dir.path().string() + "' && '" DFSIM_BINARY "' " + args +
                              " >'" + out.string() + "' 2>'" + err.string() + "'";
  const int status = std::system(command.c_str());
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  Outcome outcome{WEXITSTATUS(status), read_text(out), read_text(err)};
  fs::remove(out);
  fs::remove(err);
  return outcome;
}

}  // namespace dfsim::testing
