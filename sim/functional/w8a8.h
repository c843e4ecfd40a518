// W8A8 arithmetic as int8 kernels do it: activations quantized to int8 (per token or with a
// calibrated per-tensor scale), int8 x int8 products summed in int32, the sum dequantized with
// the activation and weight scales. SmoothQuant's migration moves activation outliers into the
// weights per input channel before either is quantized (Xiao et al. 2022, arXiv:2211.10438).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dfsim::functional {

// Symmetric int8 with an fp32 scale: scale = amax / 127 (amax = max|x| of the row for dynamic
// per-token quantization, the calibrated maximum for static), q = clamp(round(x / scale),
// -128, 127) with ties to even. A zero amax gives scale 0 and q = 0.
float dynamic_int8_scale(std::span<const float> x);
void quantize_int8(std::span<const float> x, float scale, std::span<std::int8_t> q);

// Weights of one projection as the int8 matmul reads them: [n, k] int8, one scale per output
// row (the int8 weight format of sim/functional/quantize.h: bf16 scales).
struct Int8Matrix {
  std::int64_t n = 0, k = 0;
  std::vector<std::int8_t> q;
  std::vector<float> scales;
};
Int8Matrix quantize_int8_matrix(std::span<const float> weight, std::int64_t n, std::int64_t k);

// y[c] = (sum_i qx[i] * qw[c, i], in int32) * x_scale * w.scales[c] for every output c.
void int8_matmul(std::span<const std::int8_t> qx, float x_scale, const Int8Matrix& w,
                 std::span<float> y);

// SmoothQuant's factors: s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), with max|W_j| over every
// output row of the weights that read channel j; 1 where either maximum is 0.
std::vector<float> smoothing_factors(std::span<const float> activation_max,
                                     std::span<const float> weight_max, double alpha);
// Per input channel j of a [n, k] weight: max_c |W[c, j]|.
std::vector<float> column_max(std::span<const float> weight, std::int64_t k);
// X diag(s)^-1 (rows of k) and diag(s) W^T, i.e. W[c, j] * s_j: their product is X W^T.
void divide_columns(std::span<float> x, std::span<const float> s);
void multiply_columns(std::span<float> weight, std::span<const float> s);

}  // namespace dfsim::functional
