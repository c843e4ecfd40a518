#include "sim/functional/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "sim/functional/numerics.h"

namespace dfsim::functional {

void matmul_columns(std::span<const float> x, std::span<const float> weight,
                    std::span<const float> bias, std::int64_t first, std::int64_t last, float* out,
                    Dtype dtype) {
  const std::size_t k = x.size();
  for (std::int64_t c = first; c < last; ++c) {
    const float* w = weight.data() + static_cast<std::size_t>(c) * k;
    float sum = 0;
    for (std::size_t i = 0; i < k; ++i) sum += x[i] * w[i];
    if (!bias.empty()) sum = round_to(sum, dtype) + bias[static_cast<std::size_t>(c)];
    out[c - first] = round_to(sum, dtype);
  }
}

void rms_norm(std::span<const float> x, std::span<const float> weight, double eps,
              std::span<float> out, Dtype dtype) {
  float squares = 0;
  for (float v : x) squares += v * v;
  const float scale =
      1.0f / std::sqrt(squares / static_cast<float>(x.size()) + static_cast<float>(eps));
  for (std::size_t i = 0; i < x.size(); ++i) {
    out[i] = round_to(round_to(x[i] * scale, dtype) * weight[i], dtype);
  }
}

std::vector<float> rope_frequencies(const ModelSpec& model) {
  const std::int64_t half = model.head_dim / 2;
  const RopeScaling& scaling = model.rope_scaling;
  std::vector<float> frequencies(static_cast<std::size_t>(half));
  for (std::int64_t i = 0; i < half; ++i) {
    double f = std::pow(model.rope_theta, -2.0 * static_cast<double>(i) / model.head_dim);
    if (scaling.type == "linear") {
      f /= scaling.factor;
    } else if (scaling.type == "llama3") {
      // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, and the band
      // between the two thresholds interpolated (transformers' _compute_llama3_parameters).
      const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
      const double low_wavelength = old_context / scaling.low_freq_factor;
      const double high_wavelength = old_context / scaling.high_freq_factor;
      const double wavelength = 2 * std::numbers::pi / f;
      if (wavelength > low_wavelength) {
        f /= scaling.factor;
      } else if (wavelength >= high_wavelength) {
        const double smooth = (old_context / wavelength - scaling.low_freq_factor) /
                              (scaling.high_freq_factor - scaling.low_freq_factor);
        f = (1 - smooth) * f / scaling.factor + smooth * f;
      }
    }
    frequencies[static_cast<std::size_t>(i)] = static_cast<float>(f);
  }
  return frequencies;
}

void rope(std::span<float> row, std::int64_t head_dim, std::int64_t position,
          std::span<const float> frequencies, Dtype dtype) {
  const std::size_t half = static_cast<std::size_t>(head_dim / 2);
  for (std::size_t head = 0; head * head_dim < row.size(); ++head) {
    float* x = row.data() + head * head_dim;
    for (std::size_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(position) * frequencies[i];
      const float c = round_to(std::cos(angle), dtype);
      const float s = round_to(std::sin(angle), dtype);
      const float a = x[i], b = x[i + half];
      x[i] = round_to(a * c - b * s, dtype);
      x[i + half] = round_to(b * c + a * s, dtype);
    }
  }
}

void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out,
            Dtype dtype) {
  for (std::size_t i = 0; i < gate.size(); ++i) {
    const float g = gate[i];
    out[i] = round_to(round_to(g / (1.0f + std::exp(-g)), dtype) * up[i], dtype);
  }
}

void add(std::span<const float> a, std::span<const float> b, std::span<float> out, Dtype dtype) {
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = round_to(a[i] + b[i], dtype);
}

namespace {
float dot(std::span<const float> a, const float* b) {
  float sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}
}  // namespace

void attend(std::span<const float> query, const float* keys, const float* values,
            std::int64_t stride, std::int64_t first, std::int64_t last, float scale,
            AttentionPartial& partial) {
  const std::size_t d = query.size();
  if (partial.weighted.size() != d) partial.weighted.assign(d, 0.0f);
  for (std::int64_t p = first; p < last; ++p) {
    const float score = dot(query, keys + p * stride) * scale;
    if (partial.empty || score > partial.max) {
      const float rescale = partial.empty ? 0.0f : std::exp(partial.max - score);
      partial.sum *= rescale;
      for (float& w : partial.weighted) w *= rescale;
      partial.max = score;
      partial.empty = false;
    }
    const float weight = std::exp(score - partial.max);
    partial.sum += weight;
    const float* v = values + p * stride;
    for (std::size_t i = 0; i < d; ++i) partial.weighted[i] += weight * v[i];
  }
}

