#include "sim/workload/workload_graph.h"

#include <algorithm>
#include <boost/graph/topological_sort.hpp>
#include <cmath>
#include <iterator>
#include <string>
#include <utility>

#include "sim/common/error.h"
#include "sim/common/integer_math.h"

namespace dfsim {

WorkloadGraph::OpId WorkloadGraph::add_op(Op op) {
  return boost::add_vertex(std::move(op), graph_);
}

void WorkloadGraph::add_tensor(OpId producer, OpId consumer, Tensor tensor) {
  boost::add_edge(producer, consumer, std::move(tensor), graph_);
}

std::vector<WorkloadGraph::OpId> WorkloadGraph::topological_order() const {
  std::vector<OpId> reversed;
  boost::topological_sort(graph_, std::back_inserter(reversed));
  return {reversed.rbegin(), reversed.rend()};
}

double WorkloadGraph::input_bytes(OpId id) const {
  double bytes = 0;
  for (auto [it, end] = boost::in_edges(id, graph_); it != end; ++it) bytes += graph_[*it].bytes();
  return bytes;
}

double WorkloadGraph::output_bytes(OpId id) const {
  // Consumers of the same tensor share one write: count each tensor name once.
  std::vector<const Tensor*> seen;
  double bytes = 0;
  for (auto [it, end] = boost::out_edges(id, graph_); it != end; ++it) {
    const Tensor& tensor = graph_[*it];
    bool repeated = false;
    for (const Tensor* other : seen) repeated |= other->name == tensor.name;
    if (repeated) continue;
    seen.push_back(&tensor);
    bytes += tensor.bytes();
  }
  return bytes;
}

double WorkloadGraph::standalone_bytes(OpId id) const {
  const Op& o = graph_[id];
  return o.weight_bytes + o.cache_read_bytes + o.cache_write_bytes + o.external_read_bytes +
         o.external_write_bytes + input_bytes(id) + output_bytes(id);
}

double WorkloadGraph::total_flops() const {
  double flops = 0;
  for (auto [it, end] = boost::vertices(graph_); it != end; ++it) flops += graph_[*it].flops;
  return flops;
}

std::int64_t WorkloadGraph::total_parameters() const {
  std::int64_t parameters = 0;
  for (auto [it, end] = boost::vertices(graph_); it != end; ++it)
    parameters += graph_[*it].parameters;
  return parameters;
}

namespace {

// Builds the graph of one step. Cost conventions (each op documents its count):
// - matmul [m,k]x[k,n]: 2mnk FLOPs (one multiply and one add per term).
// - rmsnorm of a row of h: x^2 (h), sum (h), mean, +eps, rsqrt (3), x*r (h), *weight (h): 4h+3.
// - rope: each rotated pair costs 4 multiplies and 2 adds: 3 FLOPs per element of q and k.
// - attention, causal: a new token at position p attends to p+1 positions, so a sequence with
//   `past` cached tokens and `n` new ones scores S = n*past + n(n+1)/2 pairs per head.
//   scores: 2*head_dim FLOPs per pair (dot product) + 1 (scale by 1/sqrt(head_dim));
//   softmax: 5 per pair (max, subtract, exp, sum, divide); values: 2*head_dim per pair.
// - swiglu: silu(g)*u = g/(1+exp(-g))*u: exp, add, divide, two multiplies: 5 per element.
// - residual add: 1 per element.
// Bytes: weights are read once per step; the KV cache of every attended position is read once
// per kv head (a GQA kernel shares it among the heads of a group); activations are the edges.
// Tensor parallelism over R ranks: the graph is the busiest rank's. It holds ceil(heads/R)
// query heads and the kv heads they read (head_shard: max(1, kv_heads/R) when the counts
// divide; kv heads are replicated when there are fewer than ranks or a group straddles two
// ranks), ceil(intermediate/R) MLP columns and ceil(vocab/R) LM-head rows; norms, residuals
// and the embedding are replicated. With an uneven split, totals summed over ranks overstate
// the machine's attention work by the busiest rank's excess.
// - biases (attention_bias: q/k/v, attention_output_bias: o): n parameters and m*n adds on the
//   matmul; kept in the activation dtype like the norm weights (quantizers leave them alone).
// - sliding window W: the token at position p attends to min(p+1, W) positions (its own
//   included, as transformers' sliding-window mask and Mistral's rolling cache count them); a
//   step reads the keys some new token attends: min(past + n, n + W - 1) per sequence.
// - mixture of experts (E experts, top-k, per-expert width I, T tokens in the step):
//   router: logits 2*T*h*E, then per token a softmax over E (5E), top-k selection (k passes
//   over E: kE) and renormalizing the k weights (2k).
//   experts: the T*k routed (token, expert) rows go through their expert's gate/up [h, 2I]
//   and down [I, h]: 2*T*k*h*2I and 2*T*k*I*h FLOPs, 5*T*k*I for SwiGLU, and 2 per element
//   of a routed row (scale by its routing weight, accumulate into the token's output).
//   Parameters count all E experts; a token uses k of them (active parameters).
//   Weight bytes per step: the distinct experts the step touches. With routing uniformly at
//   random, a token picks a given expert with probability k/E, so it stays unused by all T
//   tokens with probability (1 - k/E)^T and the expected number read is E(1 - (1 - k/E)^T):
//   k at T = 1, approaching E as T grows (expected_distinct_experts()).
//   Over R ranks, when R divides E and expert_parallel is on, each rank holds E/R whole
//   experts (expert parallelism). Attention output is replicated on every rank after its
//   all-reduce, so every rank routes all T tokens with a replicated router, runs only the rows
//   routed to its experts and writes a partial [T, h] output (zero for other tokens); the MLP's
//   all-reduce sums the partials, so expert parallelism needs no all-to-all here. The graph
//   is the busiest rank's, which the all-reduce waits for: ceil(T*k/R) rows (a balanced
//   router; random imbalance is not modelled) reading min(E/R, rows, max(1, (E/R)(1 - (1 -
//   k/E)^T))) experts — at decode batch 1 on 8 ranks the two routed rows sit on two ranks
//   reading one expert each. Totals summed over ranks therefore overstate the whole machine's
//   expert work. Otherwise every rank holds I/R columns of all E experts (tensor-parallel
//   experts), runs all T*k rows and reads E(1 - (1 - k/E)^T) expert slices.
// - DiJiang attention (m features per head of width d, H query and G kv heads, T new tokens):
//   feature maps phi(x) = D exp(T C x) of every rotated q and k head: the DCT C [m, d] counted
//   as a dense product (2md per head, on the matmul units), then scale, exp and weight (3m):
//   T (H + G)(2md + 3m). Linear attention keeps per sequence and kv head a running state
//   S = sum phi(k) v^T [m, d] and z = sum phi(k) [m] in fp32, in place of the KV cache. Per
//   token: S and z updated (2md + m per kv head), the output phi(q)^T S / phi(q)^T z
//   (2md + 2m + d per query head). A step reads the state (none before the first token) and
//   writes it back: 2 G (md + m) 4 bytes per sequence whatever the context, where softmax
//   attention reads the whole cache. FLOPs and bytes of a sequence therefore grow linearly with
//   its length (quadratically for softmax); a decode step costs the same at any context.
class DecoderBuilder {
 public:
  DecoderBuilder(const ModelSpec& model, const StepShape& step, int ranks)
      : model_(model),
        step_(step),
        ranks_(ranks),
        groups_(step.groups.empty()
                    ? std::vector<SequenceGroup>{{step.batch, step.new_tokens, step.past, true}}
                    : step.groups),
        tokens_(total_tokens(groups_)),
        logit_rows_(step.groups.empty() ? (step.prefill ? step.batch : tokens_)
                                        : sampled_sequences(groups_)),
        act_(model.activation_dtype),
        weights_(model.weight_layout()),
        head_weights_(model.lm_head_layout()),
        heads_(head_shard(model.num_attention_heads, model.num_key_value_heads, ranks).heads),
        vocab_(ceil_div(model.vocab_size, ranks)) {}

