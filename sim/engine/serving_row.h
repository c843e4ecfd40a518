// How `dfsim validate` runs a serving.csv row (../shared/calibration/README.md): the request load
// of the row through `dfsim serving` with the server settings the row's source used, taken from
// that source and not fitted.
//
// The rows are TensorRT-LLM's published measurements. The offline ones (rate inf) ran
// `trtllm-bench build` then `trtllm-bench throughput --kv_cache_free_gpu_mem_fraction 0.95`
// (v0.17 docs/source/performance/perf-overview.md); the build picks the engine's max batch size
// and max number of tokens from the dataset's lengths and the KV memory
// (trtllm_bench_engine_settings()); the throughput command schedules with GUARANTEED_NO_EVICT
// and chunked context (why chunked: plan_serving_row()). The online rows (v0.14, Triton with
// the TensorRT-LLM backend) state no engine settings; they get the same build rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sim/engine/calibration.h"
#include "sim/engine/serving_run.h"

namespace dfsim {

struct TrtllmEngineSettings {
  double kv_cache_max_requests = 0;  // requests of isl + osl tokens the estimated KV memory holds
  int max_batch = 0;                 // max_batch_size
  int max_num_tokens = 0;
};

struct TrtllmEngineInputs {
  double parameters = 0;            // model parameters (HF param_count)
  double bytes_per_weight = 2;      // 1 for FP8 quantization, else 2
  double bytes_per_kv_element = 2;  // 1 for an FP8 KV cache, else 2
  std::int64_t layers = 0;
  std::int64_t kv_heads = 0;
  std::int64_t head_size = 0;
  double device_memory_bytes = 0;  // NVML's total memory of one GPU
  int tp = 1;
  std::int64_t isl = 0;
  std::int64_t osl = 0;
};

// trtllm-bench build's calc_engine_setting and finetune_setting
// (tensorrt_llm/bench/build/tuning.py, v0.15 to v0.18), with its default KV fraction 0.95:
//   KV memory = 0.95 x (device GiB x tp - parameters / 1e9 x bytes per weight)   [GB, as written]
//   requests  = KV memory / (2 x layers x max(tp, kv heads) x head size x KV bytes / GiB)
//               / (isl + osl)
//   batch     = min(requests, 4096): below 256 max(64, 32 x ceil(batch / 32)), below 1024
//               128 x ceil(batch / 128), else 256 x ceil(batch / 256)
//   tokens    = min(batch x (1 + isl / osl), 32768): below 4096 max(2048, 256 x ceil(t / 256)),
//               below 8192 512 x ceil(t / 512), else 1024 x ceil(t / 1024)
TrtllmEngineSettings trtllm_bench_engine_settings(const TrtllmEngineInputs& inputs);

// What a serving row runs: its load and the server's settings; `settings` says them in words.
// `requests` replaces the row's request count when given (tests run a smaller load). InputError
// when the configs are missing; a row that cannot be run (not a GPU, a tp its system or model
// cannot take) gets its `reason`.
struct ServingRowPlan {
  std::optional<ServingRunRequest> request;  // none when the row is not simulated
  std::string reason;                        // why not
  std::string settings;
};
ServingRowPlan plan_serving_row(const CalibrationRow& row,
                                std::optional<std::int64_t> requests = std::nullopt);

// The row's metric in a finished run: output_tokens_per_second, mean_ttft_s or mean_itl_s.
double serving_metric(const std::string& metric, const ServingRun& run);

}  // namespace dfsim