void combine(std::span<const AttentionPartial> partials, std::span<float> out, Dtype dtype) {
  float max = -std::numeric_limits<float>::infinity();
  for (const AttentionPartial& part : partials) {
    if (!part.empty) max = std::max(max, part.max);
  }
  float sum = 0;
  std::fill(out.begin(), out.end(), 0.0f);
  for (const AttentionPartial& part : partials) {
    if (part.empty) continue;
    const float rescale = std::exp(part.max - max);
    sum += part.sum * rescale;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += part.weighted[i] * rescale;
  }
  for (float& v : out) v = round_to(v / sum, dtype);
}

void attention_scores(std::span<const float> query, const float* keys, std::int64_t stride,
                      std::int64_t first, std::int64_t last, float scale, std::span<float> out) {
  for (std::size_t p = 0; p < out.size(); ++p) {
    const auto position = static_cast<std::int64_t>(p);
    out[p] = position >= first && position < last ? dot(query, keys + position * stride) * scale
                                                  : -std::numeric_limits<float>::infinity();
  }
}

void softmax(std::span<const float> scores, std::span<float> out) {
  float max = -std::numeric_limits<float>::infinity();
  for (float s : scores) max = std::max(max, s);
  float sum = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    out[i] = std::isinf(scores[i]) ? 0.0f : std::exp(scores[i] - max);
    sum += out[i];
  }
  for (float& v : out) v /= sum;
}

void attention_values(std::span<const float> probabilities, const float* values,
                      std::int64_t stride, std::int64_t head_dim, std::span<float> out,
                      Dtype dtype) {
  std::fill(out.begin(), out.end(), 0.0f);
  for (std::size_t p = 0; p < probabilities.size(); ++p) {
    const float weight = probabilities[p];
    if (weight == 0.0f) continue;
    const float* v = values + static_cast<std::int64_t>(p) * stride;
    for (std::int64_t i = 0; i < head_dim; ++i) out[static_cast<std::size_t>(i)] += weight * v[i];
  }
  for (float& v : out) v = round_to(v, dtype);
}

namespace {
// Phi^-1 by bisection on erfc: exact to float precision, and only m values per model.
double inverse_normal_cdf(double p) {
  double low = -10, high = 10;
  for (int i = 0; i < 100; ++i) {
    const double mid = (low + high) / 2;
    (0.5 * std::erfc(-mid / std::numbers::sqrt2) < p ? low : high) = mid;
  }
  return (low + high) / 2;
}
}  // namespace

DiJiangMap dijiang_map(std::int64_t features, std::int64_t head_dim) {
  DiJiangMap map{features, head_dim, {}, {}, {}};
  const double d = static_cast<double>(head_dim);
  for (std::int64_t k = 0; k < features; ++k) {
    const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / d);
    for (std::int64_t n = 0; n < head_dim; ++n) {
      map.dct.push_back(
          static_cast<float>(scale * std::cos(std::numbers::pi * (2 * n + 1) * k / (2 * d))));
    }
    map.points.push_back(
        static_cast<float>(inverse_normal_cdf((k + 0.5) / static_cast<double>(features))));
    map.weights.push_back(static_cast<float>(1.0 / std::sqrt(static_cast<double>(features))));
  }
  return map;
}

void dijiang_features(std::span<const float> head, const DiJiangMap& map, std::span<float> out,
                      Dtype dtype) {
  const float scale = static_cast<float>(std::pow(static_cast<double>(map.head_dim), -0.25));
  for (std::int64_t k = 0; k < map.features; ++k) {
    const float* row = map.dct.data() + k * map.head_dim;
    float projection = 0;
    for (std::int64_t n = 0; n < map.head_dim; ++n)
      projection += row[n] * head[static_cast<std::size_t>(n)];
    out[static_cast<std::size_t>(k)] =
        round_to(map.weights[k] * std::exp(map.points[k] * projection * scale), dtype);
  }
}

std::int32_t argmax(std::span<const float> logits) {
  return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::vector<TokenLogit> top_logits(std::span<const float> logits, std::size_t k) {
  std::vector<std::int32_t> ids(logits.size());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(i);
  const auto first = [&](std::int32_t a, std::int32_t b) {
    const float x = logits[static_cast<std::size_t>(a)], y = logits[static_cast<std::size_t>(b)];
    return x > y || (x == y && a < b);
  };
  k = std::min(k, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(), first);
  std::vector<TokenLogit> top;
  for (std::size_t i = 0; i < k; ++i)
    top.push_back({ids[i], logits[static_cast<std::size_t>(ids[i])]});
  return top;
}

}  // namespace dfsim::functional
