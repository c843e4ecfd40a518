// Numeric formats of weights, activations and the KV cache.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dfsim {

enum class Dtype { kFp32, kFp16, kBf16, kFp8, kInt8, kInt4 };

// Bytes per element as stored in memory (int4: half a byte; scales are accounted separately
// by the quantization scheme once one exists).
double dtype_bytes(Dtype dtype);

// Canonical name: "fp32", "fp16", "bf16", "fp8", "int8", "int4".
std::string_view dtype_name(Dtype dtype);

// Accepts canonical names and common aliases ("f32", "float32", "f16", "float16", "bfloat16").
std::optional<Dtype> parse_dtype(std::string_view text);

// The names parse_dtype accepts, comma-separated, for error messages.
std::string dtype_choices();

}  // namespace dfsim