  static std::int64_t total_tokens(const std::vector<SequenceGroup>& groups) {
    std::int64_t tokens = 0;
    for (const SequenceGroup& group : groups) tokens += group.count * group.new_tokens;
    return tokens;
  }
  static std::int64_t sampled_sequences(const std::vector<SequenceGroup>& groups) {
    std::int64_t rows = 0;
    for (const SequenceGroup& group : groups) rows += group.logits ? group.count : 0;
    return rows;
  }

  WorkloadGraph build() {
    OpId x = embedding();
    for (int layer = 0; layer < model_.num_layers; ++layer) x = decoder_layer(layer, x);
    head(x);
    return std::move(graph_);
  }

 private:
  using OpId = WorkloadGraph::OpId;

  Tensor activation(const std::string& name, std::int64_t rows, std::int64_t width) const {
    return Tensor{name, {rows, width}, act_};
  }
  static Tensor dependency(const std::string& name) { return Tensor{name, {0}, Dtype::kBf16}; }

  // Ring collective over the ranks after `producer`; returns the op whose output carries on.
  OpId collective(const std::string& role, OpKind kind, int layer, OpId producer,
                  const Tensor& partial, double full_bytes, double external_write_bytes = 0) {
    if (ranks_ == 1) return producer;
    Op op = base(role, kind, layer);
    op.external_write_bytes = external_write_bytes;
    op.m = partial.shape.front();
    op.n = partial.shape.back();
    op.collective_bytes = full_bytes;
    // An all-reduce adds the R partial tensors: additions per element.
    if (kind == OpKind::kAllReduce)
      op.flops = static_cast<double>(partial.elements()) * (ranks_ - 1);
    OpId id = graph_.add_op(std::move(op));
    graph_.add_tensor(producer, id, partial);
    return id;
  }

