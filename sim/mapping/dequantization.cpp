#include "sim/mapping/dequantization.h"

#include "sim/common/integer_math.h"

namespace dfsim {

std::int64_t dequantization_passes(std::int64_t m, const DequantTiling& tiling) {
  return m <= tiling.gemv_rows ? 1 : ceil_div(m, tiling.tile_rows);
}

double dequantization_slots(std::int64_t m, double weight_elements, double slots_per_weight,
                            const DequantTiling& tiling) {
  return weight_elements * slots_per_weight * static_cast<double>(dequantization_passes(m, tiling));
}

}  // namespace dfsim
