#include "sim/workload/workload_graph.h"

#include <boost/graph/topological_sort.hpp>
#include <iterator>
#include <string>

#include "sim/common/error.h"

namespace dfsim {

WorkloadGraph::OpId WorkloadGraph::add_op(Op op) { return boost::add_vertex(std::move(op), graph_); }

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
  for (auto [it, end] = boost::vertices(graph_); it != end; ++it) parameters += graph_[*it].parameters;
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
// Tensor parallelism over R ranks: each rank holds heads/R query heads and max(1, kv_heads/R)
// kv heads (kv heads are replicated when there are fewer than ranks), intermediate/R MLP
// columns and vocab/R LM-head rows; norms, residuals and the embedding are replicated.
class DecoderBuilder {
 public:
  DecoderBuilder(const ModelSpec& model, const StepShape& step, int ranks)
      : model_(model),
        step_(step),
        ranks_(ranks),
        tokens_(step.batch * step.new_tokens),
        act_(model.activation_dtype),
        heads_(model.num_attention_heads / ranks),
        vocab_(ceil_div(model.vocab_size, ranks)) {}

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
  static std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

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
    if (kind == OpKind::kAllReduce) op.flops = static_cast<double>(partial.elements()) * (ranks_ - 1);
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
    return op;
  }

  OpId matmul(const std::string& role, int layer, std::int64_t m, std::int64_t k, std::int64_t n,
              bool owns_weights = true, double external_write_bytes = 0) {
    Op op = base(role, OpKind::kMatMul, layer);
    op.external_write_bytes = external_write_bytes;
    op.m = m;
    op.n = n;
    op.k = k;
    op.flops = op.matmul_flops = 2.0 * m * n * k;
    op.parameters = owns_weights ? n * k : 0;
    op.weight_bytes = static_cast<double>(n) * k * dtype_bytes(model_.weight_dtype);
    return graph_.add_op(std::move(op));
  }

  OpId rmsnorm(const std::string& role, int layer, std::int64_t rows) {
    const std::int64_t h = model_.hidden_size;
    Op op = base(role, OpKind::kRmsNorm, layer);
    op.m = rows;
    op.n = h;
    op.flops = static_cast<double>(rows) * (4 * h + 3);
    op.parameters = h;
    // Norm weights stay in the activation dtype even when matmul weights are quantized.
    op.weight_bytes = h * dtype_bytes(act_);
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
    op.parameters = model_.vocab_size * h;
    op.weight_bytes = static_cast<double>(tokens_) * h * dtype_bytes(model_.weight_dtype);
    op.external_read_bytes = tokens_ * 4.0;  // int32 token ids
    return graph_.add_op(std::move(op));
  }