  Op base(const std::string& role, OpKind kind, int layer) const {
    Op op;
    op.role = role;
    op.name = layer >= 0 ? "layer" + std::to_string(layer) + "." + role : role;
    op.kind = kind;
    op.layer = layer;
    op.compute_dtype = act_;
    op.weight_dtype = act_;
    return op;
  }

  bool w8a8() const { return model_.quantization != QuantizationScheme::kWeightOnly; }
  bool dynamic_scales() const { return model_.quantization == QuantizationScheme::kW8A8Dynamic; }

  // W8A8: the input shared by a group of projections is quantized once; returns the op the
  // projections read from and the tensor they read (the input itself under weight-only).
  std::pair<OpId, Tensor> quantized_input(const std::string& role, int layer, OpId producer,
                                          const Tensor& input) {
    if (!w8a8()) return {producer, input};
    const std::int64_t rows = input.shape.front();
    const std::int64_t width = input.shape.back();
    Op op = base(role, OpKind::kQuantize, layer);
    op.m = rows;
    op.n = width;
    const double elements = static_cast<double>(rows) * width;
    // Dynamic: |x| and a running max per element, the row's scale (max / 127 and its
    // reciprocal, 2 per row), then multiply, round, clamp: 5 per element + 2 per row.
    // Static: the calibrated scale is a constant: multiply, round, clamp, 3 per element.
    op.flops = dynamic_scales() ? 5.0 * elements + 2.0 * rows : 3.0 * elements;
    OpId id = graph_.add_op(std::move(op));
    graph_.add_tensor(producer, id, input);
    return {id, Tensor{input.name + ".int8", input.shape, Dtype::kInt8}};
  }

  // W8A8: the int32 accumulators of `projection` back to the activation dtype, in the int8
  // matmul's epilogue; returns the op whose output carries on (the projection under
  // weight-only). Dynamic: times the token's scale and the channel's weight scale, 2 per
  // element; static: one precomputed per-channel product of both scales, 1 per element.
  OpId dequantized(OpId projection, OpId quantize, const std::string& role, int layer) {
    if (!w8a8()) return projection;
    const Op& matmul_op = graph_.op(projection);
    Op op = base(role + "_dequantize", OpKind::kDequantize, layer);
    op.m = matmul_op.m;
    op.n = matmul_op.n;
    op.compute_dtype = Dtype::kInt8;  // part of the int8 matmul kernel
    const double elements = static_cast<double>(op.m) * op.n;
    op.flops = (dynamic_scales() ? 2.0 : 1.0) * elements;
    // int32 accumulators: 4 B per element, the size of fp32 (Dtype has no int32).
    Tensor accumulators{matmul_op.name + ".int32", {op.m, op.n}, Dtype::kFp32};
    OpId id = graph_.add_op(std::move(op));
    graph_.add_tensor(projection, id, std::move(accumulators));
    if (dynamic_scales()) {
      // fp32 scale per token, from the quantize op.
      const Op& source = graph_.op(quantize);
      graph_.add_tensor(quantize, id, Tensor{source.name + ".scales", {source.m}, Dtype::kFp32});
    }
    return id;
  }

  OpId matmul(const std::string& role, int layer, std::int64_t m, std::int64_t k, std::int64_t n,
              bool owns_weights = true, double external_write_bytes = 0, bool bias = false,
              bool int8_activations = false) {
    Op op = base(role, OpKind::kMatMul, layer);
    if (int8_activations) op.compute_dtype = Dtype::kInt8;
    op.external_write_bytes = external_write_bytes;
    op.m = m;
    op.n = n;
    op.k = k;
    op.flops = op.matmul_flops = 2.0 * m * n * k;
    op.parameters = owns_weights ? n * k : 0;
    const WeightLayout& layout = role == "lm_head" ? head_weights_ : weights_;
    op.weight_bytes = layout.matrix_bytes(k, n);
    op.weight_elements = static_cast<double>(n) * k;
    op.weight_dtype = layout.dtype;
    // A tied LM head reads the embedding table, which the embedding op holds.
    op.stored_weight_bytes = owns_weights ? op.weight_bytes : 0.0;
    if (bias) {
      op.flops += static_cast<double>(m) * n;
      op.parameters += n;
      op.weight_bytes += n * dtype_bytes(act_);
      op.stored_weight_bytes += n * dtype_bytes(act_);
    }
    op.active_parameters = op.parameters;
    return graph_.add_op(std::move(op));
  }

