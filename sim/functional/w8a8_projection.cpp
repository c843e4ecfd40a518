#include "sim/functional/w8a8_projection.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dfsim::functional {

CalibrationProjection::CalibrationProjection(std::int64_t layers) : FloatProjection(Dtype::kFp32) {
  ranges_.channel_max.resize(static_cast<std::size_t>(layers));
}

void CalibrationProjection::apply(int layer, ProjectionGroup group, std::span<const float> x,
                                  std::int64_t rows, std::span<const float> weight, std::int64_t n,
                                  std::int64_t k, std::span<float> y) {
  auto& max = ranges_.channel_max[static_cast<std::size_t>(layer)][static_cast<int>(group)];
  max.resize(static_cast<std::size_t>(k), 0.0f);
  for (std::size_t i = 0; i < static_cast<std::size_t>(rows * k); ++i) {
    float& m = max[i % static_cast<std::size_t>(k)];
    m = std::max(m, std::abs(x[i]));
  }
  FloatProjection::apply(layer, group, x, rows, weight, n, k, y);
}

W8A8Projection::W8A8Projection(const PackedWeights& weights, QuantizationScheme scheme,
                               const ActivationRanges* ranges, double alpha)
    : dynamic_(scheme == QuantizationScheme::kW8A8Dynamic) {
  if (scheme == QuantizationScheme::kWeightOnly) {
    throw std::logic_error("W8A8Projection: weight-only is not a W8A8 scheme");
  }
  if (!dynamic_ && (!ranges || ranges->channel_max.size() != weights.layers.size())) {
    throw std::logic_error("W8A8Projection: static scales need a calibration pass");
  }
  for (std::size_t layer = 0; layer < weights.layers.size(); ++layer) {
    const PackedWeights::Layer& p = weights.layers[layer];
    auto& sites = sites_.emplace_back();
    for (int g = 0; g < kProjectionGroups; ++g) {
      std::vector<float> w = p.weight[g];
      Site& site = sites[static_cast<std::size_t>(g)];
      if (!dynamic_) {
        std::vector<float> range = ranges->channel_max[layer][static_cast<std::size_t>(g)];
        if (static_cast<std::int64_t>(range.size()) != p.k[g]) {
          throw std::logic_error("W8A8Projection: the calibration pass missed a projection");
        }
        if (scheme == QuantizationScheme::kSmoothQuant) {
          site.smoothing = smoothing_factors(range, column_max(w, p.k[g]), alpha);
          multiply_columns(w, site.smoothing);
          divide_columns(range, site.smoothing);
        }
        site.static_scale = *std::max_element(range.begin(), range.end()) / 127.0f;
      }
      site.weight = quantize_int8_matrix(w, p.n[g], p.k[g]);
    }
  }
}

void W8A8Projection::apply(int layer, ProjectionGroup group, std::span<const float> x,
                           std::int64_t rows, std::span<const float>, std::int64_t n,
                           std::int64_t k, std::span<float> y) {
  const Site& site = sites_.at(static_cast<std::size_t>(layer))[static_cast<int>(group)];
  if (site.weight.n != n || site.weight.k != k) {
    throw std::logic_error("W8A8Projection: projection shape differs from its weights");
  }
  std::vector<float> row(static_cast<std::size_t>(k));
  std::vector<std::int8_t> q(row.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    std::copy_n(x.data() + r * k, k, row.begin());
    if (!site.smoothing.empty()) divide_columns(row, site.smoothing);
    const float scale = dynamic_ ? dynamic_int8_scale(row) : site.static_scale;
    quantize_int8(row, scale, q);
    int8_matmul(q, scale, site.weight, y.subspan(static_cast<std::size_t>(r * n)));
  }
}

}  // namespace dfsim::functional
