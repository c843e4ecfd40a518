// The real `dfsim` executable (DFSIM_BINARY), run through the shell in a temporary directory:
// exit codes, the one-line error messages on stderr, and the JSON report.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using namespace dfsim::testing;

// The .yaml names in a config directory, sorted (what "known: ..." lists).
std::string known_names(const char* variable, const char* subdirectory) {
  std::string directory = std::string(DFSIM_DATA_DIR) + "/" + subdirectory;
  if (const char* value = std::getenv(variable); value && *value) directory = value;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
    // Workloads also come as Hugging Face configs, listed by file name.
    if (std::string(subdirectory) == "workloads" && entry.path().extension() == ".json")
      names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// hw_configs/h100-sxm.yaml as lines, for editing.
std::vector<std::string> h100_lines() {
  std::vector<std::string> lines =
      split_lines(read_text(std::string(DFSIM_DATA_DIR) + "/hw_configs/h100-sxm.yaml"));
  REQUIRE(lines.size() > 20);
  return lines;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// 0-based index of the first line starting with `prefix` at or after `from`.
std::size_t find_line(const std::vector<std::string>& lines, const std::string& prefix,
                      std::size_t from = 0) {
  for (std::size_t i = from; i < lines.size(); ++i) {
    if (starts_with(lines[i], prefix)) return i;
  }
  FAIL("no line starting with '" << prefix << "' in h100-sxm.yaml");
  return 0;
}

// 0-based index of `key` inside the top-level section `section` ("hbm:").
std::size_t find_in_section(const std::vector<std::string>& lines, const std::string& section,
                            const std::string& key) {
  return find_line(lines, key, find_line(lines, section) + 1);
}

// 0-based index of the first entry (not blank, not a comment) after a section header: where
// the reader locates the section's mapping.
std::size_t first_entry(const std::vector<std::string>& lines, const std::string& section) {
  for (std::size_t i = find_line(lines, section) + 1; i < lines.size(); ++i) {
    std::size_t text = lines[i].find_first_not_of(' ');
    if (text != std::string::npos && lines[i][text] != '#') return i;
  }
  FAIL("section " << section << " is empty");
  return 0;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

double number(const json& report, const char* key) {
  INFO("key " << key);
  REQUIRE(report.contains(key));
  REQUIRE(report[key].is_number());
  return report[key].get<double>();
}

// A successful run: exit 0, nothing on stderr, a JSON report on stdout.
json run_json(const TempDir& dir, const std::string& args) {
  Outcome outcome = run_dfsim(dir, "run " + args + " --format json");
  INFO("dfsim run " << args << "\nstderr: " << outcome.err);
  REQUIRE(outcome.code == 0);
  CHECK(outcome.err.empty());
  json report = json::parse(outcome.out, nullptr, false);
  REQUIRE_FALSE(report.is_discarded());
  return report;
}

// Bad input: exit code 2, nothing on stdout, and exactly these lines on stderr.
void expect_bad_input(const TempDir& dir, const std::string& args,
                      const std::vector<std::string>& expected_stderr) {
  Outcome outcome = run_dfsim(dir, args);
  INFO("dfsim " << args << "\nstderr: " << outcome.err);
  CHECK(outcome.code == 2);
  CHECK(outcome.out.empty());
  CHECK(split_lines(outcome.err) == expected_stderr);
  CHECK(outcome.err.find("terminate") == std::string::npos);
}

const std::string kUsageHint = "Run 'dfsim --help' for usage.";

}  // namespace

TEST_CASE("dfsim list names the hardware and the workloads", "[cli]") {
  TempDir dir;
  Outcome outcome = run_dfsim(dir, "list");
  INFO("stdout: " << outcome.out << "\nstderr: " << outcome.err);
  CHECK(outcome.code == 0);
  CHECK(outcome.err.empty());
  std::vector<std::string> lines = split_lines(outcome.out);
  auto listed = [&](const std::string& name) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      return starts_with(line, "  " + name + " ");
    });
  };
  CHECK(listed("h100-sxm"));
  CHECK(listed("llama3.1-8b"));
  CHECK(listed("tiny-llama"));
  // `list hw` leaves the workloads out.
  Outcome hw_only = run_dfsim(dir, "list hw");
  CHECK(hw_only.code == 0);
  CHECK(hw_only.out.find("h100-sxm") != std::string::npos);
  CHECK(hw_only.out.find("llama3.1-8b") == std::string::npos);
}

