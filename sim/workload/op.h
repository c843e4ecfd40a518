// One operation of a forward step and what it costs. Costs are derived from shapes here, once;
// every estimate, mapping and report sums these numbers (never a formula on the side).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/common/dtype.h"

namespace dfsim {

enum class OpKind {
  kEmbedding,        // gather rows of the embedding table
  kRmsNorm,          // x * rsqrt(mean(x^2) + eps) * weight
  kMatMul,           // activations [m, k] x weights [k, n]
  kRope,             // rotary position embedding of q and k
  kKvAppend,         // write this step's k and v into the KV cache
  kAttentionScores,  // q k^T / sqrt(d) over the cached keys (causal)
  kSoftmax,          // row softmax of the scores
  kAttentionValues,  // probabilities x cached values
  kSwiGlu,           // silu(gate) * up
  kAdd,              // residual connection
  kAllReduce,        // sum a tensor over the tensor-parallel ranks (after row-parallel matmuls)
  kAllGather,        // concatenate each rank's slice (the vocabulary-parallel logits)
  kRouter,           // MoE gate: logits [m, k] x [k, n experts], softmax, top-k per token
  kExpertMatMul,     // grouped GEMM: the routed rows [m, k] through their experts' [k, n]
  kFeatureMap,       // DiJiang: DCT feature maps of the rotated q and k heads
  kLinearAttention,  // DiJiang: causal linear attention through a running state
  kQuantize,         // activations [m, k] to int8 with a scale (W8A8 schemes)
  kDequantize,       // int32 accumulators [m, n] of an int8 matmul back to the activation dtype
};

std::string_view op_kind_name(OpKind kind);

// An activation tensor flowing between two ops (a graph edge).
struct Tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  Dtype dtype = Dtype::kBf16;

  std::int64_t elements() const;
  double bytes() const { return static_cast<double>(elements()) * dtype_bytes(dtype); }
};

struct Op {
  std::string name;  // unique: "layer3.q_proj", "lm_head"
  std::string role;  // the same op in every layer: "q_proj" (used for fusion and looping)
  OpKind kind = OpKind::kAdd;
  int layer = -1;  // decoder layer, -1 outside the layers (embedding, final norm, lm head)

  // Matmul-like ops: output [m, n] from [m, k]; attention ops use them per (batch, head) too.
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t groups = 1;  // independent instances of that shape (attention: batch x heads)
  // Attention: batch x KV heads (grouped-query attention shares one K/V head among
  // groups / kv_groups query heads); 0 elsewhere.
  std::int64_t kv_groups = 0;

  double flops = 0;             // arithmetic operations (a multiply-add counts 2)
  double matmul_flops = 0;      // the part of `flops` that tensor cores / systolic arrays run
  std::int64_t parameters = 0;  // weights this op owns (for parameter counts)
  // Parameters one token uses: `parameters`, except expert ops, where a token passes through
  // num_experts_per_tok of the experts held.
  std::int64_t active_parameters = 0;
  double weight_bytes = 0;  // weight bytes read per step (scales included)
  // Weights read per step in `weight_dtype` (matmul weights, not biases): what a kernel must
  // dequantize when its matmul units do not take that format.
  double weight_elements = 0;
  Dtype weight_dtype = Dtype::kBf16;
  double stored_weight_bytes = 0;  // weight bytes held in memory (all experts, whole tables)
  // Expert ops: experts whose weights this op holds, and how many distinct ones a step is
  // expected to read (the routing decides; see the builder).
  std::int64_t experts = 0;
  double experts_read = 0;
  double cache_read_bytes = 0;      // KV-cache bytes read
  double cache_write_bytes = 0;     // KV-cache bytes written
  double external_read_bytes = 0;   // inputs from outside the graph (token ids)
  double external_write_bytes = 0;  // outputs leaving the graph (logits)
  double collective_bytes = 0;      // collectives: the full tensor each rank ends up with
  Dtype compute_dtype = Dtype::kBf16;
};

}  // namespace dfsim
