// A transformer decoder model as a plain value, parsed from workloads/*.yaml.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/common/dtype.h"
#include "sim/config/config_tree.h"

namespace dfsim {

// Layers that differ from the rest (e.g. a wider MLP in the first layer). Such layers break
// runs of identical kernels, so kernel looping loops around them (partial looping).
struct LayerOverride {
  std::vector<std::int64_t> layers;     // indices the override applies to
  std::int64_t intermediate_size = 0;   // 0: unchanged
  std::int64_t num_key_value_heads = 0; // 0: unchanged
};

// Llama-style dense decoder: RMSNorm, grouped-query attention with RoPE, SwiGLU MLP.
struct ModelSpec {
  std::string name;
  std::string description;
  std::string family = "llama";
  std::string source_path;

  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t num_key_value_heads = 0;
  std::int64_t head_dim = 0;  // defaults to hidden_size / num_attention_heads
  std::int64_t vocab_size = 0;
  std::int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;

  Dtype weight_dtype = Dtype::kBf16;
  Dtype activation_dtype = Dtype::kBf16;
  Dtype kv_cache_dtype = Dtype::kBf16;

  std::vector<LayerOverride> layer_overrides;

  std::int64_t q_width() const { return num_attention_heads * head_dim; }
  std::int64_t kv_width() const { return num_key_value_heads * head_dim; }
  // Per-layer sizes, with the overrides applied.
  std::int64_t intermediate_size_of(std::int64_t layer) const;
  std::int64_t key_value_heads_of(std::int64_t layer) const;
};

// Builds a ModelSpec from a (merged, overridden) tree; throws InputError on any bad field.
ModelSpec parse_model_spec(const ConfigNode& root);

}  // namespace dfsim
