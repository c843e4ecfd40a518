// `dfsim estimate`: parameter counts, FLOPs, memory and training memory of a model, as plain
// arithmetic over the workload graph (no SystemC, no simulation). Every figure is a sum over the
// ops of a graph built by build_decoder_graph, never a formula on the side, so the estimate and
// the simulator cannot disagree; each sum keeps its terms (op role, count, formula with the
// numbers substituted) so `--explain` can show where a figure comes from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/workload/model_spec.h"
#include "sim/workload/phase.h"
#include "sim/workload/workload_graph.h"

namespace dfsim {

struct EstimateRequest {
  PhaseKind phase = PhaseKind::kDecode;  // the phase `flops_per_token` and the memory refer to
  std::int64_t batch = 1;
  std::int64_t context =
      128;  // decode: tokens cached before the step (the new one attends context + 1)
  std::int64_t prompt = 512;  // prefill: prompt length
  int devices = 1;            // tensor-parallel ranks; figures below are per device
};

// One line of a derivation: `count` ops of one role with the same cost, each `formula`
// (the numbers substituted), together `value`.
struct Term {
  std::string role;
  std::int64_t count = 0;
  std::string formula;
  double value = 0;
};

struct ParameterGroup {
  std::string component;  // embedding, attention, mlp, router, experts, norms, lm_head
  std::int64_t parameters = 0;
  std::int64_t active = 0;  // per token (experts: num_experts_per_tok of them)
  std::vector<Term> terms;
};

// FLOPs of one step, split as the attention terms are usually discussed.
struct FlopCount {
  std::string label;        // "decode at context 4096"
  std::int64_t tokens = 0;  // tokens the step processes (batch x new tokens)
  double total = 0;
  double matmul = 0;            // projections, router, experts, LM head (incl. their biases)
  double attention_scores = 0;  // q.k dot products and the 1/sqrt(d) scale
  double attention_softmax = 0;
  double attention_values = 0;  // probabilities x values
  double other = 0;             // norms, RoPE, SwiGLU, residual adds
  double collectives = 0;       // all-reduce additions (devices > 1)
  std::vector<Term> terms;
  double per_token() const { return tokens > 0 ? total / tokens : 0; }
};

// Weight storage formats beyond the graph's own dtype.
struct WeightFormat {
  std::string name;  // "int4"
  double bytes_per_parameter = 0;
  std::string note;  // how the width is made up
};
const std::vector<WeightFormat>& weight_formats();

struct Optimizer {
  std::string key;   // JSON key: "adamw"
  std::string name;  // "AdamW (mixed precision)"
  double bytes = 0;  // weights + gradients + master + optimizer states, per device
  double state_bytes = 0;
  std::string formula;
};

struct LiveTensor {
  std::string name;
  double bytes = 0;
};

struct Estimate {
  std::string model;
  std::string weight_dtype;
  EstimateRequest request;
  std::int64_t sliding_window = 0;  // the model's window (0: none), for the explanation
  bool window_per_layer = false;    // layer overrides change it

  // Whole model (one rank), exact.
  std::int64_t total_parameters = 0;
  std::int64_t active_parameters = 0;
  std::vector<ParameterGroup> components;
  // Per device (equal to the totals on one device).
  std::int64_t parameters_per_device = 0;
  std::vector<ParameterGroup> device_components;

  FlopCount decode;   // per device
  FlopCount prefill;  // per device
  const FlopCount& asked() const { return request.phase == PhaseKind::kDecode ? decode : prefill; }

  double weight_bytes = 0;  // as configured (the graph's resident weight bytes)
  std::vector<Term> weight_terms;
  double kv_cache_bytes_per_token = 0;  // one token of one sequence
  std::vector<Term> kv_terms;
  double kv_cache_bytes = 0;      // what the asked step attends, all sequences
  std::int64_t kv_positions = 0;  // positions per sequence behind kv_cache_bytes (longest layer)
  double activation_peak_bytes = 0;
  std::string activation_peak_op;
  std::vector<LiveTensor> activation_peak_tensors;

  std::vector<Optimizer> training;
};

Estimate estimate_model(const ModelSpec& model, const EstimateRequest& request);

// Largest total of activation tensors live at once while the ops run in graph order: a tensor
// is live from its producer to its last consumer. Attention scores and probabilities are left
// out: every serving stack streams them through a fused (FlashAttention-style) kernel and never
// holds them whole. Logits leaving the graph count as an output of the LM head.
double activation_peak(const WorkloadGraph& graph, std::string* at_op = nullptr,
                       std::vector<LiveTensor>* live = nullptr);

// 1234567 -> "1,234,567".
std::string group_digits(double value);

}  // namespace dfsim