  OpId rmsnorm(const std::string& role, int layer, std::int64_t rows) {
    const std::int64_t h = model_.hidden_size;
    Op op = base(role, OpKind::kRmsNorm, layer);
    op.m = rows;
    op.n = h;
    op.flops = static_cast<double>(rows) * (4 * h + 3);
    op.parameters = op.active_parameters = h;
    // Norm weights stay in the activation dtype even when matmul weights are quantized.
    op.weight_bytes = op.stored_weight_bytes = h * dtype_bytes(act_);
    return graph_.add_op(std::move(op));
  }

  OpId add(const std::string& role, int layer) {
    Op op = base(role, OpKind::kAdd, layer);
    op.m = tokens_;
    op.n = model_.hidden_size;
    op.flops = static_cast<double>(tokens_) * model_.hidden_size;
    return graph_.add_op(std::move(op));
  }

  OpId embedding() {
    const std::int64_t h = model_.hidden_size;
    Op op = base("embedding", OpKind::kEmbedding, -1);
    op.m = tokens_;
    op.n = h;
    op.parameters = op.active_parameters = model_.vocab_size * h;
    // Each row (one token's vector) is quantized along h, with its own scales.
    op.weight_bytes = head_weights_.matrix_bytes(h, tokens_);
    op.weight_elements = static_cast<double>(tokens_) * h;
    op.weight_dtype = head_weights_.dtype;
    // The whole table stays resident although a step reads only its tokens' rows.
    op.stored_weight_bytes = head_weights_.matrix_bytes(h, model_.vocab_size);
    op.external_read_bytes = tokens_ * 4.0;  // int32 token ids
    return graph_.add_op(std::move(op));
  }

  OpId decoder_layer(int layer, OpId x) {
    const std::int64_t h = model_.hidden_size;
    const std::int64_t kv_heads =
        head_shard(model_.num_attention_heads, model_.key_value_heads_of(layer), ranks_).kv_heads;
    const std::int64_t q_width = heads_ * model_.head_dim;
    const std::int64_t kv_width = kv_heads * model_.head_dim;
    const std::int64_t inter = ceil_div(model_.intermediate_size_of(layer), ranks_);
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    const Tensor residual_in = activation(prefix + "input", tokens_, h);

    OpId attn_norm = rmsnorm("attn_norm", layer, tokens_);
    graph_.add_tensor(x, attn_norm, residual_in);
    const Tensor normed = activation(prefix + "attn_norm.out", tokens_, h);
    const bool qkv_bias = model_.attention_bias;
    const auto [qkv_source, qkv_input] = quantized_input("qkv_quantize", layer, attn_norm, normed);
    OpId q_proj = matmul("q_proj", layer, tokens_, h, q_width, true, 0, qkv_bias, w8a8());
    OpId k_proj = matmul("k_proj", layer, tokens_, h, kv_width, true, 0, qkv_bias, w8a8());
    OpId v_proj = matmul("v_proj", layer, tokens_, h, kv_width, true, 0, qkv_bias, w8a8());
    for (OpId proj : {q_proj, k_proj, v_proj}) graph_.add_tensor(qkv_source, proj, qkv_input);
    OpId q = dequantized(q_proj, qkv_source, "q_proj", layer);
    OpId k = dequantized(k_proj, qkv_source, "k_proj", layer);
    OpId v = dequantized(v_proj, qkv_source, "v_proj", layer);

    Op rope_op = base("rope", OpKind::kRope, layer);
    rope_op.m = tokens_;
    rope_op.n = q_width + kv_width;
    rope_op.flops = 3.0 * tokens_ * (q_width + kv_width);
    OpId rope = graph_.add_op(std::move(rope_op));
    graph_.add_tensor(q, rope, activation(prefix + "q", tokens_, q_width));
    graph_.add_tensor(k, rope, activation(prefix + "k", tokens_, kv_width));

    if (model_.is_dijiang()) {
      OpId mixed = dijiang_attention(layer, rope, v, kv_heads);
      return finish_layer(layer, x, residual_in, mixed, inter);
    }

    Op append_op = base("kv_append", OpKind::kKvAppend, layer);
    append_op.m = tokens_;
    append_op.n = 2 * kv_width;
    append_op.cache_write_bytes = 2.0 * tokens_ * kv_width * dtype_bytes(model_.kv_cache_dtype);
    OpId append = graph_.add_op(std::move(append_op));
    graph_.add_tensor(rope, append, activation(prefix + "k_rotated", tokens_, kv_width));
    graph_.add_tensor(v, append, activation(prefix + "v", tokens_, kv_width));

    // One scores/softmax/values chain per group of equal shapes (one for a uniform batch),
    // each after the previous: the kernel formation fuses them into one attention kernel, as
    // a variable-length FlashAttention runs every sequence of a serving batch in one launch.
    OpId values = append;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      values = attention(layer, g, rope, append, values, kv_width);
    }
    return finish_layer(layer, x, residual_in, values, inter);
  }

