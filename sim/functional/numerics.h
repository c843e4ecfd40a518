// Rounding of fp32 values to the storage formats a model's dtypes name. Math runs in fp32; a
// tensor stored as bf16 or fp16 keeps only what that format can hold.
#pragma once

#include <cstdint>
#include <span>

#include "sim/common/dtype.h"

namespace dfsim::functional {

float bf16_to_float(std::uint16_t bits);
std::uint16_t float_to_bf16(float value);  // round to nearest even
float fp16_to_float(std::uint16_t bits);
std::uint16_t float_to_fp16(float value);  // round to nearest even

// The value as `dtype` stores it, widened back to fp32 (fp32: unchanged). Throws InputError for
// formats functional execution does not model.
float round_to(float value, Dtype dtype);
void round_all(std::span<float> values, Dtype dtype);

// Whether functional execution can store a tensor in this format.
bool functional_dtype(Dtype dtype);

}  // namespace dfsim::functional