TEST_CASE("dfsim run --format json reports every field", "[cli]") {
  TempDir dir;
  json report = run_json(dir, "--model tiny-llama --hw h100-sxm --tokens 2");

  for (const char* key : {"time_s", "cycles", "tokens_per_second", "flops", "dram_bytes",
                          "achieved_bandwidth_Bps", "bandwidth_utilization", "compute_utilization",
                          "kernel_launches", "sync_overhead_s", "sync_overhead_share"}) {
    const double value = number(report, key);
    INFO(key << " = " << value);
    CHECK(std::isfinite(value));
    CHECK(value >= 0);
  }
  REQUIRE(report.contains("kernels"));
  REQUIRE(report["kernels"].is_array());
  REQUIRE_FALSE(report["kernels"].empty());
  for (const json& kernel : report["kernels"]) {
    REQUIRE(kernel.contains("name"));
    CHECK(kernel["name"].is_string());
    for (const char* key : {"time_s", "cycles", "flops", "dram_bytes", "bandwidth_utilization"}) {
      const double value = number(kernel, key);
      INFO(kernel["name"] << "." << key << " = " << value);
      CHECK(std::isfinite(value));
      CHECK(value >= 0);
    }
  }

  // Decode of 2 tokens at batch 1: tokens_per_second = batch x tokens / time_s.
  CHECK(report["batch"].get<double>() == 1);
  CHECK(report["tokens"].get<double>() == 2);
  const double time_s = number(report, "time_s");
  REQUIRE(time_s > 0);
  CHECK(number(report, "tokens_per_second") == Approx(1.0 * 2 / time_s).epsilon(1e-12));
  // cycles = time x clock (1.98 GHz on h100-sxm).
  CHECK(number(report, "cycles") == Approx(time_s * 1.98e9).epsilon(1e-12));
  // A share is a share.
  CHECK(number(report, "sync_overhead_share") <= 1);
  CHECK(number(report, "bandwidth_utilization") <= 1);
  CHECK(number(report, "compute_utilization") <= 1);

  // The same identity at batch 3.
  json batched = run_json(dir, "--model tiny-llama --hw h100-sxm --tokens 2 --batch 3");
  CHECK(number(batched, "tokens_per_second") ==
        Approx(3.0 * 2 / number(batched, "time_s")).epsilon(1e-12));
}

