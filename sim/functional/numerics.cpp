#include "sim/functional/numerics.h"

#include <bit>
#include <cmath>
#include <cstring>
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
// Debian's clang 14 (scripts/fuzz.sh) has no _Float16 on x86-64; its storage-only __fp16 converts
// the same way with the F16C instructions (x86-64 CPUs since 2012), and without them would need
// helpers only compiler-rt has. __fp16 cannot be returned, hence memcpy, not bit_cast.
#if defined(__clang__) && __clang_major__ < 15 && defined(__x86_64__)
using Half = __fp16;
#define DFSIM_HALF_TARGET __attribute__((target("f16c")))
#else
using Half = _Float16;
#define DFSIM_HALF_TARGET
#endif

DFSIM_HALF_TARGET float fp16_to_float(std::uint16_t bits) {
  Half half;
  std::memcpy(&half, &bits, sizeof half);
  return static_cast<float>(half);
}

DFSIM_HALF_TARGET std::uint16_t float_to_fp16(float value) {
  const Half half = static_cast<Half>(value);
  std::uint16_t bits;
  std::memcpy(&bits, &half, sizeof bits);
  return bits;
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
