// Numeric formats of weights, activations and the KV cache.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dfsim {

// kQ8_0 and kQ4_0 are llama.cpp's block formats (weights only): blocks of 32 weights sharing
// one fp16 scale, stored together.
enum class Dtype { kFp32, kFp16, kBf16, kFp8, kInt8, kInt4, kQ8_0, kQ4_0 };

// Bytes per element as stored in memory. int8 and int4 count the element alone (their scales
// depend on the group size: WeightLayout); the block formats include their scale (q8_0: 34 B
// per 32 weights, q4_0: 18 B per 32).
double dtype_bytes(Dtype dtype);

// Canonical name: "fp32", "fp16", "bf16", "fp8", "int8", "int4", "q8_0", "q4_0".
std::string_view dtype_name(Dtype dtype);

// Accepts canonical names and common aliases ("f32", "float32", "f16", "float16", "bfloat16").
std::optional<Dtype> parse_dtype(std::string_view text);

// The names parse_dtype accepts, comma-separated, for error messages.
std::string dtype_choices();

// Integer formats whose weights carry scales (int8, int4, q8_0, q4_0).
bool is_integer_format(Dtype dtype);
// llama.cpp's block formats (q8_0, q4_0): fixed blocks of kBlockFormatWeights.
bool is_block_format(Dtype dtype);
inline constexpr std::int64_t kBlockFormatWeights = 32;

// Weights along the reduction (k) dimension sharing one scale when the model does not say:
// int4 128 (the default group size of gpt-fast, GPTQ and AWQ), int8 0 = one scale per output
// channel (gpt-fast's int8 weight-only scheme), the block formats 32, floating formats 0.
std::int64_t default_weight_group_size(Dtype dtype);

// How a model's matmul weights are stored: the element format and the group of weights along k
// that share one scale (0: one per output channel, the whole k). Floating formats carry no
// scales (fp8 uses one per tensor, negligible), so group_size is ignored for them.
struct WeightLayout {
  Dtype dtype = Dtype::kBf16;
  std::int64_t group_size = 0;

  // Scale (and zero-point) bytes per group:
  // - int4: 4 B, a 16-bit scale and a 16-bit zero point per group, as gpt-fast stores them
  //   (quantize.py: scales_and_zeros, bf16 pairs); Intel's ITREX symmetric int4 uses one fp32
  //   scale, the same 4 B. (GPTQ/AWQ checkpoints pack 4-bit zeros with fp16 scales: 2.5 B.)
  // - int8: 2 B, one 16-bit scale per group, symmetric (gpt-fast's per-channel bf16 scales).
  // - q8_0, q4_0: inside dtype_bytes (ggml-common.h: block_q8_0, block_q4_0 hold an fp16 d).
  double scale_bytes_per_group() const;
  // Bytes of a weight matrix of n output channels reduced over k inputs (quantized along k:
  // ceil(k / group) groups per channel), scales included.
  double matrix_bytes(std::int64_t k, std::int64_t n) const;
  // The same per weight: int4 with group g and 4 B of scale per group is 0.5 + 4/g.
  double bytes_per_weight(std::int64_t k) const;
};

}  // namespace dfsim
