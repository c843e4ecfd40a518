#include "sim/engine/serving_inputs.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "sim/common/error.h"
#include "sim/serving/arrivals.h"

namespace dfsim {

namespace {

// The ranges `dfsim serving` checks its options against.
constexpr long long kMaxRequests = 10'000'000;
constexpr long long kMaxTokens = 1 << 24;
constexpr long long kMaxBatch = 1 << 20;

std::optional<long long> parse_whole(const std::string& text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<double> parse_real(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

[[noreturn]] void bad_value(const std::string& where, const std::string& key,
                            const std::string& expected, const std::string& value) {
  throw InputError(where + ": " + key + ": expected " + expected + ", got '" + value + "'");
}

long long integer_in(const std::string& where, const std::string& key, const std::string& value,
                     long long minimum, long long maximum) {
  const std::optional<long long> parsed = parse_whole(value);
  if (!parsed || *parsed < minimum || *parsed > maximum) {
    bad_value(where, key, fmt::format("an integer in [{}, {}]", minimum, maximum), value);
  }
  return *parsed;
}

double real_in(const std::string& where, const std::string& key, const std::string& value,
               double minimum, double maximum, bool open_minimum) {
  const std::optional<double> parsed = parse_real(value);
  if (!parsed || *parsed > maximum || (open_minimum ? !(*parsed > minimum) : *parsed < minimum)) {
    bad_value(where, key,
              fmt::format("a number in {}{:g}, {:g}]", open_minimum ? "(" : "[", minimum, maximum),
              value);
  }
  return *parsed;
}

// Parses `value` of `key` into `inputs` (when given) or only checks it.
void apply(const std::string& key, const std::string& value, const std::string& where,
           ServingInputs* inputs) {
  ServingInputs scratch;
  ServingInputs& in = inputs ? *inputs : scratch;
  auto as_int = [](long long v) { return static_cast<int>(v); };
  if (key == "load.requests") {
    in.load.requests = as_int(integer_in(where, key, value, 1, kMaxRequests));
  } else if (key == "load.isl") {
    in.load.isl = as_int(integer_in(where, key, value, 1, kMaxTokens));
  } else if (key == "load.osl") {
    in.load.osl = as_int(integer_in(where, key, value, 1, kMaxTokens));
  } else if (key == "load.isl_std") {
    in.load.isl_std = real_in(where, key, value, 0, 1e9, false);
  } else if (key == "load.osl_std") {
    in.load.osl_std = real_in(where, key, value, 0, 1e9, false);
  } else if (key == "load.seed") {
    std::uint64_t seed = 0;
    const char* end = value.data() + value.size();
    auto [ptr, error] = std::from_chars(value.data(), end, seed);
    if (value.empty() || error != std::errc() || ptr != end) {
      bad_value(where, key, "an integer >= 0", value);
    }
    in.load.seed = seed;
  } else if (key == "load.rate") {
    in.rate = parse_request_rate(value, where + ": load.rate");
  } else if (key == "serving.max_batch") {
    in.scheduler.max_batch = as_int(integer_in(where, key, value, 1, kMaxBatch));
  } else if (key == "serving.max_tokens") {
    in.scheduler.max_tokens = as_int(integer_in(where, key, value, 1, kMaxTokens));
  } else if (key == "serving.chunk") {
    in.scheduler.chunk = parse_chunk(value, where + ": serving.chunk");
  } else if (key == "serving.block") {
    in.scheduler.block_tokens = as_int(integer_in(where, key, value, 1, kMaxBatch));
  } else if (key == "serving.kv_fraction") {
    in.kv_fraction = real_in(where, key, value, 0, 1, true);
  } else if (key == "serving.policy") {
    const std::optional<KvPolicy> policy = parse_kv_policy(value);
    if (!policy) bad_value(where, key, "no-evict or recompute", value);
    in.scheduler.policy = *policy;
  } else if (key == "serving.steps") {
    if (value != "memoized" && value != "exact") bad_value(where, key, "memoized or exact", value);
    in.exact_steps = value == "exact";
  } else if (key == "serving.slo") {
    in.slo = value.empty() ? std::nullopt
                           : std::optional<Slo>(parse_slo(value, where + ": serving.slo"));
  } else if (key == "looping") {
    const std::optional<LoopingMode> mode = parse_looping_mode(value);
    if (!mode || *mode == LoopingMode::kAuto) {
      bad_value(where, key, "off or on (a serving run loops every iteration or none)", value);
    }
    in.looping = *mode;
  } else {
    throw InputError(where + ": unknown serving key '" + key + "'");
  }
}

}  // namespace

ServingInputs::ServingInputs() : rate(std::numeric_limits<double>::infinity()) {}

int parse_chunk(const std::string& text, const std::string& option) {
  if (text == "off") return 0;
  const std::optional<long long> value = parse_whole(text);
  if (!value || *value < 1 || *value > kMaxTokens) {
    throw InputError(option + ": expected a number of tokens >= 1 or off, got '" + text + "'");
  }
  return static_cast<int>(*value);
}

ServingRunRequest serving_run_request(const std::string& model, const std::string& hw,
                                      const std::vector<Override>& overrides,
                                      const ServingInputs& inputs, std::vector<Request> requests) {
  ServingRunRequest request;
  request.model = model;
  request.hw = hw;
  request.overrides = overrides;
  request.looping = inputs.looping;
  request.scheduler = inputs.scheduler;
  request.kv_fraction = inputs.kv_fraction;
  request.exact_steps = inputs.exact_steps;
  request.requests = std::move(requests);
  return request;
}

ServingRunRequest serving_run_request(const std::string& model, const std::string& hw,
                                      const std::vector<Override>& overrides,
                                      const ServingInputs& inputs) {
  std::vector<Request> requests = synthetic_requests(inputs.load);
  assign_arrivals(requests, inputs.rate, inputs.load.seed);
  return serving_run_request(model, hw, overrides, inputs, std::move(requests));
}

ServingSetup serving_setup(const ServingInputs& inputs) {
  const SyntheticLoad& load = inputs.load;
  ServingSetup setup;
  setup.looping = inputs.looping == LoopingMode::kOn ? "on" : "off";
  setup.load =
      fmt::format("{} x ({}{} + {}{}) tokens, seed {}", load.requests, load.isl,
                  load.isl_std > 0 ? fmt::format(" +- {:g}", load.isl_std) : "", load.osl,
                  load.osl_std > 0 ? fmt::format(" +- {:g}", load.osl_std) : "", load.seed);
  setup.rate = std::isinf(inputs.rate) ? "inf" : fmt::format("{:g} req/s", inputs.rate);
  return setup;
}

const std::vector<ServingKey>& serving_keys() {
  static const std::vector<ServingKey> kKeys{{"load.requests", "100"},
                                             {"load.isl", "128"},
                                             {"load.osl", "128"},
                                             {"load.isl_std", "0"},
                                             {"load.osl_std", "0"},
                                             {"load.seed", "0"},
                                             {"load.rate", "inf"},
                                             {"serving.max_batch", "256"},
                                             {"serving.max_tokens", "8192"},
                                             {"serving.chunk", "off"},
                                             {"serving.block", "32"},
                                             {"serving.kv_fraction", "0.9"},
                                             {"serving.policy", "no-evict"},
                                             {"serving.steps", "memoized"},
                                             {"serving.slo", ""},
                                             {"looping", "off"}};
  return kKeys;
}

bool is_serving_key(const std::string& key) {
  if (key == "looping") return false;
  for (const ServingKey& known : serving_keys()) {
    if (key == known.key) return true;
  }
  return false;
}

void check_serving_value(const std::string& key, const std::string& value,
                         const std::string& where) {
  apply(key, value, where, nullptr);
}

ServingInputs serving_inputs_from(const std::vector<std::pair<std::string, std::string>>& values) {
  ServingInputs inputs;
  for (const auto& [key, value] : values) apply(key, value, key, &inputs);
  return inputs;
}

}  // namespace dfsim