TEST_CASE("dfsim rejects bad hardware files with one line and exit code 2", "[cli]") {
  TempDir dir;
  const std::vector<std::string> base = h100_lines();
  struct Case {
    std::string file;
    std::function<std::string(std::vector<std::string>&)> edit;  // returns the message
  };
  const std::vector<Case> cases{
      {"unknown_key.yaml",
       [](std::vector<std::string>& lines) {
         // A misspelt extra key after hbm.bandwidth; located at its own key, column 3.
         std::size_t at = find_in_section(lines, "hbm:", "  bandwidth:") + 1;
         lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), "  bandwith: 3.35 TB/s");
         return "unknown_key.yaml:" + std::to_string(at + 1) +
                ":3: hbm.bandwith: unknown key (known here: achievable_fraction, bandwidth, "
                "capacity, latency)";
       }},
      {"typo.yaml",
       [](std::vector<std::string>& lines) {
         // The required key misspelt in place: reported at the typo, not as a missing key.
         std::size_t at = find_in_section(lines, "hbm:", "  bandwidth:");
         lines[at] = "  bandwith: 3.35 TB/s";
         return "typo.yaml:" + std::to_string(at + 1) +
                ":3: hbm.bandwith: unknown key (did you mean 'bandwidth'?)";
       }},
      {"wrong_type.yaml",
       [](std::vector<std::string>& lines) {
         // "sm_count: " is 10 characters: the value starts at column 11.
         std::size_t at = find_line(lines, "sm_count:");
         lines[at] = "sm_count: lots";
         return "wrong_type.yaml:" + std::to_string(at + 1) +
                ":11: sm_count: expected an integer, got 'lots'";
       }},
      {"missing.yaml",
       [](std::vector<std::string>& lines) {
         // Located at the hbm mapping (its first entry, column 3).
         std::size_t at = find_in_section(lines, "hbm:", "  latency:");
         lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(at));
         return "missing.yaml:" + std::to_string(first_entry(lines, "hbm:") + 1) +
                ":3: hbm.latency: missing required key";
       }},
      {"negative.yaml",
       [](std::vector<std::string>& lines) {
         // "  capacity: " is 12 characters: column 13.
         std::size_t at = find_in_section(lines, "l2:", "  capacity:");
         lines[at] = "  capacity: -50 MiB";
         return "negative.yaml:" + std::to_string(at + 1) +
                ":13: l2.capacity: must be greater than 0, got '-50 MiB'";
       }},
      {"zero.yaml",
       [](std::vector<std::string>& lines) {
         std::size_t at = find_in_section(lines, "l2:", "  capacity:");
         lines[at] = "  capacity: 0 MiB";
         return "zero.yaml:" + std::to_string(at + 1) +
                ":13: l2.capacity: must be greater than 0, got '0 MiB'";
       }},
      {"bad_unit.yaml",
       [](std::vector<std::string>& lines) {
         // "  bandwidth: " is 13 characters: column 14. TB is a size, not a bandwidth.
         std::size_t at = find_in_section(lines, "hbm:", "  bandwidth:");
         lines[at] = "  bandwidth: 3.35 TB";
         return "bad_unit.yaml:" + std::to_string(at + 1) +
                ":14: hbm.bandwidth: expected a bandwidth like '3.35 TB/s', got '3.35 TB'";
       }},
      {"syntax.yaml",
       [](std::vector<std::string>& lines) {
         // yaml-cpp stops at the second ':' (column 14).
         std::size_t at = find_line(lines, "sm_count:");
         lines[at] = "sm_count: 132: 4";
         return "syntax.yaml:" + std::to_string(at + 1) +
                ":14: YAML syntax error: illegal map value";
       }},
      {"inherit.yaml",
       [](std::vector<std::string>& lines) {
         // "inherit: " is 9 characters: column 10.
         std::size_t at = find_line(lines, "name:");
         lines[at] = "inherit: no-such-gpu";
         return "inherit.yaml:" + std::to_string(at + 1) +
                ":10: inherit: unknown hardware 'no-such-gpu' (known: " +
                known_names("DFSIM_HW_DIR", "hw_configs") + "; or give a path to a .yaml file)";
       }},
  };
  for (const Case& item : cases) {
    SECTION(item.file) {
      std::vector<std::string> lines = base;
      const std::string message = item.edit(lines);
      write_text(dir.path() / item.file, join_lines(lines));
      expect_bad_input(dir, "run --model tiny-llama --hw " + item.file + " --tokens 1",
                       {"dfsim: error: " + message});
    }
  }
  // The unedited copy runs: the errors above come from the edits alone.
  write_text(dir.path() / "copy.yaml", join_lines(base));
  Outcome good = run_dfsim(dir, "run --model tiny-llama --hw copy.yaml --tokens 1");
  INFO("stderr: " << good.err);
  CHECK(good.code == 0);
}

