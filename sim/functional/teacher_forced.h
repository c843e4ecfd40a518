// A teacher-forced forward pass for accuracy measurements: every position of a token sequence
// at once (causal attention, logits at every position), with the op math of sim/functional/ops
// and the dense projections behind an interface, so that a quantized kernel (W8A8) can stand in
// for the floating-point matmul while everything else stays identical. No program, no machine:
// accuracy does not depend on how a machine tiles the work (the functional executor checks
// that separately).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sim/functional/model_weights.h"
#include "sim/workload/model_spec.h"

namespace dfsim::functional {

// The projections of a layer that read the same input (and are quantized with one scale).
enum class ProjectionGroup { kQkv, kO, kGateUp, kDown };
constexpr int kProjectionGroups = 4;

// The weights of each group concatenated by output rows (q, k, v; gate, up): [n, k].
struct PackedWeights {
  struct Layer {
    std::vector<float> weight[kProjectionGroups];
    std::int64_t n[kProjectionGroups] = {}, k[kProjectionGroups] = {};
  };
  std::vector<Layer> layers;
};
PackedWeights pack_weights(const ModelSpec& model, const ModelWeights& weights);

class Projection {
 public:
  virtual ~Projection() = default;
  // y[rows, n] = x[rows, k] W^T for `group` of `layer` (biases are added by the caller).
  virtual void apply(int layer, ProjectionGroup group, std::span<const float> x, std::int64_t rows,
                     std::span<const float> weight, std::int64_t n, std::int64_t k,
                     std::span<float> y) = 0;
};

// The fp32 (or activation-dtype) matmul of sim/functional/ops.
class FloatProjection : public Projection {
 public:
  explicit FloatProjection(Dtype dtype) : dtype_(dtype) {}
  void apply(int layer, ProjectionGroup group, std::span<const float> x, std::int64_t rows,
             std::span<const float> weight, std::int64_t n, std::int64_t k,
             std::span<float> y) override;

 private:
  Dtype dtype_;
};

// Logits [tokens.size(), vocab]: row t predicts the token after tokens[t], having seen
// tokens[0..t]. `model` gives shapes, norms, rope and the activation dtype.
std::vector<float> teacher_forced_logits(const ModelSpec& model, const ModelWeights& weights,
                                         const PackedWeights& packed,
                                         std::span<const std::int32_t> tokens,
                                         Projection& projection);

}  // namespace dfsim::functional
