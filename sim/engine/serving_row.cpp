#include "sim/engine/serving_row.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <stdexcept>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/config/tensor_parallel.h"
#include "sim/serving/arrivals.h"
#include "sim/serving/serving_stats.h"
#include "sim/serving/synthetic_requests.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

int round_up(double value, int step) {
  return step * static_cast<int>(std::ceil(value / step));
}

// TensorRT-LLM's paged KV cache blocks: tokens_per_block defaults to 64 in the engine's plugin
// config (tensorrt_llm/plugin/plugin.py, PluginConfig.tokens_per_block).
constexpr int kTrtllmBlockTokens = 64;
// The KV cache's share of the free memory: as the row's notes state it ("KV cache 0.95 of free
// memory": trtllm-bench throughput --kv_cache_free_gpu_mem_fraction 0.95 in the v0.17 perf
// overview), else the executor's default KvCacheConfig free_gpu_memory_fraction, 0.9 (the online
// rows, Triton's TensorRT-LLM backend, state none).
double kv_fraction_of(const std::string& notes) {
  static const std::regex stated(R"(KV cache ([0-9]*\.?[0-9]+) of free memory)");
  std::smatch match;
  if (std::regex_search(notes, match, stated)) return std::stod(match[1].str());
  return 0.9;
}

}  // namespace

TrtllmEngineSettings trtllm_bench_engine_settings(const TrtllmEngineInputs& in) {
  const double kv_fraction = 0.95;  // calc_engine_setting's default kv_cache_gpu_mem_fraction
  const double engine_gb = in.parameters / 1e9 * in.bytes_per_weight;
  const double total_gb = in.device_memory_bytes / kGiB * in.tp;
  const double kv_memory = (total_gb - engine_gb) * kv_fraction;
  const double bytes_per_token = 2.0 * static_cast<double>(in.layers) *
                                 static_cast<double>(std::max<std::int64_t>(in.tp, in.kv_heads)) *
                                 static_cast<double>(in.head_size) * in.bytes_per_kv_element / kGiB;
  TrtllmEngineSettings settings;
  settings.kv_cache_max_requests =
      kv_memory / bytes_per_token / static_cast<double>(in.isl + in.osl);
  if (!(settings.kv_cache_max_requests >= 1)) {
    throw InputError(fmt::format(
        "trtllm-bench would refuse this engine: its KV memory holds {:.2f} requests of {} tokens",
        settings.kv_cache_max_requests, in.isl + in.osl));
  }
  const double batch = std::min(settings.kv_cache_max_requests, 4096.0);  // pp 1
  const double tokens =
      std::min(batch * (1 + static_cast<double>(in.isl) / static_cast<double>(in.osl)), 32768.0);
  settings.max_batch = batch < 256    ? std::max(64, round_up(batch, 32))
                       : batch < 1024 ? round_up(batch, 128)
                                      : round_up(batch, 256);
  settings.max_num_tokens = tokens < 4096   ? std::max(2048, round_up(tokens, 256))
                            : tokens < 8192 ? round_up(tokens, 512)
                                            : round_up(tokens, 1024);
  return settings;
}