  // Attention of one group of sequences (`g` of groups_) at its own context; `previous` is the
  // previous group's values op (the append for the first). Returns the values op.
  OpId attention(int layer, std::size_t g, OpId rope, OpId append, OpId previous,
                 std::int64_t kv_width) {
    const SequenceGroup& group = groups_[g];
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    const std::string suffix = groups_.size() > 1 ? ".g" + std::to_string(g) : "";
    const std::int64_t rows = group.count * group.new_tokens;
    const std::int64_t q_width = heads_ * model_.head_dim;
    // Causal pairs per (sequence, head) and the keys they reach; see the class comment.
    const std::int64_t n = group.new_tokens;
    const std::int64_t window = model_.sliding_window_of(layer);
    const bool static_cache = window <= 0 && step_.cache_positions > group.past + n;
    const std::int64_t keys = static_cache ? step_.cache_positions
                              : window > 0 ? std::min(group.past + n, n + window - 1)
                                           : group.past + n;
    // A static cache scores every position of it, the masked ones included.
    const double pairs = static_cache ? static_cast<double>(n) * static_cast<double>(keys)
                                      : attended_pairs(group.past, n, window);
    const double head_pairs = pairs * group.count * heads_;
    const double cache_bytes_one = static_cast<double>(group.count) * keys * kv_width *
                                   dtype_bytes(model_.kv_cache_dtype);  // K or V of all keys
    const Tensor scores_tensor{prefix + "scores" + suffix, {group.count, heads_, n, keys}, act_};

    Op scores_op = base("attention_scores", OpKind::kAttentionScores, layer);
    scores_op.m = n;
    scores_op.groups = group.count * heads_;
    scores_op.kv_groups = group.count * (kv_width / model_.head_dim);
    scores_op.n = keys;
    scores_op.k = model_.head_dim;
    scores_op.matmul_flops = 2.0 * model_.head_dim * head_pairs;
    scores_op.flops = scores_op.matmul_flops + head_pairs;
    scores_op.cache_read_bytes = cache_bytes_one;
    OpId scores = graph_.add_op(std::move(scores_op));
    graph_.add_tensor(rope, scores, activation(prefix + "q_rotated" + suffix, rows, q_width));
    graph_.add_tensor(append, scores, dependency(prefix + "k_cached" + suffix));
    if (previous != append)
      graph_.add_tensor(previous, scores, dependency(prefix + "order" + suffix));

    Op softmax_op = base("softmax", OpKind::kSoftmax, layer);
    softmax_op.m = n;
    softmax_op.groups = group.count * heads_;
    softmax_op.n = keys;
    softmax_op.flops = 5.0 * head_pairs;
    OpId softmax = graph_.add_op(std::move(softmax_op));
    graph_.add_tensor(scores, softmax, scores_tensor);

    Op values_op = base("attention_values", OpKind::kAttentionValues, layer);
    values_op.m = n;
    values_op.groups = group.count * heads_;
    values_op.n = model_.head_dim;
    values_op.k = keys;
    values_op.flops = values_op.matmul_flops = 2.0 * model_.head_dim * head_pairs;
    values_op.cache_read_bytes = cache_bytes_one;
    OpId values = graph_.add_op(std::move(values_op));
    Tensor probabilities = scores_tensor;
    probabilities.name = prefix + "probabilities" + suffix;
    graph_.add_tensor(softmax, values, probabilities);
    graph_.add_tensor(append, values, dependency(prefix + "v_cached" + suffix));
    return values;
  }

  // o projection, residual, MLP block; `attention` produces the [tokens, q_width] mix.
  OpId finish_layer(int layer, OpId x, const Tensor& residual_in, OpId attention,
                    std::int64_t inter) {
    const std::int64_t h = model_.hidden_size;
    const std::int64_t q_width = heads_ * model_.head_dim;
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    const auto [o_source, o_input] = quantized_input(
        "o_quantize", layer, attention, activation(prefix + "attention", tokens_, q_width));
    OpId o_proj =
        matmul("o_proj", layer, tokens_, q_width, h, true, 0, model_.attention_output_bias, w8a8());
    graph_.add_tensor(o_source, o_proj, o_input);
    OpId o = dequantized(o_proj, o_source, "o_proj", layer);
    OpId attn_residual = reduce_and_add(layer, o, "o", "attn", x, residual_in);

    const Tensor hidden_mid = activation(prefix + "hidden", tokens_, h);
    OpId mlp_norm = rmsnorm("mlp_norm", layer, tokens_);
    graph_.add_tensor(attn_residual, mlp_norm, hidden_mid);
    const Tensor mlp_in = activation(prefix + "mlp_norm.out", tokens_, h);
    OpId down = model_.is_moe() ? experts(layer, mlp_norm, mlp_in)
                                : dense_mlp(layer, mlp_norm, mlp_in, inter);
    return reduce_and_add(layer, down, "down", "mlp", attn_residual, hidden_mid);
  }

