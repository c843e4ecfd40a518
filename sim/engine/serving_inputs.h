// The inputs of a synthetic serving run as `dfsim sweep`'s load.* and serving.* keys give them,
// built into the run the way `dfsim serving` builds its options' (the same requests, arrivals,
// scheduler and looping; a test runs both and compares), with the command's defaults.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/engine/serving_report.h"
#include "sim/engine/serving_run.h"
#include "sim/mapping/kernel_looping.h"
#include "sim/serving/request.h"
#include "sim/serving/scheduler_config.h"
#include "sim/serving/slo.h"
#include "sim/serving/synthetic_requests.h"

namespace dfsim {

struct ServingInputs {
  SyntheticLoad load{.requests = 100, .isl = 128, .osl = 128};
  double rate = 0;  // requests/s; +infinity: all at t = 0 (the default)
  SchedulerConfig scheduler;
  double kv_fraction = 0.9;
  bool exact_steps = false;  // serving.steps=exact: dfsim serving --exact-steps
  LoopingMode looping = LoopingMode::kOff;
  std::optional<Slo> slo;

  ServingInputs();
};

// serving.chunk: "off" (0) or a number of tokens >= 1; InputError naming `option` otherwise.
int parse_chunk(const std::string& text, const std::string& option);

// The request of the run: the synthetic requests with their arrivals, the scheduler, looping.
ServingRunRequest serving_run_request(const std::string& model, const std::string& hw,
                                      const std::vector<Override>& overrides,
                                      const ServingInputs& inputs);
// The same with `requests` (a trace's, in arrival order) in place of the synthetic load.
ServingRunRequest serving_run_request(const std::string& model, const std::string& hw,
                                      const std::vector<Override>& overrides,
                                      const ServingInputs& inputs, std::vector<Request> requests);
// What the report's header says of the load.
ServingSetup serving_setup(const ServingInputs& inputs);

// A sweep key of a serving point and the value a point has when no factor sets it (the
// default of `dfsim serving`'s option of the same meaning).
struct ServingKey {
  const char* key;
  const char* default_value;
};
// In column order: load.requests, load.isl, load.osl, load.isl_std, load.osl_std, load.seed,
// load.rate, serving.max_batch, serving.max_tokens, serving.chunk, serving.block,
// serving.kv_fraction, serving.policy, serving.steps, serving.slo, looping.
const std::vector<ServingKey>& serving_keys();
// load.* and serving.* keys of that list (looping is a key of every sweep).
bool is_serving_key(const std::string& key);
// Checks one value of a serving key; InputError "`where`: key: expected ..., got 'value'".
void check_serving_value(const std::string& key, const std::string& value,
                         const std::string& where);
// The inputs from a value for every key of serving_keys() (checked with check_serving_value).
ServingInputs serving_inputs_from(const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace dfsim
