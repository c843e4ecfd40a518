#include "sim/functional/teacher_forced.h"

#include <cmath>

#include "sim/common/error.h"
#include "sim/functional/numerics.h"
#include "sim/functional/ops.h"

namespace dfsim::functional {

namespace {

void append(std::vector<float>& to, const std::vector<float>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

std::span<const float> row_of(const std::vector<float>& m, std::int64_t r, std::int64_t cols) {
  return {m.data() + r * cols, static_cast<std::size_t>(cols)};
}

}  // namespace

PackedWeights pack_weights(const ModelSpec& model, const ModelWeights& weights) {
  PackedWeights packed;
  for (std::int64_t layer = 0; layer < model.num_layers; ++layer) {
    const LayerWeights& w = weights.layers[static_cast<std::size_t>(layer)];
    PackedWeights::Layer& p = packed.layers.emplace_back();
    const std::int64_t h = model.hidden_size, inter = model.intermediate_size_of(layer);
    const std::int64_t kv = model.key_value_heads_of(layer) * model.head_dim;
    auto& qkv = p.weight[static_cast<int>(ProjectionGroup::kQkv)];
    append(qkv, w.q_proj);
    append(qkv, w.k_proj);
    append(qkv, w.v_proj);
    p.n[0] = model.q_width() + 2 * kv;
    p.k[0] = h;
    p.weight[1] = w.o_proj;
    p.n[1] = h;
    p.k[1] = model.q_width();
    append(p.weight[2], w.gate_proj);
    append(p.weight[2], w.up_proj);
    p.n[2] = 2 * inter;
    p.k[2] = h;
    p.weight[3] = w.down_proj;
    p.n[3] = h;
    p.k[3] = inter;
  }
  return packed;
}

void FloatProjection::apply(int, ProjectionGroup, std::span<const float> x, std::int64_t rows,
                            std::span<const float> weight, std::int64_t n, std::int64_t k,
                            std::span<float> y) {
  for (std::int64_t r = 0; r < rows; ++r) {
    matmul_columns(x.subspan(static_cast<std::size_t>(r * k), static_cast<std::size_t>(k)), weight,
                   {}, 0, n, y.data() + r * n, dtype_);
  }
}

std::vector<float> teacher_forced_logits(const ModelSpec& model, const ModelWeights& weights,
                                         const PackedWeights& packed,
                                         std::span<const std::int32_t> tokens,
                                         Projection& projection) {
  if (model.is_moe() || model.is_dijiang()) {
    throw InputError("quantize-eval: model " + model.name +
                     ": experts and DiJiang attention are not evaluated");
  }
  const Dtype act = model.activation_dtype;
  const auto t_count = static_cast<std::int64_t>(tokens.size());
  const std::int64_t h = model.hidden_size, d = model.head_dim;
  const std::int64_t heads = model.num_attention_heads, qw = model.q_width();
  const std::vector<float> frequencies = rope_frequencies(model);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));

