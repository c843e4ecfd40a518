// Robustness: the last check on report values, atomic output files, a full disk (a file-size
// limit stands in for it: same write error, no root needed), absurd but well-formed inputs,
// sweeps whose parent or workers are killed, and output that does not depend on -j.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/common/atomic_file.h"
#include "sim/common/error.h"
#include "sim/config/config_tree.h"
#include "sim/engine/sweep_spec.h"
#include "sim/engine/sweep_table.h"
#include "sim/report/report_check.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using namespace dfsim::testing;

std::string runtime_message(const std::function<void()>& action) {
  return message_of<std::exception>(action);
}

// Lowers this process's file-size limit to `bytes` for its lifetime; a write past it fails with
// EFBIG (SIGXFSZ ignored, as dfsim_main does) like a write to a full disk fails with ENOSPC.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &previous_) == 0);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit previous_{};
  void (*previous_handler_)(int) = SIG_DFL;
};

std::vector<std::string> names_in(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Runs a shell script in `dir`; returns its exit status.
int shell(const TempDir& dir, const std::string& script) {
  const std::string command = "cd '" + dir.path().string() + "' && " + script;
  const int status = std::system(command.c_str());
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

// The rows of a sweep file, each as its line, sorted by point index, without the wall_s
// field (the only value that depends on the run).
std::vector<std::string> rows_without_wall_time(const std::string& path) {
  dfsim::SweepFile file = dfsim::read_sweep_file(path);
  std::vector<std::pair<std::size_t, std::string>> rows;
  for (const dfsim::SweepRow& row : file.rows) {
    json object = json::parse(row.text);
    object.erase("wall_s");
    rows.emplace_back(object.at("point_index").get<std::size_t>(), object.dump());
  }
  std::sort(rows.begin(), rows.end());
  std::vector<std::string> lines;
  for (auto& row : rows) lines.push_back(std::move(row.second));
  return lines;
}

std::set<std::string> point_ids(const std::string& path) {
  dfsim::SweepFile file = dfsim::read_sweep_file(path);
  const int column = file.column_index("point_id");
  std::set<std::string> ids;
  for (const dfsim::SweepRow& row : file.rows) ids.insert(row.values.at(column));
  return ids;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The report boundary

TEST_CASE("report values: NaN, infinity and negatives are refused, naming the field",
          "[robustness]") {
  json report = {
      {"time_s", 1.5},
      {"kernels", json::array({{{"layer", -1}, {"flops", 2.0}}, {{"layer", 3}, {"flops", 1.0}}})}};
  CHECK_NOTHROW(dfsim::check_report_values(report, "run report"));  // layer -1: "no layer"

  report["kernels"][1]["flops"] = std::numeric_limits<double>::quiet_NaN();
  CHECK(runtime_message([&] { dfsim::check_report_values(report, "run report"); }) ==
        "run report: kernels[1].flops is nan (every reported value must be finite and "
        "non-negative); an input is outside what the model handles, please report it with the "
        "command line");
  report["kernels"][1]["flops"] = 1.0;
  report["time_s"] = std::numeric_limits<double>::infinity();
  CHECK(runtime_message([&] {
          dfsim::check_report_values(report, "run report");
        }).rfind("run report: time_s is inf (", 0) == 0);
  report["time_s"] = -2e-9;
  CHECK(runtime_message([&] {
          dfsim::check_report_values(report, "x");
        }).rfind("x: time_s is -2e-09 (", 0) == 0);
  report["time_s"] = 1.0;
  report["kernels"][0]["calls"] = -3;
  CHECK(runtime_message([&] {
          dfsim::check_report_values(report, "x");
        }).rfind("x: kernels[0].calls is -3 (", 0) == 0);
}

// ---------------------------------------------------------------------------------------------
// Atomic output files and a full disk

TEST_CASE("write_file_atomically replaces the file whole and leaves no temporary", "[robustness]") {
  TempDir dir;
  const std::string path = dir.file("report.json");
  dfsim::write_file_atomically(path, "first\n", "--out");
  dfsim::write_file_atomically(path, "second\n", "--out");
  CHECK(read_text(path) == "second\n");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"report.json"});
  // The umask decides the mode, as for any file a shell redirection creates.
  const fs::perms perms = fs::status(path).permissions();
  CHECK((perms & fs::perms::owner_read) != fs::perms::none);

  CHECK(runtime_message([&] {
          dfsim::write_file_atomically(dir.file("missing/r.json"), "x", "--out");
        }) == "--out " + dir.file("missing/r.json") + ": cannot write: No such file or directory");
}

TEST_CASE("write_file_atomically on a full disk keeps the old file and says why", "[robustness]") {
  TempDir dir;
  const std::string path = dir.file("report.json");
  dfsim::write_file_atomically(path, "old report\n", "--out");
  {
    FileSizeLimit limit(4096);
    CHECK(runtime_message([&] {
            dfsim::write_file_atomically(path, std::string(10000, 'x'), "--out");
          }) == "--out " + path + ": cannot write: File too large");
  }
  CHECK(read_text(path) == "old report\n");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"report.json"});
}

