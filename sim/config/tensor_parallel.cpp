#include "sim/config/tensor_parallel.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/common/error.h"

namespace dfsim {

namespace {

// The sizes in [1, limit] that divide `count`, for the error message: "1, 2, 4, 8".
std::string divisors_up_to(std::int64_t count, std::int64_t limit) {
  std::string out;
  for (std::int64_t n = 1; n <= std::min(count, limit); ++n) {
    if (count % n == 0) out += (out.empty() ? "" : ", ") + std::to_string(n);
  }
  return out;
}

}  // namespace

void check_tensor_parallel(const HwConfig& hw, const ModelSpec& model, int tp,
                           std::string_view option) {
  const std::string where = fmt::format("{} {}", option, tp);
  if (tp < 1 || tp > kMaxTensorParallel) {
    throw InputError(
        fmt::format("{}: the GPU count must lie in [1, {}]", where, kMaxTensorParallel));
  }
  if (tp > 1) {
    const LinkSpec* link = hw.link();
    if (!link || link->bandwidth <= 0) {
      throw InputError(fmt::format(
          "{}: {} has no link section, so nothing joins its {}s (a config for tensor "
          "parallelism names the interconnect of its system: link.bandwidth, link.latency, "
          "link.max_sockets)",
          where, hw.name, hw.family == "gpu" ? "GPU" : "socket"));
    }
    if (link->max_sockets == 0) {
      throw InputError(
          fmt::format("{}: {}'s link section does not say how many {}s its system joins "
                      "(link.max_sockets)",
                      where, hw.name, hw.family == "gpu" ? "GPU" : "socket"));
    }
    if (tp > link->max_sockets) {
      throw InputError(fmt::format("{}: {}'s system joins at most {} {}s (link.max_sockets in {})",
                                   where, hw.name, link->max_sockets,
                                   hw.family == "gpu" ? "GPU" : "socket", hw.source_path));
    }
  }
  const std::int64_t ranks = tp;
  const std::int64_t limit = std::max<std::int64_t>(ranks, 8);
  if (model.num_attention_heads % ranks != 0) {
    throw InputError(fmt::format(
        "{}: {}'s {} attention heads do not split evenly over {} GPUs (sizes that do, up to {}: "
        "{})",
        where, model.name, model.num_attention_heads, tp, limit,
        divisors_up_to(model.num_attention_heads, limit)));
  }
  for (std::int64_t layer = 0; layer < model.num_layers; ++layer) {
    const std::int64_t kv = model.key_value_heads_of(layer);
    if (kv > 0 && kv % ranks != 0 && ranks % kv != 0) {
      throw InputError(fmt::format(
          "{}: {}'s {} kv heads (layer {}) neither split evenly over {} GPUs nor replicate "
          "evenly on them (N must divide {} or be a multiple of it)",
          where, model.name, kv, layer, tp, kv));
    }
    const std::int64_t width = model.intermediate_size_of(layer);
    if (width > 0 && width % ranks != 0) {
      throw InputError(
          fmt::format("{}: {}'s MLP width {} (layer {}) does not split evenly over {} GPUs", where,
                      model.name, width, layer, tp));
    }
  }
}

std::vector<Override> tensor_parallel_overrides(const std::string& hw_name,
                                                const std::string& model_name, int tp,
                                                std::vector<Override> overrides,
                                                std::string_view option) {
  for (const Override& item : overrides) {
    if (item.key == "hw.sockets") {
      throw InputError(fmt::format("{} {} and --set hw.sockets={} both set the GPU count; give one",
                                   option, tp, item.value));
    }
  }
  check_override_prefixes(overrides);
  const HwConfig hw = load_hw_config(hw_name, overrides);
  const ModelSpec model = load_model_spec(model_name, overrides);
  check_tensor_parallel(hw, model, tp, option);
  overrides.push_back({"hw.sockets", std::to_string(tp)});
  return overrides;
}

}  // namespace dfsim
