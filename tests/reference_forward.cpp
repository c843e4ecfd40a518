#include "tests/reference_forward.h"

#include <bit>
#include <cmath>
#include <numbers>

namespace dfsim::testing {

namespace {

float store(float x, Dtype dtype) {
  if (dtype == Dtype::kFp16) return static_cast<float>(static_cast<_Float16>(x));
  if (dtype != Dtype::kBf16) return x;
  std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
  return std::bit_cast<float>(bits);
}

struct Reference {
  const ModelSpec& m;
  const functional::ModelWeights& w;
  Dtype act;
  // cache[layer][position * kv_width + i]
  std::vector<std::vector<float>> keys, values;

  Reference(const ModelSpec& model, const functional::ModelWeights& weights)
      : m(model),
        w(weights),
        act(model.activation_dtype),
        keys(model.num_layers),
        values(model.num_layers) {}

  std::vector<float> linear(const std::vector<float>& x, const std::vector<float>& weight,
                            const std::vector<float>& bias, std::int64_t out, Dtype dtype) {
    std::vector<float> y(out);
    const std::size_t in = x.size();
    for (std::int64_t o = 0; o < out; ++o) {
      float sum = 0;
      for (std::size_t i = 0; i < in; ++i) sum += x[i] * weight[o * in + i];
      if (!bias.empty()) sum = store(sum, dtype) + bias[o];
      y[o] = store(sum, dtype);
    }
    return y;
  }

  std::vector<float> norm(const std::vector<float>& x, const std::vector<float>& weight) {
    float squares = 0;
    for (float v : x) squares += v * v;
    float r = 1.0f / std::sqrt(squares / x.size() + static_cast<float>(m.rms_norm_eps));
    std::vector<float> y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = store(store(x[i] * r, act) * weight[i], act);
    return y;
  }

  float frequency(std::int64_t i) {
    double f = std::pow(m.rope_theta, -2.0 * i / m.head_dim);
    const RopeScaling& s = m.rope_scaling;
    if (s.type == "linear") return static_cast<float>(f / s.factor);
    if (s.type != "llama3") return static_cast<float>(f);
    double wavelength = 2 * std::numbers::pi / f;
    double old = s.original_max_position_embeddings;
    if (wavelength < old / s.high_freq_factor) return static_cast<float>(f);
    if (wavelength > old / s.low_freq_factor) return static_cast<float>(f / s.factor);
    double smooth =
        (old / wavelength - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    return static_cast<float>((1 - smooth) * f / s.factor + smooth * f);
  }

  void rotate(std::vector<float>& x, std::int64_t position) {
    const std::int64_t d = m.head_dim, half = d / 2;
    for (std::size_t base = 0; base < x.size(); base += d) {
      for (std::int64_t i = 0; i < half; ++i) {
        float angle = static_cast<float>(position) * frequency(i);
        float c = store(std::cos(angle), act), s = store(std::sin(angle), act);
        float a = x[base + i], b = x[base + i + half];
        x[base + i] = store(a * c - b * s, act);
        x[base + i + half] = store(b * c + a * s, act);
      }
    }
  }

  // DiJiang's feature map written out directly: phi_i(x) = exp(t_i (C x)_i d^-1/4) / sqrt(m),
  // C the orthonormal DCT-II, t_i the normal quantile of (i + 1/2) / m (found by bisection).
  std::vector<float> features(const float* x) {
    const std::int64_t d = m.head_dim, count = m.dijiang_features;
    std::vector<float> phi(count);
    for (std::int64_t i = 0; i < count; ++i) {
      double low = -10, high = 10, p = (i + 0.5) / count;
      for (int it = 0; it < 100; ++it) {
        double mid = (low + high) / 2;
        if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p)
          low = mid;
        else
          high = mid;
      }
      float t = static_cast<float>((low + high) / 2);
      float dot = 0;
      for (std::int64_t n = 0; n < d; ++n) {
        float c = static_cast<float>(std::sqrt((i == 0 ? 1.0 : 2.0) / d) *
                                     std::cos(std::numbers::pi * (2 * n + 1) * i / (2.0 * d)));
        dot += c * x[n];
      }
      float scale = static_cast<float>(std::pow(static_cast<double>(d), -0.25));
      phi[i] = store(static_cast<float>(1.0 / std::sqrt(static_cast<double>(count))) *
                         std::exp(t * dot * scale),
                     act);
    }
    return phi;
  }

  // Quadratic form of linear attention: every earlier key's kernel weight summed afresh (the
  // programs keep running sums instead).
  std::vector<float> dijiang(std::int64_t layer, const std::vector<float>& q,
                             const std::vector<float>& k, const std::vector<float>& v) {
    const std::int64_t d = m.head_dim, heads = m.num_attention_heads,
                       kv_heads = m.key_value_heads_of(layer), count = m.dijiang_features;
    for (std::int64_t g = 0; g < kv_heads; ++g) {
      for (float value : features(k.data() + g * d)) keys[layer].push_back(value);
    }
    for (float value : v) values[layer].push_back(value);
    const std::int64_t positions = static_cast<std::int64_t>(values[layer].size()) / (kv_heads * d);
    std::vector<float> out(heads * d);
    for (std::int64_t head = 0; head < heads; ++head) {
      const std::int64_t g = head / (heads / kv_heads);
      std::vector<float> phi = features(q.data() + head * d);
      double total = 0;
      std::vector<double> acc(d, 0.0);
      for (std::int64_t j = 0; j < positions; ++j) {
        double weight = 0;
        for (std::int64_t i = 0; i < count; ++i)
          weight += phi[i] * keys[layer][(j * kv_heads + g) * count + i];
        total += weight;
        for (std::int64_t i = 0; i < d; ++i)
          acc[i] += weight * values[layer][(j * kv_heads + g) * d + i];
      }
      for (std::int64_t i = 0; i < d; ++i)
        out[head * d + i] = store(static_cast<float>(acc[i] / total), act);
    }
    return out;
  }