  // DiJiang feature maps and linear attention (costs: see the class comment); returns the
  // linear attention op.
  OpId dijiang_attention(int layer, OpId rope, OpId v, std::int64_t kv_heads) {
    const std::int64_t d = model_.head_dim;
    const std::int64_t m = model_.dijiang_features;
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    const double heads = static_cast<double>(heads_ + kv_heads);
    Op features_op = base("dijiang_features", OpKind::kFeatureMap, layer);
    features_op.m = tokens_;
    features_op.n = (heads_ + kv_heads) * m;
    features_op.k = d;
    features_op.matmul_flops = 2.0 * tokens_ * heads * m * d;
    features_op.flops = features_op.matmul_flops + 3.0 * tokens_ * heads * m;
    OpId features = graph_.add_op(std::move(features_op));
    graph_.add_tensor(rope, features, activation(prefix + "q_rotated", tokens_, heads_ * d));
    graph_.add_tensor(rope, features, activation(prefix + "k_rotated", tokens_, kv_heads * d));

    // The state of each sequence; read only for those with tokens before this step.
    const double state_one = static_cast<double>(kv_heads) * (m * d + m) * 4.0;
    double state = 0, state_read = 0;
    std::int64_t sequences = 0, widest = 0;
    for (const SequenceGroup& group : groups_) {
      state += group.count * state_one;
      if (group.past > 0) state_read += group.count * state_one;
      sequences += group.count;
      widest = std::max(widest, group.new_tokens);
    }
    Op linear_op = base("linear_attention", OpKind::kLinearAttention, layer);
    linear_op.m = widest;
    linear_op.groups = sequences * heads_;
    linear_op.n = d;
    linear_op.k = m;
    linear_op.matmul_flops = 2.0 * tokens_ * (kv_heads + heads_) * m * d;
    linear_op.flops = linear_op.matmul_flops +
                      static_cast<double>(tokens_) * (kv_heads * m + heads_ * (2 * m + d));
    linear_op.cache_read_bytes = state_read;
    linear_op.cache_write_bytes = state;
    OpId linear = graph_.add_op(std::move(linear_op));
    graph_.add_tensor(features, linear, activation(prefix + "q_features", tokens_, heads_ * m));
    graph_.add_tensor(features, linear, activation(prefix + "k_features", tokens_, kv_heads * m));
    graph_.add_tensor(v, linear, activation(prefix + "v", tokens_, kv_heads * d));
    return linear;
  }

  // The end of a block: the row-parallel projection's partial sums are all-reduced over the
  // ranks (nothing to reduce on one), then added to the residual stream. `output` names the
  // projection's tensor ("o", "down"), `block` the collective and the add ("attn", "mlp").
  OpId reduce_and_add(int layer, OpId projection, const std::string& output,
                      const std::string& block, OpId residual, const Tensor& residual_tensor) {
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    const Tensor partial = activation(prefix + output, tokens_, model_.hidden_size);
    OpId reduced = collective(block + "_all_reduce", OpKind::kAllReduce, layer, projection, partial,
                              partial.bytes());
    OpId sum = add(block + "_residual", layer);
    graph_.add_tensor(reduced, sum,
                      ranks_ == 1
                          ? partial
                          : activation(prefix + output + "_reduced", tokens_, model_.hidden_size));
    graph_.add_tensor(residual, sum, residual_tensor);
    return sum;
  }

  // gate/up, SwiGLU, down; returns the down projection.
  OpId dense_mlp(int layer, OpId mlp_norm, const Tensor& mlp_in, std::int64_t inter) {
    const std::int64_t h = model_.hidden_size;
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    const auto [gate_up_source, gate_up_input] =
        quantized_input("gate_up_quantize", layer, mlp_norm, mlp_in);
    OpId gate_proj = matmul("gate_proj", layer, tokens_, h, inter, true, 0, false, w8a8());
    OpId up_proj = matmul("up_proj", layer, tokens_, h, inter, true, 0, false, w8a8());
    graph_.add_tensor(gate_up_source, gate_proj, gate_up_input);
    graph_.add_tensor(gate_up_source, up_proj, gate_up_input);
    OpId gate = dequantized(gate_proj, gate_up_source, "gate_proj", layer);
    OpId up = dequantized(up_proj, gate_up_source, "up_proj", layer);

    Op swiglu_op = base("swiglu", OpKind::kSwiGlu, layer);
    swiglu_op.m = tokens_;
    swiglu_op.n = inter;
    swiglu_op.flops = 5.0 * tokens_ * inter;
    OpId swiglu = graph_.add_op(std::move(swiglu_op));
    graph_.add_tensor(gate, swiglu, activation(prefix + "gate", tokens_, inter));
    graph_.add_tensor(up, swiglu, activation(prefix + "up", tokens_, inter));

    const auto [down_source, down_input] = quantized_input(
        "down_quantize", layer, swiglu, activation(prefix + "swiglu", tokens_, inter));
    OpId down_proj = matmul("down_proj", layer, tokens_, inter, h, true, 0, false, w8a8());
    graph_.add_tensor(down_source, down_proj, down_input);
    return dequantized(down_proj, down_source, "down_proj", layer);
  }

