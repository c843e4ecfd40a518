// A serving run on a machine model: the request load goes through the iteration-level scheduler
// (sim/serving) and every iteration it forms is built as one heterogeneous step (StepShape's
// groups), mapped and run on the SystemC machine of the hardware, one elaboration for the whole
// run: the machine asks for the next iteration when the previous one ends, at that simulated
// time, and idles until the next arrival when nothing is queued.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/config/hw_config.h"
#include "sim/mapping/kernel_looping.h"
#include "sim/serving/request.h"
#include "sim/serving/scheduler_config.h"
#include "sim/serving/serving_result.h"
#include "sim/serving/step_batch.h"
#include "sim/workload/model_spec.h"
#include "sim/workload/phase.h"

namespace dfsim {

// Where the KV cache's capacity comes from (kv_budget()).
struct KvBudget {
  double memory_bytes = 0;        // the memory the weights and the cache share, per socket
  double weight_bytes = 0;        // weights resident in it, per socket
  double activation_bytes = 0;    // the largest op's activations in a step of max_tokens tokens
  double kv_bytes_per_token = 0;  // K and V of every layer, per socket
  double kv_fraction = 0.9;
  int capacity_blocks = 0;
};

// The KV cache capacity in blocks: kv_fraction of the memory left after the weights and the
// activations, divided by the bytes of one block (block_tokens x kv_bytes_per_token), rounded
// down. All per socket (tensor parallelism shards the KV heads as the weights). The memory is
// the one the mapper keeps the KV cache in: HBM on GPUs and dataflow chips (on a dataflow chip
// only the embedding and LM head count against it, since the layers' weights spill to DDR as
// the mapper places them), unified memory on Apple, DDR per socket on CPUs. The weights and the
// KV bytes per token are read off the step graph (stored weight bytes; the KV append of one
// token); the activations are the largest inputs + outputs of one op in a prefill step of
// max_tokens tokens, the attention's scores aside (they stay on chip in a fused kernel). InputError
// when nothing is left or the model has no paged KV cache (DiJiang's fixed state).
KvBudget kv_budget(const ModelSpec& model, const HwConfig& hw, const SchedulerConfig& config,
                   double kv_fraction);

// The step of one iteration: its sequences grouped by equal (tokens, context, samples) shapes,
// in the order of those shapes.
StepShape step_shape_of(const StepBatch& batch);

struct ServingRunRequest {
  std::string model;  // name or path
  std::string hw;     // name or path
  std::vector<Override> overrides;
  LoopingMode looping = LoopingMode::kOff;
  std::vector<Request> requests;  // in arrival order
  SchedulerConfig scheduler;      // capacity_blocks is replaced by kv_budget()'s
  double kv_fraction = 0.9;
  bool progress = false;  // a progress line on stderr (when it is a terminal)
  // Every iteration as the scheduler formed it, each run on the machine. Otherwise (the default)
  // iterations are reduced to canonical batches and each canonical batch runs once, later
  // iterations with its key taking its time (sim/serving/step_memo.h).
  bool exact_steps = false;
};

struct ServingRun {
  std::string model;  // names as the configs give them
  std::string hw;
  int sockets = 1;
  KvBudget kv;
  ServingResult result;
  double simulated_s = 0;  // when the last step ended
  // Iterations the machine ran and those that took a memoized time (0 with exact_steps).
  std::size_t machine_steps = 0;
  std::size_t memoized_steps = 0;
};

// Runs the load in this process (one SystemC elaboration: at most once per process).
ServingRun run_serving_simulation(const ServingRunRequest& request);

}  // namespace dfsim
