// Quantized weights as a kernel sees them: each row of a weight matrix quantized along its
// reduction dimension the way the format stores it, then dequantized back to fp32. Functional
// execution multiplies with exactly these values.
#pragma once

#include <cstdint>
#include <span>

#include "sim/common/dtype.h"

namespace dfsim::functional {

// `matrix` holds rows of `k` weights; each row is split into groups of layout.group_size
// (0: the whole row; q8_0 and q4_0: blocks of 32) and replaced in place by its dequantized
// values:
// - int8: symmetric, scale = max|x| / 127 stored as bf16 (gpt-fast's int8 weight-only scheme),
//   q = clamp(round(x / scale), -128, 127), x' = q * scale.
// - int4: asymmetric with a bf16 scale and zero point (gpt-fast's group-wise int4):
//   scale = (max - min) / 15, zero = min + 8 scale, q = clamp(round((x - min) / scale), 0, 15),
//   x' = (q - 8) scale + zero.
// - q8_0 (llama.cpp quantize_row_q8_0_ref): d = max|x| / 127 as fp16, q = round(x / d),
//   x' = q d.
// - q4_0 (quantize_row_q4_0_ref): m the value of largest magnitude, d = m / -8 as fp16,
//   q = min(15, trunc(x / d + 8.5)), x' = (q - 8) d.
// Floating formats round each value (fp32, bf16, fp16). Throws InputError for fp8.
void quantize_rows(std::span<float> matrix, std::int64_t k, const WeightLayout& layout);

// The int8 scheme above on one group, keeping the integers: writes q and returns the stored
// (bf16) scale, so that int8 x int8 matmuls (W8A8) multiply exactly the stored weights.
float quantize_int8_group(std::span<const float> x, std::span<std::int8_t> q);

}  // namespace dfsim::functional
