#include "sim/engine/serving_perfetto.h"

#include <nlohmann/json.hpp>

#include "sim/report/timeline.h"

namespace dfsim {

using nlohmann::json;

std::string serving_perfetto_file(const ServingResult& result, const std::string& label) {
  constexpr double kMicro = 1e6;  // trace events are in microseconds
  constexpr int kPid = 1;
  json events = json::array();
  events.push_back({{"ph", "M"},
                    {"name", "process_name"},
                    {"pid", kPid},
                    {"tid", 0},
                    {"args", {{"name", label}}}});
  events.push_back({{"ph", "M"},
                    {"name", "thread_name"},
                    {"pid", kPid},
                    {"tid", 1},
                    {"args", {{"name", "iterations"}}}});
  auto counters = [&](double time, int sequences, int blocks, int waiting) {
    events.push_back({{"ph", "C"},
                      {"name", "batch (sequences)"},
                      {"pid", kPid},
                      {"ts", time * kMicro},
                      {"args", {{"sequences", sequences}}}});
    events.push_back({{"ph", "C"},
                      {"name", "KV blocks"},
                      {"pid", kPid},
                      {"ts", time * kMicro},
                      {"args", {{"used", blocks}}}});
    events.push_back({{"ph", "C"},
                      {"name", "waiting requests"},
                      {"pid", kPid},
                      {"ts", time * kMicro},
                      {"args", {{"waiting", waiting}}}});
  };
  const auto& iterations = result.iterations;
  for (std::size_t i = 0; i < iterations.size(); ++i) {
    const IterationRecord& it = iterations[i];
    const char* name = it.decodes == 0 ? "prefill" : it.prefill_tokens == 0 ? "decode" : "mixed";
    events.push_back({{"ph", "X"},
                      {"name", name},
                      {"pid", kPid},
                      {"tid", 1},
                      {"ts", it.start_s * kMicro},
                      {"dur", (it.end_s - it.start_s) * kMicro},
                      {"args",
                       {{"iteration", i},
                        {"sequences", it.sequences},
                        {"tokens", it.tokens},
                        {"prefill_tokens", it.prefill_tokens},
                        {"decodes", it.decodes},
                        {"kv_blocks", it.used_blocks},
                        {"running", it.running},
                        {"waiting", it.waiting}}}});
    counters(it.start_s, it.sequences, it.used_blocks, it.waiting);
    // Nothing runs until the next iteration (an idle server): the counters drop to 0.
    if (i + 1 == iterations.size() || iterations[i + 1].start_s > it.end_s) {
      counters(it.end_s, 0, 0, 0);
    }
  }
  return perfetto_file(events);
}

}  // namespace dfsim
