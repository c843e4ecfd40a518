#include "sim/common/dtype.h"

#include <array>
#include <utility>

#include "sim/common/integer_math.h"

namespace dfsim {

namespace {
constexpr std::array<std::pair<std::string_view, Dtype>, 14> kNames{{
    {"fp32", Dtype::kFp32},
    {"fp16", Dtype::kFp16},
    {"bf16", Dtype::kBf16},
    {"fp8", Dtype::kFp8},
    {"int8", Dtype::kInt8},
    {"int4", Dtype::kInt4},
    {"q8_0", Dtype::kQ8_0},
    {"q4_0", Dtype::kQ4_0},
    {"f32", Dtype::kFp32},
    {"float32", Dtype::kFp32},
    {"f16", Dtype::kFp16},
    {"float16", Dtype::kFp16},
    {"bfloat16", Dtype::kBf16},
    {"e4m3", Dtype::kFp8},
}};
}  // namespace

double dtype_bytes(Dtype dtype) {
  switch (dtype) {
    case Dtype::kFp32:
      return 4.0;
    case Dtype::kFp16:
    case Dtype::kBf16:
      return 2.0;
    case Dtype::kFp8:
    case Dtype::kInt8:
      return 1.0;
    case Dtype::kInt4:
      return 0.5;
    // ggml-common.h: block_q8_0 = fp16 d + 32 x int8 = 34 B; block_q4_0 = fp16 d + 16 B of
    // nibbles = 18 B; both per 32 weights.
    case Dtype::kQ8_0:
      return 34.0 / 32.0;
    case Dtype::kQ4_0:
      return 18.0 / 32.0;
  }
  return 0.0;
}

std::string_view dtype_name(Dtype dtype) {
  for (const auto& [name, value] : kNames) {
    if (value == dtype) return name;  // the canonical name comes first
  }
  return "?";
}

std::optional<Dtype> parse_dtype(std::string_view text) {
  for (const auto& [name, value] : kNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

std::string dtype_choices() {
  std::string out;
  for (const auto& [name, value] : kNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

bool is_integer_format(Dtype dtype) {
  return dtype == Dtype::kInt8 || dtype == Dtype::kInt4 || is_block_format(dtype);
}

bool is_block_format(Dtype dtype) {
  return dtype == Dtype::kQ8_0 || dtype == Dtype::kQ4_0;
}

std::int64_t default_weight_group_size(Dtype dtype) {
  if (dtype == Dtype::kInt4) return 128;
  if (is_block_format(dtype)) return kBlockFormatWeights;
  return 0;
}

double WeightLayout::scale_bytes_per_group() const {
  if (dtype == Dtype::kInt4) return 4.0;
  if (dtype == Dtype::kInt8) return 2.0;
  return 0.0;
}

double WeightLayout::matrix_bytes(std::int64_t k, std::int64_t n) const {
  const double weights = static_cast<double>(k) * static_cast<double>(n);
  const double scale = scale_bytes_per_group();
  if (scale == 0.0 || k <= 0) return weights * dtype_bytes(dtype);
  const std::int64_t group = group_size > 0 ? group_size : k;
  const std::int64_t groups = ceil_div(k, group);
  return weights * dtype_bytes(dtype) + static_cast<double>(groups) * n * scale;
}

double WeightLayout::bytes_per_weight(std::int64_t k) const {
  return k > 0 ? matrix_bytes(k, 1) / static_cast<double>(k) : dtype_bytes(dtype);
}

}  // namespace dfsim
