// Hugging Face `config.json` files as dfsim workloads. Most users have a checkpoint's config.json,
// not a dfsim YAML: it is read (JSON is YAML, so every value keeps its line and column) and
// translated into the tree a workload YAML would give, key by key, each translated value keeping
// the location of the JSON value it came from. `--set model.<key>` overrides and all validation
// then work exactly as for YAML workloads (parse_model_spec).
#pragma once

#include <string>
#include <vector>

#include "sim/config/config_tree.h"

namespace dfsim {

// The `model_type`s understood, for messages.
inline constexpr const char* kHfModelTypes = "llama, mistral, qwen2, mixtral, phi3";

// True for a path that names a Hugging Face config (anything ending in ".json").
bool is_hf_config_path(const std::string& path);

// The workload name a config path stands for: "mixtral-8x7b.config.json" -> "mixtral-8x7b",
// ".../Mixtral-8x7B-v0.1/config.json" -> "Mixtral-8x7B-v0.1".
std::string hf_config_name(const std::string& path);

// A key the config.json leaves out, and the default transformers' config class of its
// model_type gives it (e.g. max_position_embeddings 32768 for qwen2).
struct HfDefault {
  std::string key;    // the config.json key ("num_hidden_layers")
  std::string as;     // the workload key it sets ("num_layers"); empty: none (it decided another)
  std::string value;  // as the workload YAML would write it
};

struct HfImport {
  ConfigNode tree;
  std::vector<HfDefault> defaults;  // in the order they were applied
};

// Translates a parsed config.json into a workload tree (keys of workloads/*.yaml). Throws
// InputError at the offending value for an unsupported model_type (the message lists the
// supported ones), a key dfsim needs with the wrong JSON type (a quoted "4096" is not a
// number), and features dfsim does not model (an activation other than SiLU, MLP biases, an
// unknown quantization method). Keys no model of these families reads are ignored.
// Keys the config.json leaves out take transformers' defaults for its model_type (listed in
// `defaults`); the sizes (hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, vocab_size) and the dtype are required. model_types whose layers the
// workload graph cannot express (gemma, gemma2, gemma3, qwen3) are refused with the reason.
HfImport import_hf_config(const ConfigNode& json, const std::string& path);
ConfigNode hf_config_to_tree(const ConfigNode& json, const std::string& path);

}  // namespace dfsim