  OpId decoder_layer(int layer, OpId x) {
    const std::int64_t h = model_.hidden_size;
    const std::int64_t kv_heads =
        std::max<std::int64_t>(1, model_.key_value_heads_of(layer) / ranks_);
    const std::int64_t q_width = heads_ * model_.head_dim;
    const std::int64_t kv_width = kv_heads * model_.head_dim;
    const std::int64_t inter = ceil_div(model_.intermediate_size_of(layer), ranks_);
    const std::string prefix = "layer" + std::to_string(layer) + ".";
    const Tensor residual_in = activation(prefix + "input", tokens_, h);

    OpId attn_norm = rmsnorm("attn_norm", layer, tokens_);
    graph_.add_tensor(x, attn_norm, residual_in);
    const Tensor normed = activation(prefix + "attn_norm.out", tokens_, h);
    OpId q = matmul("q_proj", layer, tokens_, h, q_width);
    OpId k = matmul("k_proj", layer, tokens_, h, kv_width);
    OpId v = matmul("v_proj", layer, tokens_, h, kv_width);
    for (OpId proj : {q, k, v}) graph_.add_tensor(attn_norm, proj, normed);

    Op rope_op = base("rope", OpKind::kRope, layer);
    rope_op.m = tokens_;
    rope_op.n = q_width + kv_width;
    rope_op.flops = 3.0 * tokens_ * (q_width + kv_width);
    OpId rope = graph_.add_op(std::move(rope_op));
    graph_.add_tensor(q, rope, activation(prefix + "q", tokens_, q_width));
    graph_.add_tensor(k, rope, activation(prefix + "k", tokens_, kv_width));

    Op append_op = base("kv_append", OpKind::kKvAppend, layer);
    append_op.m = tokens_;
    append_op.n = 2 * kv_width;
    append_op.cache_write_bytes = 2.0 * tokens_ * kv_width * dtype_bytes(model_.kv_cache_dtype);
    OpId append = graph_.add_op(std::move(append_op));
    graph_.add_tensor(rope, append, activation(prefix + "k_rotated", tokens_, kv_width));
    graph_.add_tensor(v, append, activation(prefix + "v", tokens_, kv_width));

    // Causal pairs per (sequence, head); see the class comment.
    const std::int64_t n = step_.new_tokens;
    const std::int64_t keys = step_.past + n;
    const double pairs = static_cast<double>(n) * step_.past + n * (n + 1) / 2.0;
    const double head_pairs = pairs * step_.batch * heads_;
    const double cache_bytes_one = static_cast<double>(step_.batch) * keys * kv_width *
                                   dtype_bytes(model_.kv_cache_dtype);  // K or V of all keys
    const Tensor scores_tensor{prefix + "scores", {step_.batch, heads_, n, keys}, act_};

    Op scores_op = base("attention_scores", OpKind::kAttentionScores, layer);
    scores_op.m = n;
    scores_op.groups = step_.batch * heads_;
    scores_op.n = keys;
    scores_op.k = model_.head_dim;
    scores_op.matmul_flops = 2.0 * model_.head_dim * head_pairs;
    scores_op.flops = scores_op.matmul_flops + head_pairs;
    scores_op.cache_read_bytes = cache_bytes_one;
    OpId scores = graph_.add_op(std::move(scores_op));
    graph_.add_tensor(rope, scores, activation(prefix + "q_rotated", tokens_, q_width));
    graph_.add_tensor(append, scores, dependency(prefix + "k_cached"));

    Op softmax_op = base("softmax", OpKind::kSoftmax, layer);
    softmax_op.m = n;
    softmax_op.groups = step_.batch * heads_;
    softmax_op.n = keys;
    softmax_op.flops = 5.0 * head_pairs;
    OpId softmax = graph_.add_op(std::move(softmax_op));
    graph_.add_tensor(scores, softmax, scores_tensor);

    Op values_op = base("attention_values", OpKind::kAttentionValues, layer);
    values_op.m = n;
    values_op.groups = step_.batch * heads_;
    values_op.n = model_.head_dim;
    values_op.k = keys;
    values_op.flops = values_op.matmul_flops = 2.0 * model_.head_dim * head_pairs;
    values_op.cache_read_bytes = cache_bytes_one;
    OpId values = graph_.add_op(std::move(values_op));
    Tensor probabilities = scores_tensor;
    probabilities.name = prefix + "probabilities";
    graph_.add_tensor(softmax, values, probabilities);
    graph_.add_tensor(append, values, dependency(prefix + "v_cached"));

    OpId o = matmul("o_proj", layer, tokens_, q_width, h);
    graph_.add_tensor(values, o, activation(prefix + "attention", tokens_, q_width));
    const Tensor o_out = activation(prefix + "o", tokens_, h);
    OpId o_reduced =
        collective("attn_all_reduce", OpKind::kAllReduce, layer, o, o_out, o_out.bytes());
    OpId attn_residual = add("attn_residual", layer);
    graph_.add_tensor(o_reduced, attn_residual,
                      ranks_ == 1 ? o_out : activation(prefix + "o_reduced", tokens_, h));
    graph_.add_tensor(x, attn_residual, residual_in);

    const Tensor hidden_mid = activation(prefix + "hidden", tokens_, h);
    OpId mlp_norm = rmsnorm("mlp_norm", layer, tokens_);
    graph_.add_tensor(attn_residual, mlp_norm, hidden_mid);
    const Tensor mlp_in = activation(prefix + "mlp_norm.out", tokens_, h);
    OpId gate = matmul("gate_proj", layer, tokens_, h, inter);
    OpId up = matmul("up_proj", layer, tokens_, h, inter);
    graph_.add_tensor(mlp_norm, gate, mlp_in);
    graph_.add_tensor(mlp_norm, up, mlp_in);

    Op swiglu_op = base("swiglu", OpKind::kSwiGlu, layer);
    swiglu_op.m = tokens_;
    swiglu_op.n = inter;
    swiglu_op.flops = 5.0 * tokens_ * inter;
    OpId swiglu = graph_.add_op(std::move(swiglu_op));
    graph_.add_tensor(gate, swiglu, activation(prefix + "gate", tokens_, inter));
    graph_.add_tensor(up, swiglu, activation(prefix + "up", tokens_, inter));

    OpId down = matmul("down_proj", layer, tokens_, inter, h);
    graph_.add_tensor(swiglu, down, activation(prefix + "swiglu", tokens_, inter));
    const Tensor down_out = activation(prefix + "down", tokens_, h);
    OpId down_reduced =
        collective("mlp_all_reduce", OpKind::kAllReduce, layer, down, down_out, down_out.bytes());
    OpId mlp_residual = add("mlp_residual", layer);
    graph_.add_tensor(down_reduced, mlp_residual,
                      ranks_ == 1 ? down_out : activation(prefix + "down_reduced", tokens_, h));
    graph_.add_tensor(attn_residual, mlp_residual, hidden_mid);
    return mlp_residual;
  }

