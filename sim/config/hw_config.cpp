#include "sim/config/hw_config.h"

#include <stdexcept>

#include "sim/config/config_reader.h"

namespace dfsim {

namespace {

DramSpec parse_dram(ConfigReader reader) {
  DramSpec dram;
  dram.capacity = reader.quantity("capacity", Dimension::kBytes);
  dram.bandwidth = reader.quantity("bandwidth", Dimension::kBandwidth);
  dram.achievable_fraction =
      reader.quantity("achievable_fraction", Dimension::kCount, Range::kFraction);
  dram.latency = reader.quantity("latency", Dimension::kDuration, Range::kNonNegative);
  reader.finish();
  return dram;
}

OnChipMemorySpec parse_on_chip(ConfigReader reader) {
  OnChipMemorySpec memory;
  memory.capacity = reader.quantity("capacity", Dimension::kBytes);
  memory.bandwidth = reader.quantity("bandwidth", Dimension::kBandwidth);
  reader.finish();
  return memory;
}

GpuSpec parse_gpu(ConfigReader& root) {
  GpuSpec gpu;
  gpu.clock = root.quantity("clock", Dimension::kFrequency);
  gpu.sm_count = static_cast<int>(root.integer("sm_count", 1, 1'000'000));
  ConfigReader tensor = root.child("tensor");
  for (Dtype dtype : {Dtype::kFp32, Dtype::kFp16, Dtype::kBf16, Dtype::kFp8, Dtype::kInt8,
                      Dtype::kInt4}) {
    std::string key(dtype_name(dtype));
    if (tensor.has(key)) gpu.tensor_rate[dtype] = tensor.quantity(key, Dimension::kFlopRate);
  }
  tensor.finish();
  if (gpu.tensor_rate.empty()) tensor.fail("", "needs at least one dtype rate, e.g. bf16: 989 TFLOPS");
  gpu.vector_rate = root.quantity("vector", Dimension::kFlopRate);
  gpu.inflight_bytes_per_sm = root.quantity("inflight_bytes_per_sm", Dimension::kBytes);
  gpu.l2 = parse_on_chip(root.child("l2"));
  gpu.hbm = parse_dram(root.child("hbm"));
  ConfigReader launch = root.child("launch");
  gpu.launch.kernel_overhead =
      launch.quantity("kernel_overhead", Dimension::kDuration, Range::kNonNegative);
  gpu.launch.graph_overhead =
      launch.quantity("graph_overhead", Dimension::kDuration, Range::kNonNegative);
  gpu.launch.cuda_graphs = launch.boolean("cuda_graphs");
  launch.finish();
  return gpu;
}

}  // namespace

HwConfig parse_hw_config(const ConfigNode& node) {
  ConfigReader root(node, "");
  HwConfig hw;
  hw.name = root.string("name");
  hw.description = root.string("description");
  hw.source_path = node.location.file;
  hw.family = root.choice("family", {"gpu"});
  if (hw.family == "gpu") hw.spec = parse_gpu(root);
  root.finish();
  return hw;
}

double HwConfig::peak_dram_bandwidth() const {
  return std::visit([](const auto& spec) { return spec.hbm.bandwidth; }, spec);
}

double HwConfig::peak_flops(Dtype dtype) const {
  if (const GpuSpec* g = gpu()) {
    auto it = g->tensor_rate.find(dtype);
    if (it != g->tensor_rate.end()) return it->second;
    // No tensor-core path for this dtype: the matmuls run on the CUDA cores.
    return g->vector_rate;
  }
  return 0;
}

double HwConfig::clock() const {
  return std::visit([](const auto& spec) { return spec.clock; }, spec);
}

}  // namespace dfsim
