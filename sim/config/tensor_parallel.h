// `--tp N`: tensor parallelism over N GPUs of one kind. A GPU config describes one GPU and the
// interconnect of the system it ships in (its `link` section: an NVLink/NVSwitch baseboard, or
// PCIe); N of them share the model, i.e. the config runs with `sockets: N`. The sweep key and
// config field is hw.sockets itself.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/config/hw_config.h"
#include "sim/workload/model_spec.h"

namespace dfsim {

// The largest tensor-parallel size accepted by --tp (no shipped system joins more GPUs).
inline constexpr int kMaxTensorParallel = 4096;

// Throws InputError, naming `option` ("--tp"), unless N GPUs of `hw` can run `model` in tensor
// parallel:
// - hardware: N >= 1; N > 1 needs a link section that states the system's size (link.max_sockets)
//   and N <= that size;
// - model: N divides the attention heads; the kv heads of every layer divide over N or N over
//   them (each kv head replicated on N / kv GPUs); N divides the MLP width of every layer. These
//   are the checks vLLM (ModelConfig.verify_with_parallel_config, the column-parallel layers'
//   divide()) and TensorRT-LLM's Llama conversion make; dfsim's graph could cost an uneven split
//   (the busiest rank, see sim/workload/workload_graph.cpp), but no serving stack runs one.
// `hw` is read with any user overrides already applied, before sockets is set to N.
void check_tensor_parallel(const HwConfig& hw, const ModelSpec& model, int tp,
                           std::string_view option = "--tp");

// Loads `hw_name` and `model_name` with `overrides`, checks N (check_tensor_parallel) and returns
// `overrides` followed by hw.sockets=N, ready for a RunRequest or a serving run. For `dfsim
// validate`, whose serving rows give (hw, model, tp): pass the row's tp and option "tp" (the
// column) and wrap the InputError with the row's file:line:column. A --set hw.sockets among
// `overrides` together with a tp is an error (two sources for one number).
std::vector<Override> tensor_parallel_overrides(const std::string& hw_name,
                                                const std::string& model_name, int tp,
                                                std::vector<Override> overrides,
                                                std::string_view option = "--tp");

}  // namespace dfsim
