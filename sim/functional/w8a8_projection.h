// The dense projections of a W8A8 model (sim/functional/w8a8), and the calibration pass that
// fixes static scales: a floating-point run that records, per projection group and input
// channel, the largest |x| seen.
#pragma once

#include <array>
#include <vector>

#include "sim/functional/teacher_forced.h"
#include "sim/functional/w8a8.h"
#include "sim/workload/model_spec.h"

namespace dfsim::functional {

// Per layer and projection group: max |x_j| per input channel over the calibration tokens.
struct ActivationRanges {
  std::vector<std::array<std::vector<float>, kProjectionGroups>> channel_max;
};

class CalibrationProjection : public FloatProjection {
 public:
  explicit CalibrationProjection(std::int64_t layers);
  void apply(int layer, ProjectionGroup group, std::span<const float> x, std::int64_t rows,
             std::span<const float> weight, std::int64_t n, std::int64_t k,
             std::span<float> y) override;
  const ActivationRanges& ranges() const { return ranges_; }

 private:
  ActivationRanges ranges_;
};

// w8a8-dynamic: a scale per token. w8a8-static: one calibrated scale per group input.
// smoothquant: the calibrated ranges and the fp32 weights give s per channel; the input is
// divided by s and the weights multiplied by s before both are quantized, the static scale
// taken over the smoothed ranges.
class W8A8Projection : public Projection {
 public:
  W8A8Projection(const PackedWeights& weights, QuantizationScheme scheme,
                 const ActivationRanges* ranges, double alpha);
  void apply(int layer, ProjectionGroup group, std::span<const float> x, std::int64_t rows,
             std::span<const float> weight, std::int64_t n, std::int64_t k,
             std::span<float> y) override;

 private:
  struct Site {
    Int8Matrix weight;
    std::vector<float> smoothing;  // empty: none
    float static_scale = 0;
  };
  bool dynamic_;
  std::vector<std::array<Site, kProjectionGroups>> sites_;
};

}  // namespace dfsim::functional