TEST_CASE("a sweep file on a full disk keeps whole rows only", "[robustness]") {
  TempDir dir;
  const std::string path = dir.file("out.csv");
  const std::string row = "0123456789abcdef,1,2,ok,," + std::string(80, '7') + "\n";  // 106 B
  std::size_t written = 0;
  std::string message;
  {
    FileSizeLimit limit(1000);  // 9 rows fit (954 bytes), the 10th does not
    dfsim::AppendFile file(path);
    try {
      for (; written < 20; ++written) file.append(row);
    } catch (const dfsim::InputError& error) {
      message = error.what();
    }
  }
  CHECK(written == 9);
  CHECK(message == path +
                       ": cannot write: File too large; the rows before are whole, --resume "
                       "continues once there is space");
  const std::string text = read_text(path);
  CHECK(text.size() == 9 * row.size());
  CHECK(text.back() == '\n');
}

TEST_CASE("dfsim run: a report that cannot reach stdout is an error, not exit 0", "[robustness]") {
  TempDir dir;
  const int code = shell(dir, "'" DFSIM_BINARY
                              "' run --model tiny-llama --hw h100-sxm --tokens 2 --format json "
                              ">/dev/full 2>err.txt");
  CHECK(code == 1);
  CHECK(read_text(dir.path() / "err.txt") ==
        "dfsim: error: stdout: cannot write: No space left on device\n");
}

TEST_CASE("dfsim run -o on a full disk: exit 2, no partial file", "[robustness]") {
  TempDir dir;
  // ulimit -f counts 1024-byte blocks (512 in some shells): either way far below the trace.
  const int code = shell(dir, "(ulimit -f 8; '" DFSIM_BINARY
                              "' run --model llama2-7b --hw h100-sxm --tokens 2 --trace t.json "
                              "2>err.txt)");
  CHECK(code == 2);
  CHECK(read_text(dir.path() / "err.txt") ==
        "dfsim: error: --trace t.json: cannot write: File too large\n");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"err.txt"});
}

// ---------------------------------------------------------------------------------------------
// Sweeps that lose their parent, their workers or their disk

namespace {

// Points slow enough (about 0.1 s each) that the sweep is still running when the test
// interferes, and few enough that the whole sweep takes about a second on 2 workers.
const std::string kSlowSweep =
    "sweep --model llama3.1-8b --hw sn40l --set phase.tokens=32 --grid phase.batch=1:12:1 -j 2";
constexpr std::size_t kSlowPoints = 12;

// dfsim processes (the sweep and its workers) whose working directory is `dir`.
int dfsim_processes_in(const TempDir& dir) {
  const fs::path binary = fs::canonical(DFSIM_BINARY);
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::error_code error;
    const fs::path exe = fs::read_symlink(entry.path() / "exe", error);
    if (error || exe != binary) continue;
    const fs::path cwd = fs::read_symlink(entry.path() / "cwd", error);
    if (!error && cwd == dir.path()) ++count;
  }
  return count;
}

