#include "sim/mapping/cpu_mapper.h"

#include <algorithm>

#include <fmt/format.h>

#include "sim/common/error.h"
#include "sim/common/integer_math.h"
#include "sim/common/units.h"
#include "sim/mapping/kernel_formation.h"

namespace dfsim {

namespace {

// Elements of an elementwise kernel one thread takes at a time (16 KiB of fp32).
constexpr std::int64_t kElementBlock = 4096;
// Vector instructions to quantize 16 activations to int8 on the fly: absolute value, running
// max, scale multiply, convert and pack (dynamic per-token quantization, as ITREX and
// llama.cpp's q8 activations do before integer dot products).
constexpr double kQuantizeInstructionsPer16 = 5;

void check_fits(const WorkloadGraph& graph, const CpuSpec& cpu) {
  check_resident_fits(graph, {.capacity = cpu.ddr.capacity,
                              .holder = "the hardware has",
                              .memory = " DDR",
                              .per_device = " per socket",
                              .more = "more sockets",
                              .smaller_dtype = "int8"});
}

// A matmul with integer weights (int8, int4, q8_0, q4_0) runs on the integer engines (VNNI /
// AMX-INT8), as CPU runtimes do ("compute type int8" in ITREX, q8 activations in llama.cpp):
// the activations are quantized per token and 4-bit weights are unpacked to int8 lanes in
// registers.
void map_matmul(const WorkloadGraph& graph, const CpuSpec& cpu, Kernel& kernel) {
  const Op& first = graph.op(kernel.ops.front());
  std::int64_t n = 0;
  double weights = 0;
  for (std::size_t id : kernel.ops) {
    if (graph.op(id).kind != first.kind) continue;  // a W8A8 dequantize epilogue
    n += graph.op(id).n;
    weights += graph.op(id).weight_elements;
  }
  if (is_integer_format(first.weight_dtype)) {
    // Weight-only: the runtime quantizes the activations itself (a W8A8 graph has its own
    // quantize op, whose FLOPs the vector units run).
    if (first.compute_dtype != Dtype::kInt8) {
      kernel.vector_instructions +=
          static_cast<double>(first.m) * first.k * kQuantizeInstructionsPer16 / 16.0;
    }
    kernel.compute_dtype = Dtype::kInt8;
    if (first.weight_dtype == Dtype::kInt4 || first.weight_dtype == Dtype::kQ4_0) {
      kernel.vector_instructions += weights * cpu.unpack_int4 / 64.0;
    }
  }
  kernel.matmul_ops_per_cycle = cpu.matmul_ops_per_cycle(kernel.compute_dtype, first.m);
  kernel.tiles = ceil_div(n, kCpuColumnBlock) * ceil_div(first.m, kCpuColumnBlock);
}

}  // namespace

Program map_to_cpu(const WorkloadGraph& graph, const CpuSpec& cpu) {
  check_fits(graph, cpu);
  Program program;
  program.kernels = form_kernels(graph, serving_fusion_key);
  for (Kernel& kernel : program.kernels) {
    const Op& first = graph.op(kernel.ops.front());
    kernel.tiles_per_unit = 1;
    kernel.onchip_bytes = kernel.dram_bytes();  // everything passes through the L3
    kernel.matmul_ops_per_cycle = cpu.matmul_ops_per_cycle(kernel.compute_dtype, first.m);
    switch (first.kind) {
      case OpKind::kAllReduce:
      case OpKind::kAllGather:
        kernel.tiles = 1;
        break;
      case OpKind::kMatMul:
      case OpKind::kRouter:
      case OpKind::kExpertMatMul:
        map_matmul(graph, cpu, kernel);
        break;
      case OpKind::kAttentionScores:
        // One (sequence, head) and block of query rows per task.
        // One scores op per group of equal sequences (several in a serving iteration).
        kernel.tiles = 0;
        for (std::size_t id : kernel.ops) {
          const Op& op = graph.op(id);
          if (op.kind == OpKind::kAttentionScores)
            kernel.tiles += op.groups * ceil_div(op.m, kCpuColumnBlock);
        }
        break;
      default: {
        std::int64_t elements = 0;
        for (std::size_t id : kernel.ops) {
          elements = std::max(elements, graph.op(id).m * graph.op(id).n);
        }
        kernel.tiles = std::max<std::int64_t>(1, ceil_div(elements, kElementBlock));
      }
    }
  }
  return program;
}

}  // namespace dfsim
