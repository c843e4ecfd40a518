// The parameters of a llama-style decoder as fp32 arrays (values already rounded to the
// model's weight dtype), in Hugging Face layout: a projection is [out_features, in_features],
// row-major, and y = x W^T.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/workload/model_spec.h"

namespace dfsim::functional {

struct LayerWeights {
  std::vector<float> attn_norm;               // [hidden]
  std::vector<float> q_proj, k_proj, v_proj;  // [q_width | kv_width, hidden]
  std::vector<float> q_bias, k_bias, v_bias;  // empty without attention_bias
  std::vector<float> o_proj;                  // [hidden, q_width]
  std::vector<float> o_bias;                  // empty without attention_output_bias
  std::vector<float> mlp_norm;                // [hidden]
  std::vector<float> gate_proj, up_proj;      // [intermediate, hidden]
  std::vector<float> down_proj;               // [hidden, intermediate]
};

struct ModelWeights {
  std::vector<float> embed_tokens;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm;  // [hidden]
  std::vector<float> lm_head;     // [vocab, hidden]; a copy of embed_tokens when tied
};

// Throws InputError when functional execution cannot run this model (experts, quantized
// weights, rope scaling types it does not model).
void check_functional_model(const ModelSpec& model);

// Deterministic weights from `seed`: each tensor draws from its own stream, uniform in
// [-1/sqrt(fan_in), 1/sqrt(fan_in)) (embedding rows in [-1, 1)), norm weights around 1.
ModelWeights generate_weights(const ModelSpec& model, std::uint64_t seed);

}  // namespace dfsim::functional
