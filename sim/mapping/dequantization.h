// Dequantization of stored weights inside a matmul kernel: the one mechanism the GPU and the
// Apple families share. Their matmul units (tensor cores, simdgroup matrices) take weights only
// in the compute dtype, so a weight stored in another format is unpacked, converted and scaled
// by the kernel on the general-purpose ALUs (CUDA cores, Apple GPU ALUs) before the product.
//
// The cost is counted in FMA issue slots (Work::dequant_slots): an instruction that issues at a
// fraction 1/s of the FP32 FMA rate costs s slots. Each family prices a slot at one FMA of its
// ALUs (2 FLOPs of the ALU rate: GpuSpec::dequant_slot_rate, AppleSpec::dequant_slot_rate) and
// overlaps the work with the kernel's loads like any other math of its tiles.
//
// How often a weight is unpacked follows from the kernel's tiling: once for a GEMV (each weight
// is read by one CTA / threadgroup), once per block of `tile_rows` output rows for a tiled GEMM
// (each row block's CTAs unpack their weight stripe again).
#pragma once

#include <cstdint>

namespace dfsim {

struct DequantTiling {
  std::int64_t gemv_rows = 0;  // at most this many activation rows: a GEMV, one pass
  std::int64_t tile_rows = 1;  // rows of one output tile of the GEMM
};

// Passes a kernel makes over its weights with `m` activation rows.
std::int64_t dequantization_passes(std::int64_t m, const DequantTiling& tiling);

// FMA issue slots to dequantize `weight_elements` weights at `slots_per_weight` each, over the
// passes the tiling makes.
double dequantization_slots(std::int64_t m, double weight_elements, double slots_per_weight,
                            const DequantTiling& tiling);

}  // namespace dfsim
