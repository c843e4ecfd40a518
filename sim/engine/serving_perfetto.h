// A serving run's iterations as Chrome/Perfetto trace events (`dfsim serving --perfetto F.json`,
// open in ui.perfetto.dev): one slice per iteration on an "iterations" track, named by what it
// computed (prefill, decode or mixed) with its sequences, tokens, prefill tokens, decodes, KV
// blocks, running and waiting requests as args; counters of the batch (sequences), KV blocks
// and waiting requests at each iteration start, back to 0 when the server idles.
#pragma once

#include <string>

#include "sim/serving/serving_result.h"

namespace dfsim {

// The whole trace file; `label` names the process ("llama3.1-8b on h100-sxm").
std::string serving_perfetto_file(const ServingResult& result, const std::string& label);

}  // namespace dfsim
