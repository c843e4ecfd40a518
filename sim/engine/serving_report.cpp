#include "sim/engine/serving_report.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

#include "sim/common/units.h"
#include "sim/serving/slo.h"

namespace dfsim {

namespace {

nlohmann::json summary_json(const DistributionSummary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50},
          {"p90", s.p90},     {"p99", s.p99},   {"max", s.max}};
}

const std::vector<std::pair<const char*, DistributionSummary ServingStats::*>>& latencies() {
  static const std::vector<std::pair<const char*, DistributionSummary ServingStats::*>> kList{
      {"ttft_s", &ServingStats::ttft_s},
      {"tpot_s", &ServingStats::tpot_s},
      {"itl_s", &ServingStats::itl_s},
      {"e2e_s", &ServingStats::e2e_s},
      {"queueing_s", &ServingStats::queueing_s}};
  return kList;
}

}  // namespace

nlohmann::json serving_json(const ServingRun& run, const ServingStats& stats,
                            const ServingSetup& setup) {
  const SchedulerConfig& config = run.result.config;
  nlohmann::json json = {
      {"model", run.model},
      {"hw", run.hw},
      {"sockets", run.sockets},
      {"load", setup.load},
      {"rate", setup.rate},
      {"looping", setup.looping},
      {"scheduler",
       {{"max_batch", config.max_batch},
        {"max_tokens", config.max_tokens},
        {"chunk", config.chunk},
        {"block_tokens", config.block_tokens},
        {"policy", std::string(kv_policy_name(config.policy))}}},
      {"kv_cache",
       {{"memory_bytes", run.kv.memory_bytes},
        {"weight_bytes", run.kv.weight_bytes},
        {"activation_bytes", run.kv.activation_bytes},
        {"kv_bytes_per_token", run.kv.kv_bytes_per_token},
        {"kv_fraction", run.kv.kv_fraction},
        {"capacity_blocks", run.kv.capacity_blocks},
        {"capacity_tokens", static_cast<long long>(run.kv.capacity_blocks) * config.block_tokens}}},
      {"requests", stats.requests},
      {"input_tokens", stats.input_tokens},
      {"output_tokens", stats.output_tokens},
      {"duration_s", stats.duration_s},
      {"request_throughput", stats.request_throughput},
      {"input_tokens_per_s", stats.input_tokens_per_s},
      {"output_tokens_per_s", stats.output_tokens_per_s},
      {"total_tokens_per_s", stats.total_tokens_per_s},
      {"iterations", stats.iterations},
      {"machine_steps", run.machine_steps},
      {"memoized_steps", run.memoized_steps},
      {"busy_fraction", stats.busy_fraction},
      {"mean_batch", stats.mean_batch},
      {"max_batch", stats.max_batch},
      {"mean_kv_blocks", stats.mean_kv_blocks},
      {"max_kv_blocks", stats.max_kv_blocks},
      {"preemptions", stats.preemptions},
      {"preempted_requests", stats.preempted_requests},
      {"mean_in_system", stats.mean_in_system},
  };
  for (const auto& [name, member] : latencies()) json[name] = summary_json(stats.*member);
  if (stats.slo) {
    json["slo"] = format_slo(*stats.slo);
    json["slo_met"] = stats.slo_met;
    json["goodput"] = stats.goodput;
  }
  return json;
}

