#include "sim/common/dtype.h"

#include <array>
#include <utility>

namespace dfsim {

namespace {
constexpr std::array<std::pair<std::string_view, Dtype>, 12> kNames{{
    {"fp32", Dtype::kFp32},
    {"fp16", Dtype::kFp16},
    {"bf16", Dtype::kBf16},
    {"fp8", Dtype::kFp8},
    {"int8", Dtype::kInt8},
    {"int4", Dtype::kInt4},
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
    case Dtype::kFp32: return 4.0;
    case Dtype::kFp16:
    case Dtype::kBf16: return 2.0;
    case Dtype::kFp8:
    case Dtype::kInt8: return 1.0;
    case Dtype::kInt4: return 0.5;
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

}  // namespace dfsim