// Starts the slow sweep in the background, waits for its first row, sends `signal` to the
// parent, and returns the parent's exit status as the shell reports it.
int interrupt_slow_sweep(const TempDir& dir, const std::string& signal) {
  shell(dir, "('" DFSIM_BINARY "' " + kSlowSweep +
                 " -o out.csv 2>err.txt & pid=$!; for i in $(seq 3000); do [ -f out.csv ] && "
                 "[ $(wc -l < out.csv) -ge 2 ] && break; sleep 0.01; done; kill -" +
                 signal + " $pid; wait $pid; echo $? > rc.txt)");
  return std::stoi(read_text(dir.path() / "rc.txt"));
}

void check_resume_completes(const TempDir& dir) {
  Outcome resumed = run_dfsim(dir, kSlowSweep + " -o out.csv --resume");
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(dfsim::read_sweep_file(dir.file("out.csv")).rows.size() == kSlowPoints);
  CHECK(point_ids(dir.file("out.csv")).size() == kSlowPoints);
}

}  // namespace

TEST_CASE("dfsim sweep: SIGTERM keeps whole rows and --resume finishes", "[robustness]") {
  TempDir dir;
  CHECK(interrupt_slow_sweep(dir, "TERM") == 130);
  CHECK(read_text(dir.path() / "err.txt").find("interrupted, finished rows kept") !=
        std::string::npos);
  const std::string text = read_text(dir.path() / "out.csv");
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  CHECK(dfsim_processes_in(dir) == 0);  // the workers went with it
  check_resume_completes(dir);
}

