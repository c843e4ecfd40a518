// The math of each op of a llama-style decoder on fp32 values, one row (or one block of a row)
// at a time, so that executors can run any tile or token chunk of an op. Products accumulate in
// fp32; each result is rounded to the dtype its tensor is stored in, where the op stores it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sim/common/dtype.h"
#include "sim/workload/model_spec.h"

namespace dfsim::functional {

// out[c] = sum_i x[i] * w[c, i] (+ bias[c]) for columns [first, last) of a [n, k] weight.
void matmul_columns(std::span<const float> x, std::span<const float> weight,
                    std::span<const float> bias, std::int64_t first, std::int64_t last, float* out,
                    Dtype dtype);

// x * rsqrt(mean(x^2) + eps), rounded, times the weight (as Hugging Face's LlamaRMSNorm does).
void rms_norm(std::span<const float> x, std::span<const float> weight, double eps,
              std::span<float> out, Dtype dtype);

// Rotation frequencies of one head: theta^(-2i/d) for i < d/2, with Llama 3.1 ("llama3") or
// linear rope scaling applied.
std::vector<float> rope_frequencies(const ModelSpec& model);

// Rotates every head of `row` (heads x head_dim) in place for position `position`, pairing
// element i with i + head_dim/2 (Llama's rotate_half convention).
void rope(std::span<float> row, std::int64_t head_dim, std::int64_t position,
          std::span<const float> frequencies, Dtype dtype);

// silu(gate) * up, rounded after each step.
void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out,
            Dtype dtype);

void add(std::span<const float> a, std::span<const float> b, std::span<float> out, Dtype dtype);

// Online-softmax attention of one query over a range of keys (FlashAttention's running max
// and sum), so that splits of the keys can be combined exactly.
struct AttentionPartial {
  float max = 0;
  float sum = 0;                // of exp(score - max)
  std::vector<float> weighted;  // sum of exp(score - max) * value
  bool empty = true;
};
// Keys and values of position p start at keys[p * stride] / values[p * stride].
void attend(std::span<const float> query, const float* keys, const float* values,
            std::int64_t stride, std::int64_t first, std::int64_t last, float scale,
            AttentionPartial& partial);
void combine(std::span<const AttentionPartial> partials, std::span<float> out, Dtype dtype);

// Unfused attention, one query row: scores (masked to [first, last)), softmax, values.
void attention_scores(std::span<const float> query, const float* keys, std::int64_t stride,
                      std::int64_t first, std::int64_t last, float scale, std::span<float> out);
void softmax(std::span<const float> scores, std::span<float> out);
void attention_values(std::span<const float> probabilities, const float* values,
                      std::int64_t stride, std::int64_t head_dim, std::span<float> out,
                      Dtype dtype);

// DiJiang's weighted DCT feature map (arXiv 2403.19928, "WDCF"): phi(x) = D exp(T C x) with C
// the first m rows of the orthonormal DCT-II matrix of size d, T = diag(t) the quasi-Monte-
// Carlo points t_i = Phi^-1((i + 1/2) / m) (midpoints of m equal-probability bins, mapped
// through the inverse normal CDF) and D the quadrature weights, 1/sqrt(m) each: the paper
// learns D in fine-tuning; these are its untrained values. x is scaled by d^-1/4 so that
// phi(q).phi(k) stands in for exp(q.k / sqrt(d)).
struct DiJiangMap {
  std::int64_t features = 0, head_dim = 0;
  std::vector<float> dct;      // [features, head_dim]
  std::vector<float> points;   // t
  std::vector<float> weights;  // D
};
DiJiangMap dijiang_map(std::int64_t features, std::int64_t head_dim);
void dijiang_features(std::span<const float> head, const DiJiangMap& map, std::span<float> out,
                      Dtype dtype);

// Greedy decoding: the index of the largest logit (the first one on ties).
std::int32_t argmax(std::span<const float> logits);

// The `k` largest logits (fewer when the vocabulary is smaller), largest first; ties in the
// order argmax breaks them (the lower id first), so the first is always argmax's.
struct TokenLogit {
  std::int32_t token = 0;
  float logit = 0;
};
std::vector<TokenLogit> top_logits(std::span<const float> logits, std::size_t k);

}  // namespace dfsim::functional
