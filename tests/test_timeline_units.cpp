// `dfsim run --trace`: one Perfetto track per hardware unit (GPU dispatcher, SMs, link; dataflow
// host, loader, each stage's PCUs), memory counters, and the kernel-call boundaries that kernel
// looping removes, checked against the configs' call costs by hand. Runs the real binary.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using namespace dfsim::testing;

// Runs `dfsim run <args> --format json --trace trace.json` and returns (report, trace events).
std::pair<json, json> traced_run(const TempDir& dir, const std::string& args) {
  const std::string command = "cd '" + dir.path().string() + "' && '" DFSIM_BINARY "' run " + args +
                              " --format json --trace trace.json >report.json 2>err.txt";
  const int status = std::system(command.c_str());
  INFO(read_text(dir.path() / "err.txt"));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  json report = json::parse(read_text(dir.path() / "report.json"));
  json trace = json::parse(read_text(dir.path() / "trace.json"));
  return {report, trace.at("traceEvents")};
}

struct Tracks {
  std::map<std::string, std::vector<json>> slices;  // thread name -> its "X" events
  std::set<std::string> counters;                   // "C" event names
};

Tracks tracks_of(const json& events) {
  std::map<int, std::string> names;
  for (const json& e : events) {
    if (e["ph"] == "M" && e["name"] == "thread_name") names[e["tid"]] = e["args"]["name"];
  }
  Tracks tracks;
  for (const json& e : events) {
    if (e["ph"] == "X") tracks.slices[names.at(e["tid"])].push_back(e);
    if (e["ph"] == "C") tracks.counters.insert(e["name"].get<std::string>());
  }
  return tracks;
}

std::vector<double> durations_us(const std::vector<json>& slices) {
  std::vector<double> out;
  for (const json& e : slices) out.push_back(e["dur"].get<double>());
  return out;
}

// Slice durations equal `expected` microseconds (trace events are in microseconds, as doubles).
void check_durations(const std::vector<json>& slices, const std::vector<double>& expected) {
  std::vector<double> actual = durations_us(slices);
  INFO("durations: " << json(actual).dump());
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) CHECK(actual[i] == Approx(expected[i]));
}

}  // namespace

TEST_CASE("trace: the dataflow chip's units, and the call boundaries looping removes",
          "[timeline]") {
  TempDir dir;
  // Three decoder layers of Llama 3.1 8B on one SN40L socket, one decode step.
  const std::string model = "--model llama3.1-8b --hw sn40l --set model.num_layers=3 --tokens 1";
  auto [off_report, off_events] = traced_run(dir, model + " --looping off");
  Tracks off = tracks_of(off_events);
  for (const char* unit : {"kernels", "synchronization boundaries", "host", "loader",
                           "PCUs: q_proj", "PCUs: gate_proj", "PCUs: lm_head"}) {
    INFO(unit);
    CHECK(off.slices.count(unit) == 1);
  }
  CHECK(off.counters.count("HBM bandwidth (GB/s)") == 1);
  // One host slice per kernel call. sn40l.yaml: device orchestration; the host launches the
  // step's first call (launch_overhead 3 us), program_load 20 us when the program changes, and
  // between the calls of a step the AGCU's device_launch (1 us) after a barrier of
  // ceil(log2 1) = 0 rounds. Calls: embedding (3 + 20), layer 0 (1 + 20), layers 1 and 2 run
  // layer 0's program again (1), the LM head (1 + 20).
  REQUIRE(off.slices["host"].size() == off_report["kernel_launches"].get<std::size_t>());
  check_durations(off.slices["host"], {23, 21, 1, 1, 21});
  // Each layer runs each of its stages once.
  CHECK(off.slices["PCUs: q_proj"].size() == 3);

  // Looping: the three layers are one call, the two boundaries between them are gone.
  auto [on_report, on_events] = traced_run(dir, model + " --looping on");
  Tracks on = tracks_of(on_events);
  CHECK(on_report["kernel_launches"] == 3);
  check_durations(on.slices["host"], {23, 21, 21});
  CHECK(on.slices["synchronization boundaries"].size() == 3);
  CHECK(on.slices["PCUs: q_proj"].size() == 3);
  // The loader streams the same bytes either way: one slice per stage with bytes to load.
  CHECK(on.slices["loader"].size() == off.slices["loader"].size());
}