std::string serving_table(const ServingRun& run, const ServingStats& stats,
                          const ServingSetup& setup) {
  const SchedulerConfig& config = run.result.config;
  auto duration = [](double v) { return format_quantity(v, Dimension::kDuration); };
  auto bytes = [](double v) { return format_quantity(v, Dimension::kBytes); };
  std::string out = fmt::format(
      "dfsim serving: {} on {}{}, looping {}\n"
      "  load: {}{}\n"
      "  scheduler: max batch {}, max tokens {}, chunk {}, block {} tokens, {}\n"
      "  KV cache: {} blocks ({} tokens) = {:g} x ({} memory - {} weights - {} activations), "
      "{} per token\n",
      run.model, run.hw, run.sockets > 1 ? fmt::format(" ({} sockets)", run.sockets) : "",
      setup.looping, setup.load, setup.rate.empty() ? "" : ", rate " + setup.rate, config.max_batch,
      config.max_tokens, config.chunk > 0 ? std::to_string(config.chunk) : "off",
      config.block_tokens, kv_policy_name(config.policy), run.kv.capacity_blocks,
      static_cast<long long>(run.kv.capacity_blocks) * config.block_tokens, run.kv.kv_fraction,
      bytes(run.kv.memory_bytes), bytes(run.kv.weight_bytes), bytes(run.kv.activation_bytes),
      bytes(run.kv.kv_bytes_per_token));
  out += fmt::format("  requests {} ({} input, {} output tokens) in {}, {} iterations",
                     stats.requests, stats.input_tokens, stats.output_tokens,
                     duration(stats.duration_s), stats.iterations);
  // How many ran on the machine (the rest took a memoized time, sim/serving/step_memo.h).
  out += run.memoized_steps > 0 ? fmt::format(" ({} run on the machine, {} memoized)\n",
                                              run.machine_steps, run.memoized_steps)
                                : "\n";
  out += fmt::format(
      "  throughput: {:.3f} req/s, {:.1f} input tok/s, {:.1f} output tok/s, {:.1f} total tok/s\n",
      stats.request_throughput, stats.input_tokens_per_s, stats.output_tokens_per_s,
      stats.total_tokens_per_s);
  out += fmt::format("  {:<16}{:>12}{:>12}{:>12}{:>12}{:>12}\n", "latency", "mean", "p50", "p90",
                     "p99", "max");
  const std::vector<std::pair<const char*, const DistributionSummary*>> rows{
      {"TTFT", &stats.ttft_s},
      {"TPOT", &stats.tpot_s},
      {"ITL", &stats.itl_s},
      {"E2E", &stats.e2e_s},
      {"queueing", &stats.queueing_s}};
  for (const auto& [name, s] : rows) {
    out += fmt::format("  {:<16}{:>12}{:>12}{:>12}{:>12}{:>12}\n", name, duration(s->mean),
                       duration(s->p50), duration(s->p90), duration(s->p99), duration(s->max));
  }
  out += fmt::format(
      "  batch: mean {:.2f}, max {}; KV blocks: mean {:.1f}, max {} of {} ({:.1f} %); busy {:.1f} "
      "%\n",
      stats.mean_batch, stats.max_batch, stats.mean_kv_blocks, stats.max_kv_blocks,
      run.kv.capacity_blocks,
      run.kv.capacity_blocks > 0 ? 100.0 * stats.max_kv_blocks / run.kv.capacity_blocks : 0.0,
      100.0 * stats.busy_fraction);
  out +=
      fmt::format("  preemptions: {} ({} requests)\n", stats.preemptions, stats.preempted_requests);
  if (stats.slo) {
    out += fmt::format("  goodput under {}: {:.3f} req/s ({} of {} requests meet it)\n",
                       format_slo(*stats.slo), stats.goodput, stats.slo_met, stats.requests);
  }
  return out;
}

std::vector<std::pair<std::string, nlohmann::json>> serving_fields(const ServingRun& run,
                                                                   const ServingStats& stats,
                                                                   const ServingSetup& setup) {
  const nlohmann::json json = serving_json(run, stats, setup);
  std::vector<std::pair<std::string, nlohmann::json>> fields;
  for (const auto& [key, value] : json.items()) {
    if (value.is_object()) {
      for (const auto& [inner, leaf] : value.items()) {
        // Latencies: ttft_p50_s; other groups: scheduler_max_batch.
        const bool latency = key.size() > 2 && key.compare(key.size() - 2, 2, "_s") == 0;
        const std::string stem = latency ? key.substr(0, key.size() - 2) : key;
        std::string name =
            latency ? fmt::format("{}_{}_s", stem, inner) : fmt::format("{}_{}", stem, inner);
        if (inner == "count") name = fmt::format("{}_count", stem);
        fields.emplace_back(name, leaf);
      }
    } else {
      fields.emplace_back(key, value);
    }
  }
  return fields;
}

std::string serving_csv(const ServingRun& run, const ServingStats& stats,
                        const ServingSetup& setup) {
  auto text = [](const nlohmann::json& value) {
    if (value.is_string()) {
      std::string s = value.get<std::string>();
      if (s.find_first_of(",\"\n") == std::string::npos) return s;
      std::string quoted = "\"";
      for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      return quoted + "\"";
    }
    return value.dump();
  };
  std::string header, row;
  for (const auto& [name, value] : serving_fields(run, stats, setup)) {
    if (!header.empty()) {
      header += ',';
      row += ',';
    }
    header += name;
    row += text(value);
  }
  return fmt::format("{}\n{}\n", header, row);
}

std::string iterations_csv(const ServingResult& result) {
  std::string out =
      "start_s,end_s,sequences,tokens,prefill_tokens,decodes,kv_blocks,running,waiting\n";
  for (const IterationRecord& it : result.iterations) {
    out += fmt::format("{:.9g},{:.9g},{},{},{},{},{},{},{}\n", it.start_s, it.end_s, it.sequences,
                       it.tokens, it.prefill_tokens, it.decodes, it.used_blocks, it.running,
                       it.waiting);
  }
  return out;
}

}  // namespace dfsim