ServingRowPlan plan_serving_row(const CalibrationRow& row, std::optional<std::int64_t> requests) {
  if (!row.serving) throw std::logic_error("plan_serving_row: not a serving row");
  const CalibrationRow::Serving& serving = *row.serving;
  ServingRowPlan plan;
  ServingRunRequest request;
  request.model = row.models.front();
  request.hw = row.hws.front();
  request.overrides.push_back({"model.weight_dtype", row.weight_dtype});
  request.overrides.push_back({"model.kv_cache_dtype", serving.kv_dtype});
  for (const Override& item : row.overrides) request.overrides.push_back(item);
  // The row's GPUs in tensor parallel (hw.sockets = tp over the link of the config's system); a
  // tp the system or the model cannot take is the row's reason, as the CLI's --tp refuses it.
  try {
    request.overrides =
        tensor_parallel_overrides(request.hw, request.model, static_cast<int>(serving.tp),
                                  std::move(request.overrides), "tp");
  } catch (const InputError& error) {
    plan.reason = error.what();
    return plan;
  }
  HwConfig hw = load_hw_config(request.hw, request.overrides);
  // TensorRT-LLM's kernels: fp8 weights as W8A8 on the FP8 tensor cores, the decode steps from
  // CUDA graphs (hw.stack serving, sim/mapping/gpu_mapper.cpp).
  if (hw.gpu() != nullptr) {
    request.overrides.push_back({"hw.stack", "serving"});
    hw = load_hw_config(request.hw, request.overrides);
  }
  const ModelSpec model = load_model_spec(request.model, request.overrides);
  const GpuSpec* gpu = hw.gpu();
  if (gpu == nullptr) {
    plan.reason = "serving rows are TensorRT-LLM's: the hardware must be a GPU";
    return plan;
  }
  const WorkloadGraph one = build_decoder_graph(model, StepShape{1, 1, 0, false}, 1);
  const bool fp8_weights = row.weight_dtype == "fp8";
  const TrtllmEngineSettings engine =
      trtllm_bench_engine_settings({.parameters = static_cast<double>(one.total_parameters()),
                                    .bytes_per_weight = fp8_weights ? 1.0 : 2.0,
                                    .bytes_per_kv_element = serving.kv_dtype == "fp8" ? 1.0 : 2.0,
                                    .layers = model.num_layers,
                                    .kv_heads = model.num_key_value_heads,
                                    .head_size = model.head_dim,
                                    .device_memory_bytes = gpu->hbm.capacity,
                                    .tp = static_cast<int>(serving.tp),
                                    .isl = row.prompt,
                                    .osl = row.gen});
  request.scheduler.max_batch = engine.max_batch;
  request.scheduler.max_tokens = engine.max_num_tokens;
  request.scheduler.block_tokens = kTrtllmBlockTokens;
  request.scheduler.policy = KvPolicy::kGuaranteedNoEvict;
  // Chunked context: the offline rows ("offline max throughput", trtllm-bench) ran with it. Their
  // 2048 + 2048, 5000 + 500 and 20000 + 2000 loads get max_num_tokens 2048 or 2304 from the build:
  // without chunking a prompt that long never fits an iteration beside a running decode
  // (TensorRT-LLM's MicroBatchScheduler counts the decodes first), let alone a 20000-token one, so
  // the engine would run one request at a time (simulated: 222 tok/s for the H100 2048 + 2048 row,
  // measured 9488). Chunks fill the token budget the decodes leave (the scheduler's chunk is
  // min(remaining, chunk, budget)), as TensorRT-LLM's chunked context does. The online rows
  // (Triton's TensorRT-LLM backend, enable_chunked_context false by default) run without: their
  // 467-token prompts fit.
  const bool offline = row.notes.find("offline max throughput") != std::string::npos;
  request.scheduler.chunk = offline ? engine.max_num_tokens : 0;
  request.kv_fraction = kv_fraction_of(row.notes);
  const std::int64_t count = requests.value_or(serving.requests);
  request.requests = synthetic_requests({.requests = static_cast<int>(count),
                                         .isl = static_cast<int>(row.prompt),
                                         .osl = static_cast<int>(row.gen),
                                         .isl_std = 0,
                                         .osl_std = 0,
                                         .seed = 0});
  assign_arrivals(request.requests, parse_request_rate(serving.rate, "rate"), 0);
  plan.settings = fmt::format(
      "serving: {} requests of {} + {} tokens at {} req/s{}, TP{}; trtllm-bench engine: max batch "
      "{}, "
      "max tokens {}; chunk {}; no-evict; KV {:g} of free memory, {}-token blocks; {} weights, "
      "{} KV, hw.stack=serving",
      count, row.prompt, row.gen, serving.rate,
      count != serving.requests ? fmt::format(" (row: {})", serving.requests) : "", serving.tp,
      engine.max_batch, engine.max_num_tokens,
      request.scheduler.chunk > 0 ? std::to_string(request.scheduler.chunk) : "off",
      request.kv_fraction, kTrtllmBlockTokens, row.weight_dtype, serving.kv_dtype);
  plan.request = std::move(request);
  return plan;
}

double serving_metric(const std::string& metric, const ServingRun& run) {
  const ServingStats stats = serving_stats(run.result);
  if (metric == "output_tokens_per_second") return stats.output_tokens_per_s;
  if (metric == "mean_ttft_s") return stats.ttft_s.mean;
  if (metric == "mean_itl_s") return stats.itl_s.mean;
  throw std::logic_error("serving_metric: unknown metric " + metric);
}

}  // namespace dfsim
