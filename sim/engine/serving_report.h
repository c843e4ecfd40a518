// The report of a serving run (`dfsim serving`): rates, latency distributions, batch and KV-cache
// state, preemptions and goodput, as a table, JSON or CSV; and one CSV row per iteration.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sim/engine/serving_run.h"
#include "sim/serving/serving_stats.h"

namespace dfsim {

// What the run was asked to do, for the report's header.
struct ServingSetup {
  std::string load;     // "1000 x (128 + 128) synthetic, seed 0" or "trace F.csv (N requests)"
  std::string rate;     // "inf" or "4 req/s" (synthetic loads; empty for traces)
  std::string looping;  // off / on
};

nlohmann::json serving_json(const ServingRun& run, const ServingStats& stats,
                            const ServingSetup& setup);
std::string serving_table(const ServingRun& run, const ServingStats& stats,
                          const ServingSetup& setup);
// The JSON's scalars in its order, groups flattened: latency summaries as ttft_p50_s,
// ttft_count, ...; other groups as scheduler_max_batch, kv_cache_capacity_blocks, ...
std::vector<std::pair<std::string, nlohmann::json>> serving_fields(const ServingRun& run,
                                                                   const ServingStats& stats,
                                                                   const ServingSetup& setup);
// A header line and one row: serving_fields().
std::string serving_csv(const ServingRun& run, const ServingStats& stats,
                        const ServingSetup& setup);
// One row per iteration: start_s,end_s,sequences,tokens,prefill_tokens,decodes,kv_blocks,
// running,waiting.
std::string iterations_csv(const ServingResult& result);

}  // namespace dfsim