  // Router, grouped expert gate/up, SwiGLU, grouped expert down with the weighted combine;
  // returns the down projection. Sharding and costs: see the class comment.
  OpId experts(int layer, OpId mlp_norm, const Tensor& mlp_in) {
    const std::int64_t h = model_.hidden_size;
    const std::int64_t count = model_.num_local_experts;
    const std::int64_t top_k = model_.num_experts_per_tok;
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    const ExpertShard shard =
        expert_shard(model_, model_.intermediate_size_of(layer), tokens_, ranks_);

    Op router_op = base("router", OpKind::kRouter, layer);
    router_op.m = tokens_;
    router_op.k = h;
    router_op.n = count;
    router_op.matmul_flops = 2.0 * tokens_ * h * count;
    router_op.flops = router_op.matmul_flops +
                      static_cast<double>(tokens_) * (5 * count + top_k * count + 2 * top_k);
    router_op.parameters = router_op.active_parameters = h * count;
    router_op.weight_bytes = router_op.stored_weight_bytes = weights_.matrix_bytes(h, count);
    router_op.weight_elements = static_cast<double>(h) * count;
    router_op.weight_dtype = weights_.dtype;
    OpId router = graph_.add_op(std::move(router_op));
    graph_.add_tensor(mlp_norm, router, mlp_in);
    // Per token: k expert ids (int32) and k weights (fp32).
    const Tensor routing{prefix + "routing", {tokens_, 2 * top_k}, Dtype::kFp32};

    auto expert_matmul = [&](const std::string& role, std::int64_t k, std::int64_t n) {
      Op op = base(role, OpKind::kExpertMatMul, layer);
      op.m = shard.rows;
      op.k = k;
      op.n = n;
      op.flops = op.matmul_flops = 2.0 * shard.rows * n * k;
      op.experts = shard.experts;
      op.experts_read = shard.experts_read;
      op.parameters = shard.experts * k * n;
      // A token passes through top_k of the E experts: k/E of every expert-held weight.
      op.active_parameters = op.parameters * top_k / count;
      op.weight_bytes = shard.experts_read * weights_.matrix_bytes(k, n);
      op.weight_elements = shard.experts_read * k * n;
      op.weight_dtype = weights_.dtype;
      op.stored_weight_bytes = shard.experts * weights_.matrix_bytes(k, n);
      return op;
    };
    OpId gate_up = graph_.add_op(expert_matmul("expert_gate_up", h, 2 * shard.columns));
    graph_.add_tensor(mlp_norm, gate_up, mlp_in);
    graph_.add_tensor(router, gate_up, routing);

    Op swiglu_op = base("expert_swiglu", OpKind::kSwiGlu, layer);
    swiglu_op.m = shard.rows;
    swiglu_op.n = shard.columns;
    swiglu_op.flops = 5.0 * shard.rows * shard.columns;
    OpId swiglu = graph_.add_op(std::move(swiglu_op));
    graph_.add_tensor(gate_up, swiglu,
                      activation(prefix + "expert_gate", shard.rows, shard.columns));
    graph_.add_tensor(gate_up, swiglu, activation(prefix + "expert_up", shard.rows, shard.columns));

    Op down_op = expert_matmul("expert_down", shard.columns, h);
    down_op.flops += 2.0 * shard.rows * h;  // scale each routed row, accumulate per token
    OpId down = graph_.add_op(std::move(down_op));
    graph_.add_tensor(swiglu, down,
                      activation(prefix + "expert_swiglu", shard.rows, shard.columns));
    graph_.add_tensor(router, down, routing);
    return down;
  }

  void head(OpId x) {
    const std::int64_t h = model_.hidden_size;
    // Prefill computes logits only for the last position of each sequence, as serving stacks
    // (vLLM, llama.cpp, TensorRT-LLM) do, and normalizes only those rows (llama.cpp selects them
    // before the final norm); decode has one position anyway.
    const std::int64_t rows = logit_rows_;
    if (rows == 0) return;  // only prompt chunks that sample nothing yet
    OpId norm = rmsnorm("final_norm", -1, rows);
    graph_.add_tensor(x, norm, activation("final_norm.in", rows, h));
    // fp32 logits; with tensor parallelism each rank computes a vocabulary slice and the slices
    // are gathered.
    const double logits_bytes = static_cast<double>(rows) * model_.vocab_size * 4.0;
    OpId lm_head = matmul("lm_head", -1, rows, h, vocab_, !model_.tie_word_embeddings,
                          ranks_ == 1 ? logits_bytes : 0.0);
    graph_.add_tensor(norm, lm_head, activation("final_norm.out", rows, h));
    if (ranks_ > 1) {
      collective("logits_all_gather", OpKind::kAllGather, -1, lm_head,
                 Tensor{"logits_slice", {rows, vocab_}, Dtype::kFp32}, logits_bytes, logits_bytes);
    }
  }