TEST_CASE("dfsim rejects bad --set overrides and names with one line and exit code 2", "[cli]") {
  TempDir dir;
  const std::string run = "run --model tiny-llama --hw h100-sxm --tokens 1 ";
  SECTION("a value that is not a bandwidth") {
    expect_bad_input(dir, run + "--set hw.hbm.bandwidth=fast",
                     {"dfsim: error: --set hw.hbm.bandwidth=fast: hbm.bandwidth: expected a "
                      "bandwidth like '3.35 TB/s', got 'fast'"});
  }
  SECTION("a key that does not exist") {
    expect_bad_input(dir, run + "--set hw.nosuch.key=1",
                     {"dfsim: error: --set hw.nosuch.key=1: nosuch.key: no such section 'nosuch'"});
  }
  SECTION("an unknown dtype") {
    expect_bad_input(dir, run + "--set model.weight_dtype=int3",
                     {"dfsim: error: --set model.weight_dtype=int3: weight_dtype: expected one of "
                      "fp32, fp16, bf16, fp8, int8, int4, q8_0, q4_0, f32, float32, f16, "
                      "float16, bfloat16, e4m3, got 'int3'"});
  }
  SECTION("a key without hw. or model.") {
    expect_bad_input(dir, run + "--set foo=1",
                     {"dfsim: error: --set foo=1: key must start with 'hw.' or 'model.'"});
  }
  SECTION("text without '='") {
    expect_bad_input(dir, run + "--set hw.hbm.bandwidth",
                     {"dfsim: error: --set hw.hbm.bandwidth: expected key=value, e.g. "
                      "hw.hbm.bandwidth=2TB/s"});
  }
  SECTION("an unknown model") {
    expect_bad_input(dir, "run --model no-such-model --hw h100-sxm",
                     {"dfsim: error: unknown model 'no-such-model' (known: " +
                      known_names("DFSIM_WORKLOAD_DIR", "workloads") +
                      "; or give a path to a .yaml file or a Hugging Face config.json)"});
  }
  SECTION("an unknown hardware config") {
    expect_bad_input(
        dir, "run --model tiny-llama --hw no-such-gpu",
        {"dfsim: error: unknown hardware 'no-such-gpu' (known: " +
         known_names("DFSIM_HW_DIR", "hw_configs") + "; or give a path to a .yaml file)"});
  }
  SECTION("a missing file") {
    expect_bad_input(dir, "run --model tiny-llama --hw ./nowhere.yaml",
                     {"dfsim: error: ./nowhere.yaml: no such file"});
  }
  // Command-line parse errors (CLI11) add a usage hint as a second line.
  SECTION("an unknown option") {
    expect_bad_input(
        dir, run + "--bogus",
        {"dfsim: error: The following argument was not expected: --bogus", kUsageHint});
  }
  SECTION("batch 0") {
    expect_bad_input(dir, run + "--batch 0",
                     {"dfsim: error: --batch: Value 0 not in range 1 to 1048576", kUsageHint});
  }
}