TEST_CASE("trace: call boundaries on 8 sockets, host- and device-orchestrated", "[timeline]") {
  TempDir dir;
  // Three layers of Llama 3.1 8B on sn40l-8, two decode steps, call costs set here:
  // launch_overhead 3 us + 7 further sockets x launch_per_socket 1 us; host_sync 2 us + 7 x
  // poll_per_socket 0.1 us; program_load 20 us; device_launch 1 us; barrier_round 2 us.
  const std::string model =
      "--model llama3.1-8b --hw sn40l-8 --set model.num_layers=3 --tokens 2 --looping off "
      "--set hw.kernel_call.launch_overhead=3us --set hw.kernel_call.launch_per_socket=1us "
      "--set hw.kernel_call.host_sync=2us --set hw.kernel_call.poll_per_socket=0.1us "
      "--set hw.kernel_call.program_load=20us --set hw.kernel_call.device_launch=1us "
      "--set hw.kernel_call.barrier_round=2us";
  // Host: the first call launches on 8 sockets (3 + 7 = 10) and loads its program (30); every
  // later call first polls the 8 sockets (2 + 0.7), then launches (10): 12.7, + 20 for a new
  // program. Step 1: embedding 30, layer 0 32.7, layers 1-2 12.7, LM head 32.7; step 2: the
  // embedding 32.7 (program changed back), then the same as step 1.
  auto [host_report, host_events] =
      traced_run(dir, model + " --set hw.kernel_call.orchestration=host");
  Tracks host = tracks_of(host_events);
  check_durations(host.slices["host"], {30, 32.7, 12.7, 12.7, 32.7, 32.7, 32.7, 12.7, 12.7, 32.7});
  // Device: the host's terms only at a step's first call; between the calls of a step the
  // sockets meet at a barrier of ceil(log2 8) = 3 rounds x 2 us and the AGCU launches (1 us):
  // 7 us, + 20 for a new program.
  auto [device_report, device_events] =
      traced_run(dir, model + " --set hw.kernel_call.orchestration=device");
  Tracks device = tracks_of(device_events);
  check_durations(device.slices["host"], {30, 27, 7, 7, 27, 32.7, 27, 7, 7, 27});
  // The collectives on the link name their algorithm: 8 KB all-reduces on 8 sockets go one-shot
  // (sn40l.yaml: 0.5 + 7 x 8192 B / 128 GB/s = 0.948 us against ring 7.112 us, tree 2.268 us).
  REQUIRE_FALSE(device.slices["link"].empty());
  const std::string first = device.slices["link"].front()["name"];
  CHECK(first.find("all-reduce (oneshot)") != std::string::npos);
  // ... and so does the JSON report, per kernel.
  CHECK(device_report["kernels"][1]["collectives"] == "all-reduce oneshot, all-reduce oneshot");
}

TEST_CASE("trace: the GPU's dispatcher, SMs and link, with L2 and link counters", "[timeline]") {
  TempDir dir;
  // tiny-llama with 8 heads, so its heads split over dgx-h100's 8 GPUs.
  auto [report, events] = traced_run(dir,
                                     "--model tiny-llama --hw dgx-h100 --tokens 1 "
                                     "--set model.num_attention_heads=8 "
                                     "--set model.num_key_value_heads=8");
  Tracks tracks = tracks_of(events);
  // One launch gap per kernel; graph_overhead 2.2 us each (h100-sxm.yaml, CUDA graphs on).
  REQUIRE(tracks.slices["dispatcher"].size() == report["kernel_launches"].get<std::size_t>());
  for (double duration : durations_us(tracks.slices["dispatcher"])) {
    CHECK(duration == Approx(2.2));
  }
  // Collectives on the link: an all-reduce after each layer's o and down projections (2 layers),
  // and the all-gather of the logits.
  CHECK(tracks.slices["link"].size() == 5);
  // Every other kernel runs at least one wave on the SMs.
  CHECK(tracks.slices["SMs"].size() >= report["kernel_launches"].get<std::size_t>() - 5);
  CHECK(tracks.counters.count("L2 bandwidth (GB/s)") == 1);
  CHECK(tracks.counters.count("link bandwidth (GB/s)") == 1);
}
