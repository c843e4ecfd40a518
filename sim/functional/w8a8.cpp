#include "sim/functional/w8a8.h"

#include <algorithm>
#include <cmath>

#include "sim/functional/quantize.h"

namespace dfsim::functional {

float dynamic_int8_scale(std::span<const float> x) {
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::abs(v));
  return amax / 127.0f;
}

void quantize_int8(std::span<const float> x, float scale, std::span<std::int8_t> q) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    q[i] =
        scale == 0
            ? std::int8_t{0}
            : static_cast<std::int8_t>(std::clamp(std::nearbyint(x[i] / scale), -128.0f, 127.0f));
  }
}

Int8Matrix quantize_int8_matrix(std::span<const float> weight, std::int64_t n, std::int64_t k) {
  Int8Matrix m{n, k, std::vector<std::int8_t>(static_cast<std::size_t>(n * k)),
               std::vector<float>(static_cast<std::size_t>(n))};
  for (std::int64_t c = 0; c < n; ++c) {
    const auto offset = static_cast<std::size_t>(c * k);
    m.scales[static_cast<std::size_t>(c)] =
        quantize_int8_group(weight.subspan(offset, static_cast<std::size_t>(k)),
                            std::span(m.q).subspan(offset, static_cast<std::size_t>(k)));
  }
  return m;
}

void int8_matmul(std::span<const std::int8_t> qx, float x_scale, const Int8Matrix& w,
                 std::span<float> y) {
  for (std::int64_t c = 0; c < w.n; ++c) {
    const std::int8_t* row = w.q.data() + c * w.k;
    std::int32_t acc = 0;
    for (std::int64_t i = 0; i < w.k; ++i)
      acc += static_cast<std::int32_t>(qx[static_cast<std::size_t>(i)]) * row[i];
    y[static_cast<std::size_t>(c)] =
        static_cast<float>(acc) * x_scale * w.scales[static_cast<std::size_t>(c)];
  }
}

std::vector<float> smoothing_factors(std::span<const float> activation_max,
                                     std::span<const float> weight_max, double alpha) {
  std::vector<float> s(activation_max.size(), 1.0f);
  for (std::size_t j = 0; j < s.size(); ++j) {
    if (activation_max[j] > 0 && weight_max[j] > 0) {
      s[j] = static_cast<float>(std::pow(static_cast<double>(activation_max[j]), alpha) /
                                std::pow(static_cast<double>(weight_max[j]), 1.0 - alpha));
    }
  }
  return s;
}

std::vector<float> column_max(std::span<const float> weight, std::int64_t k) {
  std::vector<float> max(static_cast<std::size_t>(k), 0.0f);
  for (std::size_t i = 0; i < weight.size(); ++i) {
    float& m = max[i % static_cast<std::size_t>(k)];
    m = std::max(m, std::abs(weight[i]));
  }
  return max;
}

void divide_columns(std::span<float> x, std::span<const float> s) {
  for (std::size_t i = 0; i < x.size(); ++i) x[i] /= s[i % s.size()];
}

void multiply_columns(std::span<float> weight, std::span<const float> s) {
  for (std::size_t i = 0; i < weight.size(); ++i) weight[i] *= s[i % s.size()];
}

}  // namespace dfsim::functional
