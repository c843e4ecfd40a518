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
  std::vector<std::int64_t> layers;      // indices the override applies to
  std::int64_t intermediate_size = 0;    // 0: unchanged
  std::int64_t num_key_value_heads = 0;  // 0: unchanged
  std::int64_t sliding_window = -1;      // -1: unchanged, 0: full attention, else the window
};

// RoPE scaling as the checkpoint states it. Kept as data: it changes the rotation angles, not
// the shapes, FLOPs or bytes of any op.
struct RopeScaling {
  std::string type;  // "" (none), "llama3", "linear", "dynamic", "yarn", ...
  double factor = 1.0;
  std::int64_t original_max_position_embeddings = 0;  // 0: not given
  double low_freq_factor = 0;                         // llama3 only
  double high_freq_factor = 0;                        // llama3 only
};

// How each token mixes in the earlier ones: softmax attention over a KV cache, or DiJiang
// (arXiv 2403.19928) linear attention, whose DCT feature maps of q and k let a running state
// replace the cache (see the workload graph for its costs).
enum class AttentionVariant { kSoftmax, kDiJiang };

// Llama-style decoder: RMSNorm, grouped-query attention with RoPE, SwiGLU MLP, or a mixture of
// SwiGLU experts behind a top-k router in place of the MLP (num_local_experts > 0). The
// families name the published architectures that share this shape: llama, mistral (sliding
// window), qwen2 (q/k/v biases), mixtral (experts), phi3 (fused q/k/v and gate/up weights, the
// same computation).
// How matmuls treat their activations. Weight-only (the default) quantizes weights alone
// (weight_dtype) and computes in the activation dtype; the W8A8 schemes run the dense
// projections as int8 x int8 matmuls, quantizing each input and dequantizing each output:
// - w8a8-dynamic: a scale per token, from the absolute maximum of each row at run time;
// - w8a8-static: one scale per tensor, fixed by an offline calibration pass;
// - smoothquant: static per-tensor scales after migrating activation outliers into the weights
//   per channel (s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), arXiv:2211.10438). The migration
//   is folded offline into the preceding RMSNorm (q/k/v, gate/up), v_proj (o_proj) and up_proj
//   (down_proj) weights, so at run time it costs what w8a8-static costs; alpha matters for
//   accuracy only.
enum class QuantizationScheme { kWeightOnly, kW8A8Dynamic, kW8A8Static, kSmoothQuant };

std::string_view quantization_name(QuantizationScheme scheme);

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
  RopeScaling rope_scaling;

  // Biases: q/k/v projections (Qwen2) and the o projection (Llama's attention_bias sets both).
  bool attention_bias = false;
  bool attention_output_bias = false;
  // Each token attends to at most this many positions, its own included (Mistral); 0: all.
  std::int64_t sliding_window = 0;

  AttentionVariant attention = AttentionVariant::kSoftmax;
  // DiJiang: features m of each head's feature map (DCT coefficients kept), 1..head_dim.
  std::int64_t dijiang_features = 0;

  // Mixture of experts: 0 experts is a dense MLP. Each token's hidden state goes through
  // num_experts_per_tok of the num_local_experts SwiGLU experts (each intermediate_size wide).
  std::int64_t num_local_experts = 0;
  std::int64_t num_experts_per_tok = 0;
  // With tensor parallelism over R ranks and R dividing the experts, each rank holds whole
  // experts (expert parallelism); false, or R not dividing them, splits every expert's columns.
  bool expert_parallel = true;

  // Matmul weights (projections, experts, router, LM head, and the embedding table); norm
  // weights and biases stay in the activation dtype, as quantizers leave them.
  Dtype weight_dtype = Dtype::kBf16;
  // Weights along k sharing one scale (int8, int4); 0: one scale per output channel. The
  // parser fills in default_weight_group_size(weight_dtype) when the workload does not say.
  std::int64_t weight_group_size = 0;
  // The embedding table and the LM head (tied or not). Weight-only quantizers leave both in
  // the activation dtype (gpt-fast, GPTQ, AWQ, bitsandbytes, fp8 recipes skip lm_head); the
  // parser defaults to that for int8, int4 and fp8 weights, to weight_dtype otherwise
  // (llama.cpp's files quantize token_embd too).
  Dtype lm_head_dtype = Dtype::kBf16;
  Dtype activation_dtype = Dtype::kBf16;
  QuantizationScheme quantization = QuantizationScheme::kWeightOnly;
  double smoothquant_alpha = 0.5;  // migration strength, 0 (none) to 1 (all into the weights)
  Dtype kv_cache_dtype = Dtype::kBf16;

  std::vector<LayerOverride> layer_overrides;

  std::int64_t q_width() const { return num_attention_heads * head_dim; }
  std::int64_t kv_width() const { return num_key_value_heads * head_dim; }
  bool is_moe() const { return num_local_experts > 0; }
  bool is_dijiang() const { return attention == AttentionVariant::kDiJiang; }
  WeightLayout weight_layout() const { return WeightLayout{weight_dtype, weight_group_size}; }
  WeightLayout lm_head_layout() const {
    return WeightLayout{lm_head_dtype, lm_head_dtype == weight_dtype
                                           ? weight_group_size
                                           : default_weight_group_size(lm_head_dtype)};
  }
  // Per-layer sizes, with the overrides applied.
  std::int64_t intermediate_size_of(std::int64_t layer) const;
  std::int64_t key_value_heads_of(std::int64_t layer) const;
  std::int64_t sliding_window_of(std::int64_t layer) const;  // 0: full attention
};

// Builds a ModelSpec from a (merged, overridden) tree; throws InputError on any bad field.
ModelSpec parse_model_spec(const ConfigNode& root);

}  // namespace dfsim