  std::vector<float> x(static_cast<std::size_t>(t_count * h));
  for (std::int64_t t = 0; t < t_count; ++t) {
    const float* e = weights.embed_tokens.data() + static_cast<std::int64_t>(tokens[t]) * h;
    for (std::int64_t i = 0; i < h; ++i) x[t * h + i] = round_to(e[i], act);
  }
  std::vector<float> normed(x.size()), sum(x.size());
  auto norm_rows = [&](std::span<const float> weight) {
    for (std::int64_t t = 0; t < t_count; ++t) {
      rms_norm(row_of(x, t, h), weight, model.rms_norm_eps,
               {normed.data() + t * h, static_cast<std::size_t>(h)}, act);
    }
  };
  auto residual = [&](const std::vector<float>& y) {
    for (std::int64_t t = 0; t < t_count; ++t) {
      add(row_of(x, t, h), row_of(y, t, h), {sum.data() + t * h, static_cast<std::size_t>(h)}, act);
    }
    x.swap(sum);
  };
  for (std::int64_t layer = 0; layer < model.num_layers; ++layer) {
    const LayerWeights& w = weights.layers[static_cast<std::size_t>(layer)];
    const PackedWeights::Layer& p = packed.layers[static_cast<std::size_t>(layer)];
    const int l = static_cast<int>(layer);
    const std::int64_t kv = model.key_value_heads_of(layer) * d;
    const std::int64_t per_kv = heads / (kv / d);
    const std::int64_t window = model.sliding_window_of(layer);

    norm_rows(w.attn_norm);
    const std::int64_t qkv_n = p.n[0];
    std::vector<float> qkv(static_cast<std::size_t>(t_count * qkv_n));
    projection.apply(l, ProjectionGroup::kQkv, normed, t_count, p.weight[0], qkv_n, h, qkv);
    std::vector<float> q(static_cast<std::size_t>(t_count * qw)),
        keys(static_cast<std::size_t>(t_count * kv)), values(keys.size());
    for (std::int64_t t = 0; t < t_count; ++t) {
      const float* row = qkv.data() + t * qkv_n;
      auto biased = [&](std::int64_t i, const std::vector<float>& bias, std::int64_t offset) {
        const float v = round_to(row[offset + i], act);
        return bias.empty() ? v : round_to(v + bias[static_cast<std::size_t>(i)], act);
      };
      for (std::int64_t i = 0; i < qw; ++i) q[t * qw + i] = biased(i, w.q_bias, 0);
      for (std::int64_t i = 0; i < kv; ++i) {
        keys[t * kv + i] = biased(i, w.k_bias, qw);
        values[t * kv + i] = round_to(biased(i, w.v_bias, qw + kv), model.kv_cache_dtype);
      }
      rope({q.data() + t * qw, static_cast<std::size_t>(qw)}, d, t, frequencies, act);
      std::span<float> k_row(keys.data() + t * kv, static_cast<std::size_t>(kv));
      rope(k_row, d, t, frequencies, act);
      round_all(k_row, model.kv_cache_dtype);
    }
    std::vector<float> attention(static_cast<std::size_t>(t_count * qw));
    for (std::int64_t t = 0; t < t_count; ++t) {
      const std::int64_t first = window > 0 ? std::max<std::int64_t>(0, t - window + 1) : 0;
      for (std::int64_t head = 0; head < heads; ++head) {
        AttentionPartial partial;
        const std::int64_t g = head / per_kv;
        attend({q.data() + t * qw + head * d, static_cast<std::size_t>(d)}, keys.data() + g * d,
               values.data() + g * d, kv, first, t + 1, scale, partial);
        combine({&partial, 1}, {attention.data() + t * qw + head * d, static_cast<std::size_t>(d)},
                act);
      }
    }
    std::vector<float> o(x.size());
    projection.apply(l, ProjectionGroup::kO, attention, t_count, p.weight[1], h, qw, o);
    for (std::int64_t t = 0; t < t_count; ++t) {
      for (std::int64_t i = 0; i < h; ++i) {
        float& v = o[static_cast<std::size_t>(t * h + i)];
        v = round_to(v, act);
        if (!w.o_bias.empty()) v = round_to(v + w.o_bias[static_cast<std::size_t>(i)], act);
      }
    }
    residual(o);

    norm_rows(w.mlp_norm);
    const std::int64_t inter = p.n[2] / 2;
    std::vector<float> gate_up(static_cast<std::size_t>(t_count * 2 * inter));
    projection.apply(l, ProjectionGroup::kGateUp, normed, t_count, p.weight[2], 2 * inter, h,
                     gate_up);
    round_all(gate_up, act);
    std::vector<float> activated(static_cast<std::size_t>(t_count * inter));
    for (std::int64_t t = 0; t < t_count; ++t) {
      const float* row = gate_up.data() + t * 2 * inter;
      swiglu({row, static_cast<std::size_t>(inter)}, {row + inter, static_cast<std::size_t>(inter)},
             {activated.data() + t * inter, static_cast<std::size_t>(inter)}, act);
    }
    std::vector<float> down(x.size());
    projection.apply(l, ProjectionGroup::kDown, activated, t_count, p.weight[3], h, inter, down);
    round_all(down, act);
    residual(down);
  }
  norm_rows(weights.final_norm);
  std::vector<float> logits(static_cast<std::size_t>(t_count * model.vocab_size));
  for (std::int64_t t = 0; t < t_count; ++t) {
    matmul_columns(row_of(normed, t, h), weights.lm_head, {}, 0, model.vocab_size,
                   logits.data() + t * model.vocab_size, Dtype::kFp32);
  }
  return logits;
}

}  // namespace dfsim::functional
