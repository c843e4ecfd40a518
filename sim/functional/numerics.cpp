#include "sim/functional/numerics.h"

#include <bit>
#include <cmath>
#include <string>

#include "sim/common/error.h"

namespace dfsim::functional {

float bf16_to_float(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

std::uint16_t float_to_bf16(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if (std::isnan(value)) return static_cast<std::uint16_t>((bits >> 16) | 0x40);  // stay NaN
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<std::uint16_t>(bits >> 16);
}

// GCC's _Float16 converts with IEEE round-to-nearest-even on every x86-64 and AArch64 target.
float fp16_to_float(std::uint16_t bits) {
  return static_cast<float>(std::bit_cast<_Float16>(bits));
}

std::uint16_t float_to_fp16(float value) {
  return std::bit_cast<std::uint16_t>(static_cast<_Float16>(value));
}

bool functional_dtype(Dtype dtype) {
  return dtype == Dtype::kFp32 || dtype == Dtype::kBf16 || dtype == Dtype::kFp16;
}

float round_to(float value, Dtype dtype) {
  switch (dtype) {
    case Dtype::kFp32:
      return value;
    case Dtype::kBf16:
      return bf16_to_float(float_to_bf16(value));
    case Dtype::kFp16:
      return fp16_to_float(float_to_fp16(value));
    default:
      break;
  }
  throw InputError("functional execution stores tensors as fp32, bf16 or fp16, not " +
                   std::string(dtype_name(dtype)));
}

void round_all(std::span<float> values, Dtype dtype) {
  if (dtype == Dtype::kFp32) return;
  for (float& value : values) value = round_to(value, dtype);
}

}  // namespace dfsim::functional
