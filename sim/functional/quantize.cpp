#include "sim/functional/quantize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "sim/functional/numerics.h"

namespace dfsim::functional {

float quantize_int8_group(std::span<const float> x, std::span<std::int8_t> q) {
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::abs(v));
  const float scale = round_to(amax / 127.0f, Dtype::kBf16);
  for (std::size_t i = 0; i < x.size(); ++i) {
    q[i] =
        scale == 0
            ? std::int8_t{0}
            : static_cast<std::int8_t>(std::clamp(std::nearbyint(x[i] / scale), -128.0f, 127.0f));
  }
  return scale;
}

namespace {

void quantize_group(std::span<float> x, Dtype dtype) {
  switch (dtype) {
    case Dtype::kInt8: {
      std::vector<std::int8_t> q(x.size());
      const float scale = quantize_int8_group(x, q);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(q[i]) * scale;
      return;
    }
    case Dtype::kInt4: {
      const auto [low, high] = std::minmax_element(x.begin(), x.end());
      const float min = *low;
      const float scale = std::max(*high - min, 1e-6f) / 15.0f;
      const float zero = min + 8 * scale;
      const float stored_scale = round_to(scale, Dtype::kBf16);
      const float stored_zero = round_to(zero, Dtype::kBf16);
      for (float& v : x) {
        const float q = std::clamp(std::nearbyint((v - min) / scale), 0.0f, 15.0f);
        v = (q - 8) * stored_scale + stored_zero;
      }
      return;
    }
    case Dtype::kQ8_0: {
      float amax = 0;
      for (float v : x) amax = std::max(amax, std::abs(v));
      const float d = amax / 127.0f;
      const float inverse = d != 0 ? 1.0f / d : 0.0f;
      const float stored = fp16_to_float(float_to_fp16(d));
      for (float& v : x) v = std::round(v * inverse) * stored;
      return;
    }
    case Dtype::kQ4_0: {
      float amax = 0, max = 0;
      for (float v : x) {
        if (std::abs(v) > amax) {
          amax = std::abs(v);
          max = v;
        }
      }
      const float d = max / -8.0f;
      const float inverse = d != 0 ? 1.0f / d : 0.0f;
      const float stored = fp16_to_float(float_to_fp16(d));
      for (float& v : x) {
        const auto q = std::min<int>(15, static_cast<std::int8_t>(v * inverse + 8.5f));
        v = static_cast<float>(q - 8) * stored;
      }
      return;
    }
    default:
      round_all(x, dtype);
      return;
  }
}

}  // namespace

void quantize_rows(std::span<float> matrix, std::int64_t k, const WeightLayout& layout) {
  if (!is_integer_format(layout.dtype)) {
    round_all(matrix, layout.dtype);
    return;
  }
  const std::int64_t group = is_block_format(layout.dtype) ? kBlockFormatWeights
                             : layout.group_size > 0       ? layout.group_size
                                                           : k;
  const std::size_t rows = matrix.size() / static_cast<std::size_t>(k);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::int64_t start = 0; start < k; start += group) {
      const std::int64_t length = std::min(group, k - start);
      quantize_group(matrix.subspan(r * k + start, static_cast<std::size_t>(length)), layout.dtype);
    }
  }
}

}  // namespace dfsim::functional