  const ModelSpec& model_;
  StepShape step_;
  int ranks_;
  std::vector<SequenceGroup> groups_;  // the step's sequences (one group for a uniform batch)
  std::int64_t tokens_;
  std::int64_t logit_rows_;  // positions the LM head runs on
  Dtype act_;
  WeightLayout weights_;
  WeightLayout head_weights_;  // embedding table and LM head
  std::int64_t heads_;
  std::int64_t vocab_;
  WorkloadGraph graph_;
};

}  // namespace

double attended_pairs(std::int64_t past, std::int64_t new_tokens, std::int64_t window) {
  const double n = static_cast<double>(new_tokens);
  if (window <= 0) return n * past + n * (n + 1) / 2.0;
  // The new token i (0-based) sees c = past + i + 1 positions, capped at the window:
  // sum over c from a = past + 1 to b = past + n of min(c, W).
  const double a = static_cast<double>(past) + 1, b = static_cast<double>(past) + n;
  const double w = static_cast<double>(window);
  double pairs = 0;
  const double uncapped_end = std::min(b, w);
  if (a <= uncapped_end) pairs += (a + uncapped_end) * (uncapped_end - a + 1) / 2.0;
  const double capped_start = std::max(a, w + 1);
  if (capped_start <= b) pairs += w * (b - capped_start + 1);
  return pairs;
}

double expected_distinct_experts(std::int64_t experts, std::int64_t per_token,
                                 std::int64_t tokens) {
  if (experts <= 0 || tokens <= 0) return 0;
  const double unused = std::pow(1.0 - static_cast<double>(per_token) / experts, tokens);
  return experts * (1.0 - unused);
}

ExpertShard expert_shard(const ModelSpec& model, std::int64_t intermediate, std::int64_t tokens,
                         int ranks) {
  const std::int64_t count = model.num_local_experts;
  const std::int64_t top_k = model.num_experts_per_tok;
  const double expected = expected_distinct_experts(count, top_k, tokens);
  ExpertShard shard;
  if (ranks > 1 && model.expert_parallel && count % ranks == 0) {
    const std::int64_t local = count / ranks;
    shard.expert_parallel = true;
    shard.experts = local;
    shard.columns = intermediate;
    shard.rows = ceil_div(tokens * top_k, ranks);
    shard.experts_read = std::min({static_cast<double>(local), static_cast<double>(shard.rows),
                                   std::max(1.0, expected / ranks)});
    return shard;
  }
  shard.experts = count;
  shard.columns = ceil_div(intermediate, ranks);
  shard.rows = tokens * top_k;
  shard.experts_read = expected;
  return shard;
}

HeadShard head_shard(std::int64_t heads, std::int64_t kv_heads, int ranks) {
  HeadShard busiest;
  if (ranks < 1 || heads < 1 || kv_heads < 1) return busiest;
  const std::int64_t group = heads / kv_heads;  // query heads per kv head (model_spec checks)
  std::int64_t start = 0;
  std::int64_t held_kv = 0;
  for (int rank = 0; rank < ranks; ++rank) {
    const std::int64_t count = heads / ranks + (rank < heads % ranks ? 1 : 0);
    // A rank without query heads (more ranks than heads) holds none of the kv heads either.
    const std::int64_t kv = count > 0 ? (start + count - 1) / group - start / group + 1 : 0;
    held_kv += kv;
    const std::int64_t load = 2 * count + 2 * kv, best = 2 * busiest.heads + 2 * busiest.kv_heads;
    if (load > best || (load == best && kv > busiest.kv_heads)) {
      busiest.heads = count;
      busiest.kv_heads = kv;
    }
    start += count;
  }
  busiest.mean_heads = static_cast<double>(heads) / ranks;
  busiest.mean_kv_heads = static_cast<double>(held_kv) / ranks;
  return busiest;
}

WorkloadGraph build_decoder_graph(const ModelSpec& model, const StepShape& step,
                                  int tensor_parallel) {
  if (tensor_parallel < 1) {
    throw InputError("tensor parallelism needs at least one socket, not " +
                     std::to_string(tensor_parallel));
  }
  return DecoderBuilder(model, step, tensor_parallel).build();
}

}  // namespace dfsim