TEST_CASE("dfsim run --set changes the simulated machine and model", "[cli]") {
  TempDir dir;
  // 64 KiB in flight per SM: H100's decode GEMVs then stream at the channel's rate at either
  // bandwidth (132 x 64 KiB / 785 ns = 11 TB/s); with the file's 13.5 KiB they are capped by
  // Little's law, which more bandwidth does not lift.
  const std::string base =
      "--model llama3.1-8b --hw h100-sxm --tokens 2 --set hw.inflight_bytes_per_sm=64KiB";
  json reference = run_json(dir, base);
  json fast = run_json(dir, base + " --set hw.hbm.bandwidth=6.7TB/s");
  json fp32 = run_json(dir, base + " --set model.weight_dtype=fp32");

  // Doubling the HBM bandwidth (3.35 -> 6.7 TB/s) on batch-1 decode (memory-bound: ~15 GB of
  // weights per token) halves the streaming time; the boundaries (launch gap + latency per
  // kernel, sync_overhead_s) stay. Expected time = sync + (time - sync) / 2.
  const double time = number(reference, "time_s");
  const double sync = number(reference, "sync_overhead_s");
  const double predicted = sync + (time - sync) / 2;
  INFO("time " << time << " s, sync " << sync << " s, predicted with 6.7 TB/s " << predicted
               << " s, simulated " << number(fast, "time_s") << " s");
  CHECK(number(fast, "tokens_per_second") > number(reference, "tokens_per_second"));
  CHECK(number(fast, "dram_bytes") == number(reference, "dram_bytes"));
  // Not exactly: kernels capped by Little's law (few tiles) do not speed up. Within 3 %.
  CHECK(number(fast, "time_s") == Approx(predicted).epsilon(0.03));
  CHECK(number(fast, "peak_bandwidth_Bps") == Approx(6.7e12).epsilon(1e-12));

  // fp32 weights: 4 B instead of 2 B per parameter. Weight bytes double, while the KV cache
  // (bf16; 32 layers x 4 KiB x ~130 tokens = 17 MB per step) and activations/logits (a few MB)
  // stay: ratio = (2W + X) / (W + X) = 2 - X / (W + X) with X / (W + X) ~ 0.2 % for W = 15 GB
  // per step. So the ratio lies in (1.99, 2].
  const double ratio = number(fp32, "dram_bytes") / number(reference, "dram_bytes");
  INFO("fp32 / bf16 dram bytes = " << ratio);
  CHECK(ratio > 1.99);
  CHECK(ratio <= 2.0);
  CHECK(fp32["weight_dtype"] == "fp32");
  CHECK(reference["weight_dtype"] == "bf16");
}

TEST_CASE("dfsim run --out writes the report to the file only", "[cli]") {
  TempDir dir;
  Outcome outcome = run_dfsim(
      dir, "run --model tiny-llama --hw h100-sxm --tokens 2 --format json --out report.json");
  INFO("stderr: " << outcome.err);
  CHECK(outcome.code == 0);
  CHECK(outcome.out.empty());
  CHECK(outcome.err.empty());
  REQUIRE(fs::is_regular_file(dir.path() / "report.json"));
  CHECK_FALSE(fs::exists(dir.path() / "report.json.tmp"));
  json written = json::parse(read_text(dir.path() / "report.json"), nullptr, false);
  REQUIRE_FALSE(written.is_discarded());
  CHECK(written["model"] == "tiny-llama");
  // The file holds what stdout would have shown.
  json printed = run_json(dir, "--model tiny-llama --hw h100-sxm --tokens 2");
  CHECK(written == printed);
}

TEST_CASE("dfsim rejects bad weight formats and dequantization costs with exit code 2",
          "[cli][dtype]") {
  TempDir dir;
  const std::string run = "run --model tiny-llama --hw a100-80gb --tokens 1 ";
  expect_bad_input(dir, run + "--set hw.dequant.int3=2",
                   {"dfsim: error: --set hw.dequant.int3=2: dequant.int3: unknown key (known "
                    "here: fp8, int4, int8, q4_0, q8_0)"});
  expect_bad_input(dir, run + "--set hw.dequant.int4=-1",
                   {"dfsim: error: --set hw.dequant.int4=-1: dequant.int4: must not be negative, "
                    "got '-1'"});
  expect_bad_input(dir, run + "--set model.weight_dtype=q4_0 --set model.weight_group_size=64",
                   {"dfsim: error: --set model.weight_group_size=64: weight_group_size: q4_0 has "
                    "fixed blocks of 32 weights"});
  expect_bad_input(dir, run + "--set model.weight_group_size=-3",
                   {"dfsim: error: --set model.weight_group_size=-3: weight_group_size: must be at "
                    "least 0, got '-3'"});
}