  void head(OpId x) {
    const std::int64_t h = model_.hidden_size;
    // Prefill computes logits only for the last position of each sequence, as serving stacks
    // (vLLM, llama.cpp, TensorRT-LLM) do, and normalizes only those rows (llama.cpp selects them
    // before the final norm); decode has one position anyway.
    const std::int64_t rows = step_.prefill ? step_.batch : tokens_;
    OpId norm = rmsnorm("final_norm", -1, rows);
    graph_.add_tensor(x, norm, activation("final_norm.in", rows, h));
    // fp32 logits; with tensor parallelism each rank computes a vocabulary slice and the slices
    // are gathered.
    const double logits_bytes = static_cast<double>(rows) * model_.vocab_size * 4.0;
    const double slice_bytes = static_cast<double>(rows) * vocab_ * 4.0;
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
  std::int64_t tokens_;
  Dtype act_;
  std::int64_t heads_;
  std::int64_t vocab_;
  WorkloadGraph graph_;
};

}  // namespace

WorkloadGraph build_decoder_graph(const ModelSpec& model, const StepShape& step,
                                  int tensor_parallel) {
  if (tensor_parallel < 1 || model.num_attention_heads % tensor_parallel != 0) {
    throw InputError("tensor parallelism over " + std::to_string(tensor_parallel) +
                     " sockets needs num_attention_heads (" +
                     std::to_string(model.num_attention_heads) + ") divisible by it");
  }
  // Key/value heads are split over the ranks, or each replicated on a group of ranks.
  for (std::int64_t layer = 0; layer < model.num_layers; ++layer) {
    const std::int64_t kv_heads = model.key_value_heads_of(layer);
    if (kv_heads % tensor_parallel != 0 && tensor_parallel % kv_heads != 0) {
      throw InputError("tensor parallelism over " + std::to_string(tensor_parallel) +
                       " sockets needs num_key_value_heads (" + std::to_string(kv_heads) +
                       ") to divide it or be divisible by it");
    }
  }
  return DecoderBuilder(model, step, tensor_parallel).build();
}

}  // namespace dfsim