TEST_CASE("dfsim sweep: SIGKILL of the parent takes its workers along, --resume finishes",
          "[robustness]") {
  TempDir dir;
  CHECK(interrupt_slow_sweep(dir, "KILL") == 128 + SIGKILL);
  // PR_SET_PDEATHSIG: the kernel kills the workers as the parent dies; give it a moment.
  int left = -1;
  for (int i = 0; i < 300 && left != 0; ++i) {
    left = dfsim_processes_in(dir);
    if (left) ::usleep(10'000);
  }
  CHECK(left == 0);
  const std::size_t rows = dfsim::read_sweep_file(dir.file("out.csv")).rows.size();
  CHECK(rows >= 1);
  CHECK(rows < kSlowPoints);
  check_resume_completes(dir);
}

TEST_CASE("dfsim sweep: a worker that segfaults or is OOM-killed is a row, the sweep goes on",
          "[robustness]") {
  TempDir dir;
  // The first worker gets SIGSEGV (what a crash raises), the next one SIGKILL (what the OOM
  // killer sends), each while it simulates. handle_segv=0: under scripts/test.sh --sanitize,
  // ASan's handler would turn the signal into an exit code.
  // Points of about 0.4 s, so a worker picked is still simulating when the signal arrives;
  // workers already exited (zombies, state Z) are never picked.
  const std::string sweep =
      "sweep --model llama3.1-8b --hw sn40l --set phase.tokens=128 --grid phase.batch=1:6:1 -j 2";
  const std::string running = "ps -o pid=,stat= --ppid $pid | awk '$2 !~ /Z/ {print $1}'";
  shell(dir, "(ASAN_OPTIONS=handle_segv=0:${ASAN_OPTIONS:-} '" DFSIM_BINARY "' " + sweep +
                 " -o out.jsonl 2>err.txt & pid=$!; first=; for i in $(seq 3000); do "
                 "first=$(" +
                 running +
                 " | head -n 1); [ -n \"$first\" ] && break; sleep 0.01; "
                 "done; kill -SEGV $first; for i in $(seq 3000); do "
                 "second=$(" +
                 running +
                 " | grep -vx \"$first\" | head -n 1); "
                 "[ -n \"$second\" ] && break; sleep 0.01; done; kill -KILL $second; "
                 "wait $pid; echo $? > rc.txt)");
  INFO(read_text(dir.path() / "err.txt"));
  CHECK(read_text(dir.path() / "rc.txt") == "0\n");
  std::multiset<std::string> errors;
  for (const std::string& line : split_lines(read_text(dir.path() / "out.jsonl"))) {
    json row = json::parse(line);
    if (row["status"] == "error") errors.insert(row["error"].get<std::string>());
  }
  CHECK(errors ==
        std::multiset<std::string>{"crashed: killed by signal 11 (Segmentation fault)",
                                   "crashed: killed by signal 9 (Killed), out of memory?"});
  CHECK(point_ids(dir.file("out.jsonl")).size() == 6);
  // --resume counts error rows as done: the crashed points are not retried behind one's back.
  Outcome resumed = run_dfsim(dir, sweep + " -o out.jsonl --resume");
  CHECK(resumed.err.find("6 of 6 points: 0 ok, 0 errors, 6 already in out.jsonl") !=
        std::string::npos);
}

TEST_CASE("dfsim sweep: a full disk stops the sweep with whole rows, --resume finishes",
          "[robustness]") {
  TempDir dir;
  const std::string args =
      "sweep --model tiny-llama --hw h100-sxm --grid phase.batch=1:40:1 --set phase.tokens=2 "
      "-j 2 -o out.csv";
  // 4 blocks (>= 2 KiB) hold the header and a few rows of the 40, not all.
  const int code = shell(dir, "(ulimit -f 4; '" DFSIM_BINARY "' " + args + " 2>err.txt)");
  CHECK(code == 2);
  const std::string err = read_text(dir.path() / "err.txt");
  CHECK(err.find("dfsim: error: out.csv: cannot write: File too large; the rows before are "
                 "whole, --resume continues once there is space\n") != std::string::npos);
  const std::string text = read_text(dir.path() / "out.csv");
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  const std::size_t rows = dfsim::read_sweep_file(dir.file("out.csv")).rows.size();
  CHECK(rows >= 1);
  CHECK(rows < 40);
  CHECK(dfsim_processes_in(dir) == 0);

  Outcome resumed = run_dfsim(dir, args + " --resume");
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(point_ids(dir.file("out.csv")).size() == 40);
  CHECK(dfsim::read_sweep_file(dir.file("out.csv")).rows.size() == 40);
}

// ---------------------------------------------------------------------------------------------
// Determinism

TEST_CASE("dfsim sweep: the same inputs give byte-identical rows whatever -j", "[robustness]") {
  TempDir dir;
  const std::string args =
      "sweep --model tiny-llama --hw h100-sxm,sn40l --grid phase.batch=1..8*2 "
      "--grid looping=off,on --set phase.tokens=3";
  REQUIRE(run_dfsim(dir, args + " -j 1 -o one.jsonl").code == 0);
  REQUIRE(run_dfsim(dir, args + " -j 3 -o three.jsonl").code == 0);
  const std::vector<std::string> one = rows_without_wall_time(dir.file("one.jsonl"));
  REQUIRE(one.size() == 16);
  CHECK(one == rows_without_wall_time(dir.file("three.jsonl")));
  // And each point's numbers are those of a dfsim run of its own.
  Outcome run = run_dfsim(dir,
                          "run --model tiny-llama --hw sn40l --batch 8 --tokens 3 --looping on "
                          "--format json");
  REQUIRE(run.code == 0);
  const json report = json::parse(run.out);
  const json last = json::parse(one.back());  // sn40l, batch 8, looping on: the last point
  CHECK(last["time_s"] == report["time_s"]);
  CHECK(last["dram_bytes"] == report["dram_bytes"]);
  CHECK(last["flops"] == report["flops"]);
}

// ---------------------------------------------------------------------------------------------
// Absurd but well-formed inputs: one line, exit code 2, never an overflow, a hang or a NaN

TEST_CASE("absurd inputs get a one-line reason and exit code 2", "[robustness]") {
  TempDir dir;
  auto error_of = [&](const std::string& args) {
    Outcome outcome = run_dfsim(dir, "run --tokens 2 " + args);
    CHECK(outcome.code == 2);
    CHECK(outcome.out.empty());
    return outcome.err;
  };
  CHECK(error_of("--model llama3.1-8b --hw h100-sxm --set model.num_layers=1000000000") ==
        "dfsim: error: --set model.num_layers=1000000000: num_layers: must be between 1 and "
        "100000, got '1000000000'\n");
  CHECK(error_of("--model llama3.1-8b --hw h100-sxm --set model.hidden_size=1000000000") ==
        "dfsim: error: --set model.hidden_size=1000000000: hidden_size: must be between 1 and "
        "1048576, got '1000000000'\n");
  CHECK(error_of("--model llama3.1-8b --hw h100-sxm --set hw.hbm.bandwidth=0TB/s") ==
        "dfsim: error: --set hw.hbm.bandwidth=0TB/s: hbm.bandwidth: must be greater than 0, got "
        "'0TB/s'\n");
  // 405e9 parameters x 2 bytes = 811.7 GB against the H100's 80 GiB = 85.9 GB (less what the
  // config reserves): a clear refusal, not a run.
  const std::string too_big = error_of("--model llama3.1-405b --hw h100-sxm");
  CHECK(too_big.rfind("dfsim: error: the model needs 811.7 GB of weights and ", 0) == 0);
  CHECK(too_big.find("use more GPUs (e.g. --hw dgx-h100), a smaller weight dtype") !=
        std::string::npos);
  // 2^30 cached tokens x 32 layers x 8 KV heads x 128 x 2 (K and V) x 2 bytes = 140.7 TB.
  CHECK(error_of("--model llama3.1-8b --hw h100-sxm --context 1073741824")
            .find("and 140.7 TB of KV cache, the hardware has") != std::string::npos);
  // A latency of 1e300 s used to wrap SystemC's 64-bit clock and hang.
  const std::string range =
      "simulated seconds (the range of SystemC's clock): a bandwidth, rate or latency of ";
  CHECK(error_of("--model tiny-llama --hw h100-sxm --set hw.hbm.latency=1e300s") ==
        "dfsim: error: the run would last more than 1e+07 " + range +
            "h100-sxm is far outside what real hardware has; check the config and the --set "
            "values\n");
  CHECK(error_of("--model tiny-llama --hw sn40l --set hw.hbm.bandwidth=1e-300B/s")
            .find(range + "sn40l is far") != std::string::npos);
  // Decode steps are capped by the memory their programs take.
  CHECK(error_of("--model tiny-llama --hw sn40l --tokens 100000").find("--tokens") !=
        std::string::npos);
  Outcome sweep = run_dfsim(dir,
                            "sweep --model tiny-llama --hw sn40l --grid "
                            "phase.batch=1,1000000000000000 -o out.csv");
  CHECK(sweep.code == 2);
  CHECK(sweep.err ==
        "dfsim: error: --grid phase.batch=1,1000000000000000: phase.batch: at most 1048576, got "
        "'1000000000000000'\n");
}

// ---------------------------------------------------------------------------------------------
// What the fuzzers found (scripts/fuzz.sh), kept as regression tests

TEST_CASE("fuzz finding: a ',' where a YAML node starts is a syntax error, not a hang",
          "[robustness]") {
  // yaml-cpp 0.7's LoadAll loops forever on these (jbeder/yaml-cpp#1040).
  CHECK_THROWS_WITH(dfsim::parse_yaml(",", "t.yaml"),
                    "t.yaml:1:1: YAML syntax error: unexpected ','");
  CHECK_THROWS_WITH(dfsim::parse_yaml("{\"a\": 1}\n,", "config.json"),
                    "config.json:2:1: YAML syntax error: unexpected ','");
  CHECK_THROWS_WITH(dfsim::parse_yaml("  ,x", "t.yaml"),
                    "t.yaml:1:3: YAML syntax error: unexpected ','");
  dfsim::ConfigNode root = dfsim::parse_yaml("sliding_window: 4096\n", "w.yaml");
  CHECK_THROWS_WITH(dfsim::apply_override(root, "sliding_window", ",096", {"--set", 0, 0}),
                    "--set: sliding_window: YAML syntax error: unexpected ','");
  // A second document is still reported as such, at its content.
  CHECK_THROWS_WITH(dfsim::parse_yaml("a: 1\n---\nb: 2\n", "t.yaml"),
                    "t.yaml:3:1: only one YAML document is allowed");
}

TEST_CASE("fuzz finding: an error quoting a newline or a control character stays one line",
          "[robustness]") {
  CHECK_THROWS_WITH(dfsim::parse_shard("1\n/2"),
                    "--shard 1\\n/2: expected K/N with integers, e.g. 0/4");
  CHECK(std::string(dfsim::InputError(dfsim::SourceLocation{"f.yaml", 2, 3}, "a\tb",
                                      std::string("bad \x01 value\r"))
                        .what()) == "f.yaml:2:3: a\\tb: bad \\x01 value\\r");
}
