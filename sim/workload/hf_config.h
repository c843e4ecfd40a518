// Hugging Face `config.json` files as dfsim workloads. Most users have a checkpoint's config.json,
// not a dfsim YAML: it is read (JSON is YAML, so every value keeps its line and column) and
// translated into the tree a workload YAML would give, key by key, each translated value keeping
// the location of the JSON value it came from. `--set model.<key>` overrides and all validation
// then work exactly as for YAML workloads (parse_model_spec).
#pragma once

#include <string>

#include "sim/config/config_tree.h"

namespace dfsim {

// The `model_type`s understood, for messages.
inline constexpr const char* kHfModelTypes = "llama, mistral, qwen2, mixtral";

// True for a path that names a Hugging Face config (anything ending in ".json").
bool is_hf_config_path(const std::string& path);

// The workload name a config path stands for: "mixtral-8x7b.config.json" -> "mixtral-8x7b",
// ".../Mixtral-8x7B-v0.1/config.json" -> "Mixtral-8x7B-v0.1".
std::string hf_config_name(const std::string& path);

// Translates a parsed config.json into a workload tree (keys of workloads/*.yaml). Throws
// InputError at the offending value for an unsupported model_type (the message lists the
// supported ones), a key dfsim needs with the wrong JSON type (a quoted "4096" is not a
// number), and features dfsim does not model (an activation other than SiLU, MLP biases, an
// unknown quantization method). Keys no model of these families reads are ignored.
ConfigNode hf_config_to_tree(const ConfigNode& json, const std::string& path);

}  // namespace dfsim
