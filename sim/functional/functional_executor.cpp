#include "sim/functional/functional_executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "sim/common/integer_math.h"
#include "sim/functional/numerics.h"

namespace dfsim::functional {

namespace {

// Row blocks of a GEMM tile and the largest GEMV: the GPU mapper's CUTLASS-style 128-row
// output tile, below 64 rows one block (kept in step with sim/mapping/gpu_mapper.cpp; the
// split only has to be some exact cover of the output, which the executor checks).
constexpr std::int64_t kRowBlock = 128;
constexpr std::int64_t kSingleBlockRows = 64;

std::int64_t split(std::int64_t total, std::int64_t parts, std::int64_t index) {
  return total * index / parts;
}

[[noreturn]] void fail(const std::string& message) {
  throw std::logic_error("functional execution: " + message);
}

}  // namespace

FunctionalExecutor::FunctionalExecutor(const ModelSpec& model, const ModelWeights& weights,
                                       const std::vector<WorkloadGraph>& graphs,
                                       const std::vector<StepShape>& shapes,
                                       const std::vector<Program>& programs,
                                       std::vector<std::int32_t> prompt)
    : model_(model),
      weights_(weights),
      graphs_(graphs),
      shapes_(shapes),
      programs_(programs),
      frequencies_(rope_frequencies(model)),
      caches_(static_cast<std::size_t>(model.num_layers)),
      states_(static_cast<std::size_t>(model.num_layers)) {
  if (model.is_dijiang()) dijiang_ = dijiang_map(model.dijiang_features, model.head_dim);
  if (graphs.size() != programs.size() || shapes.size() != programs.size() || programs.empty()) {
    fail("one graph, step shape and program per step are needed");
  }
  const StepShape& first = shapes.front();
  if (static_cast<std::int64_t>(prompt.size()) != first.new_tokens) {
    fail(fmt::format("the first step processes {} tokens, the prompt has {}", first.new_tokens,
                     prompt.size()));
  }
  std::vector<std::int32_t> tokens;
  for (std::int64_t b = 0; b < first.batch; ++b)
    tokens.insert(tokens.end(), prompt.begin(), prompt.end());
  step_tokens_.push_back(std::move(tokens));
}

void FunctionalExecutor::begin_step(int step) {
  if (step == step_) return;
  if (step != step_ + 1 || step >= static_cast<int>(programs_.size())) {
    fail(fmt::format("step {} ran after step {}", step, step_));
  }
  if (step_ >= 0) check_step_complete();
  step_ = step;
  graph_ = &graphs_[static_cast<std::size_t>(step)];
  shape_ = shapes_[static_cast<std::size_t>(step)];
  buffers_.clear();
  partials_.clear();
  partials_done_.clear();
  fused_.clear();
}

void FunctionalExecutor::check_step_complete() const {
  for (std::size_t id = 0; id < graph_->op_count(); ++id) {
    if (fused_.count(id)) continue;
    const Op& op = graph_->op(id);
    const int slots = op.kind == OpKind::kRope || op.kind == OpKind::kFeatureMap ? 2 : 1;
    for (int slot = 0; slot < slots; ++slot) {
      auto it = buffers_.find({id, slot});
      const std::int64_t done = it == buffers_.end() ? 0 : it->second.total;
      const std::int64_t size = it == buffers_.end() ? 1 : it->second.rows * it->second.cols;
      if (done != size) {
        fail(fmt::format("step {}: the program computed {} of {} elements of {}", step_, done,
                         it == buffers_.end() ? std::string("all") : std::to_string(size),
                         op.name));
      }
    }
  }
}

void FunctionalExecutor::finish() {
  if (step_ + 1 != static_cast<int>(programs_.size())) {
    fail(fmt::format("the machine ran {} of {} steps", step_ + 1, programs_.size()));
  }
  check_step_complete();
}

std::int64_t FunctionalExecutor::rows_of(const Op& op) const {
  switch (op.kind) {
    case OpKind::kAttentionScores:
    case OpKind::kSoftmax:
    case OpKind::kAttentionValues:
    case OpKind::kLinearAttention:
      return shape_.batch * shape_.new_tokens;
    default:
      return op.m;
  }
}

FunctionalExecutor::Buffer& FunctionalExecutor::output(std::size_t op, int slot, std::int64_t rows,
                                                       std::int64_t cols) {
  Buffer& buffer = buffers_[{op, slot}];
  if (buffer.data.empty()) {
    buffer.rows = rows;
    buffer.cols = cols;
    buffer.data.assign(static_cast<std::size_t>(rows * cols), 0.0f);
    buffer.written.assign(static_cast<std::size_t>(rows), 0);
  }
  return buffer;
}

void FunctionalExecutor::mark(Buffer& buffer, std::size_t op, std::int64_t row,
                              std::int64_t elements) {
  std::int64_t& done = buffer.written[static_cast<std::size_t>(row)];
  done += elements;
  buffer.total += elements;
  if (done > buffer.cols) {
    fail(fmt::format("step {}: row {} of {} computed more than once", step_, row,
                     graph_->op(op).name));
  }
}

const FunctionalExecutor::Buffer& FunctionalExecutor::input(std::size_t consumer,
                                                            std::size_t producer, int slot,
                                                            std::int64_t first, std::int64_t last) {
  auto it = buffers_.find({producer, slot});
  for (std::int64_t r = first; r < last; ++r) {
    if (it == buffers_.end() ||
        it->second.written[static_cast<std::size_t>(r)] != it->second.cols) {
      fail(fmt::format("step {}: {} reads row {} of {} before it is computed", step_,
                       graph_->op(consumer).name, r, graph_->op(producer).name));
    }
  }
  return it->second;
}

std::size_t FunctionalExecutor::source(std::size_t op, OpKind kind, const char* role) const {
  const auto& graph = graph_->graph();
  for (auto [it, end] = boost::in_edges(op, graph); it != end; ++it) {
    const std::size_t from = boost::source(*it, graph);
    const Op& producer = graph_->op(from);
    if (producer.kind == kind && (!role || producer.role == role)) return from;
  }
  fail("op " + graph_->op(op).name + " has no " + std::string(role ? role : op_kind_name(kind)) +
       " input");
}

void FunctionalExecutor::check_cache(std::size_t op, int layer, std::int64_t sequence,
                                     std::int64_t first, std::int64_t last) const {
  const auto& written = caches_[static_cast<std::size_t>(layer)].written;
  for (std::int64_t p = first; p < last; ++p) {
    if (static_cast<std::size_t>(sequence) >= written.size() ||
        static_cast<std::size_t>(p) >= written[static_cast<std::size_t>(sequence)].size() ||
        !written[static_cast<std::size_t>(sequence)][static_cast<std::size_t>(p)]) {
      fail(fmt::format("step {}: {} reads position {} of the KV cache before it is written", step_,
                       graph_->op(op).name, p));
    }
  }
}

namespace {
struct MatmulWeights {
  std::span<const float> weight;
  std::span<const float> bias;
};

MatmulWeights matmul_weights(const ModelWeights& weights, const Op& op) {
  if (op.role == "lm_head") return {weights.lm_head, {}};
  const LayerWeights& w = weights.layers.at(static_cast<std::size_t>(op.layer));
  if (op.role == "q_proj") return {w.q_proj, w.q_bias};
  if (op.role == "k_proj") return {w.k_proj, w.k_bias};
  if (op.role == "v_proj") return {w.v_proj, w.v_bias};
  if (op.role == "o_proj") return {w.o_proj, w.o_bias};
  if (op.role == "gate_proj") return {w.gate_proj, {}};
  if (op.role == "up_proj") return {w.up_proj, {}};
  if (op.role == "down_proj") return {w.down_proj, {}};
  fail("no weights for matmul " + op.name);
}

std::span<const float> norm_weights(const ModelWeights& weights, const Op& op) {
  if (op.role == "final_norm") return weights.final_norm;
  const LayerWeights& w = weights.layers.at(static_cast<std::size_t>(op.layer));
  if (op.role == "attn_norm") return w.attn_norm;
  if (op.role == "mlp_norm") return w.mlp_norm;
  fail("no weights for norm " + op.name);
}
}  // namespace

void FunctionalExecutor::run_matmul(std::size_t id, std::int64_t first_row, std::int64_t last_row,
                                    std::int64_t first_col, std::int64_t last_col) {
  if (first_row >= last_row || first_col >= last_col) return;
  const Op& op = graph_->op(id);
  const std::size_t from =
      boost::source(*boost::in_edges(id, graph_->graph()).first, graph_->graph());
  const Buffer& x = input(id, from, 0, first_row, last_row);
  if (x.cols != op.k)
    fail(fmt::format("{} expects {} inputs per row, got {}", op.name, op.k, x.cols));
  // Logits stay fp32 (the graph's lm_head writes fp32); other products are activations.
  const Dtype dtype = op.role == "lm_head" ? Dtype::kFp32 : model_.activation_dtype;
  Buffer& out = output(id, 0, op.m, op.n);
  const MatmulWeights w = matmul_weights(weights_, op);
  for (std::int64_t r = first_row; r < last_row; ++r) {
    std::span<const float> row(x.data.data() + r * x.cols, static_cast<std::size_t>(x.cols));
    matmul_columns(row, w.weight, w.bias, first_col, last_col, out.row(r) + first_col, dtype);
    mark(out, id, r, last_col - first_col);
  }
  after_write(id);
}

void FunctionalExecutor::run_rows(std::size_t id, std::int64_t first, std::int64_t last) {
  if (first >= last) return;
  const Op& op = graph_->op(id);
  const Dtype act = model_.activation_dtype;
  const std::int64_t h = model_.hidden_size;
  const std::int64_t n = shape_.new_tokens;
  const std::int64_t d = model_.head_dim;
  auto position = [&](std::int64_t row) { return shape_.past + row % n; };
  auto span_of = [](const Buffer& b, std::int64_t r) {
    return std::span<const float>(b.data.data() + r * b.cols, static_cast<std::size_t>(b.cols));
  };
  switch (op.kind) {
    case OpKind::kEmbedding: {
      if (static_cast<std::size_t>(step_) >= step_tokens_.size()) {
        fail(fmt::format("step {} embeds its tokens before step {} chose them", step_, step_ - 1));
      }
      const std::vector<std::int32_t>& tokens = step_tokens_[static_cast<std::size_t>(step_)];
      Buffer& out = output(id, 0, op.m, h);
      for (std::int64_t r = first; r < last; ++r) {
        const std::int32_t token = tokens.at(static_cast<std::size_t>(r));
        const float* row = weights_.embed_tokens.data() + static_cast<std::int64_t>(token) * h;
        for (std::int64_t i = 0; i < h; ++i) out.row(r)[i] = round_to(row[i], act);
        mark(out, id, r, h);
      }
      break;
    }
    case OpKind::kRmsNorm: {
      const std::size_t from =
          boost::source(*boost::in_edges(id, graph_->graph()).first, graph_->graph());
      const auto stride = buffers_.count({from, 0}) ? buffers_.at({from, 0}).rows / op.m : 1;
      // The prefill head normalizes only the last position of each sequence.
      const Buffer& x = input(id, from, 0, (first + 1) * stride - 1, last * stride);
      Buffer& out = output(id, 0, op.m, h);
      const std::span<const float> weight = norm_weights(weights_, op);
      for (std::int64_t r = first; r < last; ++r) {
        rms_norm(span_of(x, (r + 1) * stride - 1), weight, model_.rms_norm_eps,
                 {out.row(r), static_cast<std::size_t>(h)}, act);
        mark(out, id, r, h);
      }
      break;
    }
    case OpKind::kMatMul:
      run_matmul(id, first, last, 0, op.n);
      return;
    case OpKind::kRope: {
      const std::size_t q_id = source(id, OpKind::kMatMul, "q_proj");
      const std::size_t k_id = source(id, OpKind::kMatMul, "k_proj");
      const Buffer& q = input(id, q_id, 0, first, last);
      const Buffer& k = input(id, k_id, 0, first, last);
      Buffer& q_out = output(id, 0, op.m, q.cols);
      Buffer& k_out = output(id, 1, op.m, k.cols);
      for (std::int64_t r = first; r < last; ++r) {
        std::copy_n(q.data.data() + r * q.cols, q.cols, q_out.row(r));
        std::copy_n(k.data.data() + r * k.cols, k.cols, k_out.row(r));
        rope({q_out.row(r), static_cast<std::size_t>(q.cols)}, d, position(r), frequencies_, act);
        rope({k_out.row(r), static_cast<std::size_t>(k.cols)}, d, position(r), frequencies_, act);
        mark(q_out, id, r, q.cols);
        mark(k_out, id, r, k.cols);
      }
      break;
    }
    case OpKind::kKvAppend: {
      const Buffer& k = input(id, source(id, OpKind::kRope), 1, first, last);
      const Buffer& v = input(id, source(id, OpKind::kMatMul, "v_proj"), 0, first, last);
      Cache& cache = caches_[static_cast<std::size_t>(op.layer)];
      Buffer& out = output(id, 0, op.m, 1);
      const std::int64_t width = k.cols;
      for (std::int64_t r = first; r < last; ++r) {
        const auto b = static_cast<std::size_t>(r / n);
        const auto p = static_cast<std::size_t>(position(r));
        if (cache.keys.size() <= b) {
          cache.keys.resize(b + 1);
          cache.values.resize(b + 1);
          cache.written.resize(b + 1);
        }
        if (cache.written[b].size() <= p) {
          cache.keys[b].resize((p + 1) * width);
          cache.values[b].resize((p + 1) * width);
          cache.written[b].resize(p + 1, false);
        }
        if (cache.written[b][p])
          fail(fmt::format("step {}: {} writes position {} twice", step_, op.name, p));
        for (std::int64_t i = 0; i < width; ++i) {
          cache.keys[b][p * width + i] = round_to(k.data[r * width + i], model_.kv_cache_dtype);
          cache.values[b][p * width + i] = round_to(v.data[r * width + i], model_.kv_cache_dtype);
        }
        cache.written[b][p] = true;
        out.row(r)[0] = 1;
        mark(out, id, r, 1);
      }
      break;
    }
    case OpKind::kAttentionScores:
    case OpKind::kSoftmax:
    case OpKind::kAttentionValues: {
      const std::int64_t heads = op.groups / shape_.batch;
      const std::int64_t keys = shape_.past + n;
      const Cache& cache = caches_[static_cast<std::size_t>(op.layer)];
      const std::int64_t window = model_.sliding_window_of(op.layer);
      const float scale = 1.0f / std::sqrt(static_cast<float>(d));
      if (op.kind == OpKind::kAttentionScores) {
        const Buffer& q = input(id, source(id, OpKind::kRope), 0, first, last);
        Buffer& out = output(id, 0, rows_of(op) * heads, keys);
        for (std::int64_t r = first; r < last; ++r) {
          const std::int64_t b = r / n, p = position(r);
          const std::int64_t begin = window > 0 ? std::max<std::int64_t>(0, p - window + 1) : 0;
          check_cache(id, op.layer, b, begin, p + 1);
          const std::vector<float>& k = cache.keys[static_cast<std::size_t>(b)];
          const std::int64_t width = cache.width(b);
          const std::int64_t per_kv = heads / (width / d);
          for (std::int64_t head = 0; head < heads; ++head) {
            std::span<const float> query(q.data.data() + r * q.cols + head * d,
                                         static_cast<std::size_t>(d));
            attention_scores(query, k.data() + (head / per_kv) * d, width, begin, p + 1, scale,
                             {out.row(r * heads + head), static_cast<std::size_t>(keys)});
            mark(out, id, r * heads + head, keys);
          }
        }
      } else if (op.kind == OpKind::kSoftmax) {
        const Buffer& s =
            input(id, source(id, OpKind::kAttentionScores), 0, first * heads, last * heads);
        Buffer& out = output(id, 0, rows_of(op) * heads, keys);
        for (std::int64_t row = first * heads; row < last * heads; ++row) {
          softmax(span_of(s, row), {out.row(row), static_cast<std::size_t>(keys)});
          mark(out, id, row, keys);
        }
      } else {
        const Buffer& probabilities =
            input(id, source(id, OpKind::kSoftmax), 0, first * heads, last * heads);
        Buffer& out = output(id, 0, rows_of(op), heads * d);
        for (std::int64_t r = first; r < last; ++r) {
          const std::int64_t b = r / n;
          check_cache(id, op.layer, b, 0, position(r) + 1);
          const std::vector<float>& v = cache.values[static_cast<std::size_t>(b)];
          const std::int64_t width = cache.width(b);
          const std::int64_t per_kv = heads / (width / d);
          for (std::int64_t head = 0; head < heads; ++head) {
            // Only the positions this row attends to carry probability (the rest are zero).
            std::span<const float> p = span_of(probabilities, r * heads + head)
                                           .first(static_cast<std::size_t>(position(r) + 1));
            attention_values(p, v.data() + (head / per_kv) * d, width, d,
                             {out.row(r) + head * d, static_cast<std::size_t>(d)}, act);
          }
          mark(out, id, r, heads * d);
        }
      }
      break;
    }
    case OpKind::kFeatureMap: {
      const std::size_t rope_id = source(id, OpKind::kRope);
      const std::int64_t m = dijiang_.features;
      for (int slot = 0; slot < 2; ++slot) {
        const Buffer& x = input(id, rope_id, slot, first, last);
        const std::int64_t heads = x.cols / d;
        Buffer& out = output(id, slot, op.m, heads * m);
        for (std::int64_t r = first; r < last; ++r) {
          for (std::int64_t head = 0; head < heads; ++head) {
            dijiang_features({x.data.data() + r * x.cols + head * d, static_cast<std::size_t>(d)},
                             dijiang_, {out.row(r) + head * m, static_cast<std::size_t>(m)}, act);
          }
          mark(out, id, r, heads * m);
        }
      }
      break;
    }
    case OpKind::kLinearAttention: {
      // Causal by construction: each token joins the running sums, then reads them. The rows of
      // a sequence must therefore arrive in order, across tiles, chunks and steps.
      const std::size_t features_id = source(id, OpKind::kFeatureMap);
      const Buffer& fq = input(id, features_id, 0, first, last);
      const Buffer& fk = input(id, features_id, 1, first, last);
      const Buffer& v = input(id, source(id, OpKind::kMatMul, "v_proj"), 0, first, last);
      const std::int64_t m = dijiang_.features;
      const std::int64_t heads = fq.cols / m, kv_heads = fk.cols / m;
      LinearState& state = states_[static_cast<std::size_t>(op.layer)];
      Buffer& out = output(id, 0, rows_of(op), heads * d);
      for (std::int64_t r = first; r < last; ++r) {
        const auto b = static_cast<std::size_t>(r / n);
        if (state.s.size() <= b) {
          state.s.resize(b + 1,
                         std::vector<float>(static_cast<std::size_t>(kv_heads * m * d), 0.0f));
          state.z.resize(b + 1, std::vector<float>(static_cast<std::size_t>(kv_heads * m), 0.0f));
          state.next.resize(b + 1, 0);
        }
        if (state.next[b] != position(r)) {
          fail(fmt::format(
              "step {}: {} takes position {} of sequence {}, the running state is at {}", step_,
              op.name, position(r), b, state.next[b]));
        }
        ++state.next[b];
        float* s = state.s[b].data();
        float* z = state.z[b].data();
        for (std::int64_t g = 0; g < kv_heads; ++g) {
          const float* phi = fk.data.data() + r * fk.cols + g * m;
          const float* value = v.data.data() + r * v.cols + g * d;
          for (std::int64_t i = 0; i < m; ++i) {
            z[g * m + i] += phi[i];
            for (std::int64_t j = 0; j < d; ++j) s[(g * m + i) * d + j] += phi[i] * value[j];
          }
        }
        for (std::int64_t head = 0; head < heads; ++head) {
          const std::int64_t g = head / (heads / kv_heads);
          const float* phi = fq.data.data() + r * fq.cols + head * m;
          float denominator = 0;
          for (std::int64_t i = 0; i < m; ++i) denominator += phi[i] * z[g * m + i];
          for (std::int64_t j = 0; j < d; ++j) {
            float numerator = 0;
            for (std::int64_t i = 0; i < m; ++i) numerator += phi[i] * s[(g * m + i) * d + j];
            out.row(r)[head * d + j] = round_to(numerator / denominator, act);
          }
        }
        mark(out, id, r, heads * d);
      }
      break;
    }
    case OpKind::kSwiGlu: {
      const Buffer& gate = input(id, source(id, OpKind::kMatMul, "gate_proj"), 0, first, last);
      const Buffer& up = input(id, source(id, OpKind::kMatMul, "up_proj"), 0, first, last);
      Buffer& out = output(id, 0, op.m, op.n);
      for (std::int64_t r = first; r < last; ++r) {
        swiglu(span_of(gate, r), span_of(up, r), {out.row(r), static_cast<std::size_t>(op.n)}, act);
        mark(out, id, r, op.n);
      }
      break;
    }
    case OpKind::kAdd: {
      std::vector<std::size_t> from;
      for (auto [it, end] = boost::in_edges(id, graph_->graph()); it != end; ++it)
        from.push_back(boost::source(*it, graph_->graph()));
      if (from.size() != 2) fail(op.name + " needs two inputs");
      const Buffer& a = input(id, from[0], 0, first, last);
      const Buffer& b = input(id, from[1], 0, first, last);
      Buffer& out = output(id, 0, op.m, op.n);
      for (std::int64_t r = first; r < last; ++r) {
        add(span_of(a, r), span_of(b, r), {out.row(r), static_cast<std::size_t>(op.n)}, act);
        mark(out, id, r, op.n);
      }
      break;
    }
    default:
      fail("op " + op.name + " (" + std::string(op_kind_name(op.kind)) +
           ") is not executed functionally");
  }
  after_write(id);
}

void FunctionalExecutor::run_fused_attention(const Kernel& kernel, std::int64_t tile) {
  std::size_t scores_id = 0, softmax_id = 0, values_id = 0;
  for (std::size_t id : kernel.ops) {
    const OpKind kind = graph_->op(id).kind;
    if (kind == OpKind::kAttentionScores)
      scores_id = id;
    else if (kind == OpKind::kSoftmax)
      softmax_id = id;
    else if (kind == OpKind::kAttentionValues)
      values_id = id;
    else
      fail("kernel " + kernel.name + " fuses attention with " + graph_->op(id).name);
  }
  const Op& op = graph_->op(scores_id);
  const std::int64_t groups = op.groups;
  // One tile per (sequence, query head) and part (FlashDecoding, FlashAttention), or, as
  // TensorRT-LLM's XQA launches decode, one per (sequence, KV head) and part: such a tile
  // attends every query head that shares its KV head.
  std::int64_t heads_per_tile = 1;
  if (kernel.tiles % groups != 0 && op.kv_groups > 0 && kernel.tiles % op.kv_groups == 0) {
    heads_per_tile = groups / op.kv_groups;
  }
  const std::int64_t tile_groups = groups / heads_per_tile;
  if (kernel.tiles % tile_groups != 0) {
    fail(fmt::format("kernel {}: {} tiles do not split {} (sequence, head) groups", kernel.name,
                     kernel.tiles, groups));
  }
  const std::int64_t parts = kernel.tiles / tile_groups;
  const std::int64_t part = tile % parts;
  const std::int64_t heads = groups / shape_.batch;
  const std::int64_t n = shape_.new_tokens;
  const std::int64_t d = model_.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const std::int64_t window = model_.sliding_window_of(op.layer);
  fused_.insert(scores_id);
  fused_.insert(softmax_id);
  auto& op_partials = partials_[values_id];
  auto& op_done = partials_done_[values_id];
  if (op_partials.empty()) {
    op_partials.assign(static_cast<std::size_t>(groups),
                       std::vector<AttentionPartial>(static_cast<std::size_t>(parts)));
    op_done.assign(static_cast<std::size_t>(groups), 0);
  }
  // Decode (one query): FlashDecoding splits the keys and combines the partial softmaxes;
  // prefill: FlashAttention splits the queries, each row streams all its keys.
  const bool split_keys = n == 1;
  const std::int64_t first_query = split_keys ? 0 : split(n, parts, part);
  const std::int64_t last_query = split_keys ? 1 : split(n, parts, part + 1);
  if (first_query >= last_query) return;
  for (std::int64_t h = 0; h < heads_per_tile; ++h) {
    const std::int64_t group = tile / parts * heads_per_tile + h;
    const std::int64_t b = group / heads, head = group % heads;
    const Buffer& q = input(values_id, source(scores_id, OpKind::kRope), 0, b * n + first_query,
                            b * n + last_query);
    const Cache& cache = caches_[static_cast<std::size_t>(op.layer)];
    Buffer& out = output(values_id, 0, shape_.batch * n, heads * d);
    for (std::int64_t i = first_query; i < last_query; ++i) {
      const std::int64_t r = b * n + i, p = shape_.past + i;
      const std::int64_t begin = window > 0 ? std::max<std::int64_t>(0, p - window + 1) : 0;
      check_cache(values_id, op.layer, b, begin, p + 1);
      const auto& keys = cache.keys[static_cast<std::size_t>(b)];
      const auto& values = cache.values[static_cast<std::size_t>(b)];
      const std::int64_t width = cache.width(b);
      const std::int64_t kv_head = head / (heads / (width / d));
      std::span<const float> query(q.data.data() + r * q.cols + head * d,
                                   static_cast<std::size_t>(d));
      std::span<float> target(out.row(r) + head * d, static_cast<std::size_t>(d));
      if (split_keys) {
        const std::int64_t length = p + 1 - begin;
        auto& group_parts = op_partials[static_cast<std::size_t>(group)];
        attend(query, keys.data() + kv_head * d, values.data() + kv_head * d, width,
               begin + split(length, parts, part), begin + split(length, parts, part + 1), scale,
               group_parts[static_cast<std::size_t>(part)]);
        if (++op_done[static_cast<std::size_t>(group)] < parts) continue;
        combine(group_parts, target, model_.activation_dtype);
      } else {
        AttentionPartial partial;
        attend(query, keys.data() + kv_head * d, values.data() + kv_head * d, width, begin, p + 1,
               scale, partial);
        combine({&partial, 1}, target, model_.activation_dtype);
      }
      mark(out, values_id, r, d);
    }
  }
  after_write(values_id);
}

void FunctionalExecutor::after_write(std::size_t id) {
  const Op& op = graph_->op(id);
  if (op.role != "lm_head") return;
  const Buffer& logits = buffers_.at({id, 0});
  if (logits.total != logits.rows * logits.cols) return;
  // One logits row per sequence (prefill computes only the last position's).
  std::vector<std::int32_t> next;
  for (std::int64_t b = 0; b < logits.rows; ++b) {
    next.push_back(
        argmax({logits.data.data() + b * logits.cols, static_cast<std::size_t>(logits.cols)}));
  }
  generated_.push_back(next.front());
  top_logits_.push_back(
      top_logits({logits.data.data(), static_cast<std::size_t>(logits.cols)}, kTopLogits));
  last_logits_ = logits.data;
  step_tokens_.push_back(std::move(next));
}

void FunctionalExecutor::run_tile(const Kernel& kernel, std::int64_t tile) {
  const std::int64_t tiles = kernel.tiles;
  // Scores, softmax and values in one kernel are fused attention (FlashAttention, Apple's fused
  // SDPA): no scores tensor; apart, each is a kernel over token rows like any other.
  bool scores = false, softmax_op = false, values = false;
  for (std::size_t id : kernel.ops) {
    const OpKind kind = graph_->op(id).kind;
    scores |= kind == OpKind::kAttentionScores;
    softmax_op |= kind == OpKind::kSoftmax;
    values |= kind == OpKind::kAttentionValues;
  }
  if (scores && softmax_op && values) {
    run_fused_attention(kernel, tile);
    return;
  }
  const Op& first = graph_->op(kernel.ops.front());
  if (first.kind == OpKind::kMatMul) {
    // Fused projections (q/k/v, gate/up) share their input: the tiles cover the concatenated
    // output columns.
    std::int64_t columns = 0;
    for (std::size_t id : kernel.ops) {
      if (graph_->op(id).kind != OpKind::kMatMul)
        fail("kernel " + kernel.name + " mixes a matmul with other ops");
      columns += graph_->op(id).n;
    }
    std::int64_t row_blocks = first.m <= kSingleBlockRows ? 1 : ceil_div(first.m, kRowBlock);
    if (tiles % row_blocks != 0) row_blocks = 1;
    const std::int64_t column_blocks = tiles / row_blocks;
    const std::int64_t rb = tile / column_blocks, cb = tile % column_blocks;
    const std::int64_t r0 = split(first.m, row_blocks, rb), r1 = split(first.m, row_blocks, rb + 1);
    const std::int64_t c0 = split(columns, column_blocks, cb),
                       c1 = split(columns, column_blocks, cb + 1);
    std::int64_t offset = 0;
    for (std::size_t id : kernel.ops) {
      const std::int64_t n = graph_->op(id).n;
      run_matmul(id, r0, r1, std::clamp(c0 - offset, std::int64_t{0}, n),
                 std::clamp(c1 - offset, std::int64_t{0}, n));
      offset += n;
    }
    return;
  }
  for (std::size_t id : kernel.ops) {
    const std::int64_t rows = rows_of(graph_->op(id));
    run_rows(id, split(rows, tiles, tile), split(rows, tiles, tile + 1));
  }
}

void FunctionalExecutor::tiles_done(int step, std::size_t kernel, std::int64_t first,
                                    std::int64_t count) {
  begin_step(step);
  const Kernel& k = programs_[static_cast<std::size_t>(step)].kernels.at(kernel);
  for (std::int64_t tile = first; tile < first + count; ++tile) run_tile(k, tile);
}

void FunctionalExecutor::stage_done(int step, std::size_t kernel, std::int64_t chunk,
                                    std::size_t stage) {
  begin_step(step);
  const Kernel& k = programs_[static_cast<std::size_t>(step)].kernels.at(kernel);
  if (k.stages.size() != k.ops.size()) {
    fail("kernel " + k.name + " has " + std::to_string(k.stages.size()) + " stages for " +
         std::to_string(k.ops.size()) + " ops");
  }
  const std::size_t id = k.ops[stage];
  const std::int64_t rows = rows_of(graph_->op(id));
  run_rows(id, split(rows, k.token_chunks, chunk), split(rows, k.token_chunks, chunk + 1));
}

void execute_in_program_order(const std::vector<Program>& programs, TileListener& listener,
                              bool stages) {
  for (std::size_t step = 0; step < programs.size(); ++step) {
    const auto& kernels = programs[step].kernels;
    for (std::size_t k = 0; k < kernels.size(); ++k) {
      if (!stages) {
        listener.tiles_done(static_cast<int>(step), k, 0, kernels[k].tiles);
        continue;
      }
      for (std::int64_t chunk = 0; chunk < kernels[k].token_chunks; ++chunk) {
        for (std::size_t s = 0; s < kernels[k].stages.size(); ++s) {
          listener.stage_done(static_cast<int>(step), k, chunk, s);
        }
      }
    }
  }
}

}  // namespace dfsim::functional