  // Logits of the token at `position`, its K and V appended to the cache.
  std::vector<float> step(std::int32_t token, std::int64_t position) {
    const std::int64_t h = m.hidden_size, d = m.head_dim, heads = m.num_attention_heads;
    std::vector<float> x(h);
    for (std::int64_t i = 0; i < h; ++i) x[i] = store(w.embed_tokens[token * h + i], act);
    for (std::int64_t layer = 0; layer < m.num_layers; ++layer) {
      const auto& lw = w.layers[layer];
      const std::int64_t kv_heads = m.key_value_heads_of(layer), kv_width = kv_heads * d;
      std::vector<float> n1 = norm(x, lw.attn_norm);
      std::vector<float> q = linear(n1, lw.q_proj, lw.q_bias, heads * d, act);
      std::vector<float> k = linear(n1, lw.k_proj, lw.k_bias, kv_width, act);
      std::vector<float> v = linear(n1, lw.v_proj, lw.v_bias, kv_width, act);
      rotate(q, position);
      rotate(k, position);
      if (m.is_dijiang()) {
        std::vector<float> o = linear(dijiang(layer, q, k, v), lw.o_proj, lw.o_bias, h, act);
        for (std::int64_t i = 0; i < h; ++i) x[i] = store(x[i] + o[i], act);
        mlp(layer, x);
        continue;
      }
      for (float value : k) keys[layer].push_back(store(value, m.kv_cache_dtype));
      for (float value : v) values[layer].push_back(store(value, m.kv_cache_dtype));
      const std::int64_t window = m.sliding_window_of(layer);
      const std::int64_t first = window > 0 ? std::max<std::int64_t>(0, position - window + 1) : 0;
      std::vector<float> attention(heads * d);
      for (std::int64_t head = 0; head < heads; ++head) {
        const std::int64_t kvh = head / (heads / kv_heads);
        std::vector<float> p(position + 1, 0.0f);
        float max = -INFINITY;
        for (std::int64_t j = first; j <= position; ++j) {
          float dot = 0;
          for (std::int64_t i = 0; i < d; ++i)
            dot += q[head * d + i] * keys[layer][j * kv_width + kvh * d + i];
          p[j] = dot / std::sqrt(static_cast<float>(d));
          max = std::max(max, p[j]);
        }
        float sum = 0;
        for (std::int64_t j = first; j <= position; ++j) sum += p[j] = std::exp(p[j] - max);
        for (std::int64_t i = 0; i < d; ++i) {
          float acc = 0;
          for (std::int64_t j = first; j <= position; ++j)
            acc += p[j] / sum * values[layer][j * kv_width + kvh * d + i];
          attention[head * d + i] = store(acc, act);
        }
      }
      std::vector<float> o = linear(attention, lw.o_proj, lw.o_bias, h, act);
      for (std::int64_t i = 0; i < h; ++i) x[i] = store(x[i] + o[i], act);
      mlp(layer, x);
    }
    return linear(norm(x, w.final_norm), w.lm_head, {}, m.vocab_size, Dtype::kFp32);
  }

  void mlp(std::int64_t layer, std::vector<float>& x) {
    const std::int64_t h = m.hidden_size;
    const auto& lw = w.layers[layer];
    {
      std::vector<float> n2 = norm(x, lw.mlp_norm);
      const std::int64_t inter = m.intermediate_size_of(layer);
      std::vector<float> gate = linear(n2, lw.gate_proj, {}, inter, act);
      std::vector<float> up = linear(n2, lw.up_proj, {}, inter, act);
      std::vector<float> hidden(inter);
      for (std::int64_t i = 0; i < inter; ++i) {
        hidden[i] = store(store(gate[i] / (1.0f + std::exp(-gate[i])), act) * up[i], act);
      }
      std::vector<float> down = linear(hidden, lw.down_proj, {}, h, act);
      for (std::int64_t i = 0; i < h; ++i) x[i] = store(x[i] + down[i], act);
    }
  }
};

std::int32_t greedy(const std::vector<float>& logits) {
  std::int32_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<std::int32_t>(i);
  }
  return best;
}

}  // namespace

ReferenceRun reference_generate(const ModelSpec& model, const functional::ModelWeights& weights,
                                const std::vector<std::int32_t>& prompt, int tokens) {
  Reference reference(model, weights);
  ReferenceRun run;
  std::vector<float> logits;
  std::int64_t position = 0;
  for (std::int32_t token : prompt) logits = reference.step(token, position++);
  for (int t = 0; t < tokens; ++t) {
    run.tokens.push_back(greedy(logits));
    run.last_logits = logits;
    if (t + 1 < tokens) logits = reference.step(run.tokens.back(), position++);
  }
  return run;
}

}  // namespace dfsim::testing
