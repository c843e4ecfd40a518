#include "sim/config/hw_config.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

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

std::map<Dtype, double> parse_rates(ConfigReader reader) {
  std::map<Dtype, double> rates;
  for (Dtype dtype :
       {Dtype::kFp32, Dtype::kFp16, Dtype::kBf16, Dtype::kFp8, Dtype::kInt8, Dtype::kInt4}) {
    std::string key(dtype_name(dtype));
    if (reader.has(key)) rates[dtype] = reader.quantity(key, Dimension::kFlopRate);
  }
  reader.finish();
  if (rates.empty()) reader.fail("", "needs at least one dtype rate, e.g. bf16: 989 TFLOPS");
  return rates;
}

std::map<Dtype, double> parse_dequant(ConfigReader reader) {
  std::map<Dtype, double> slots;
  for (Dtype dtype : {Dtype::kFp32, Dtype::kFp16, Dtype::kBf16, Dtype::kFp8, Dtype::kInt8,
                      Dtype::kInt4, Dtype::kQ8_0, Dtype::kQ4_0}) {
    std::string key(dtype_name(dtype));
    if (reader.has(key))
      slots[dtype] = reader.quantity(key, Dimension::kCount, Range::kNonNegative);
  }
  reader.finish();
  return slots;
}

// Multi-socket machines need a link; one socket needs none. A single-GPU config may carry the
// link of the system it ships in (an NVLink baseboard, PCIe), which `--tp N` (sockets: N) uses.
int parse_sockets(ConfigReader& root, LinkSpec& link) {
  int sockets = static_cast<int>(root.integer_or("sockets", 1, 1, 4096));
  if (auto reader = root.optional_child("link")) {
    link = parse_link(*reader);
  } else if (sockets > 1) {
    root.fail("link", "a machine with " + std::to_string(sockets) +
                          " sockets needs a link section (bandwidth, latency)");
  }
  if (link.max_sockets > 0 && sockets > link.max_sockets) {
    root.fail("sockets", "exceeds the " + std::to_string(link.max_sockets) +
                             " sockets the system's link joins (link.max_sockets)");
  }
  return sockets;
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
  gpu.tensor_rate = parse_rates(root.child("tensor"));
  gpu.tensor_achievable_fraction =
      root.quantity_or("tensor_achievable_fraction", Dimension::kCount, 1.0, Range::kFraction);
  gpu.vector_rate = root.quantity("vector", Dimension::kFlopRate);
  gpu.inflight_bytes_per_sm = root.quantity("inflight_bytes_per_sm", Dimension::kBytes);
  if (auto dequant = root.optional_child("dequant")) gpu.dequant_slots = parse_dequant(*dequant);
  gpu.l2 = parse_on_chip(root.child("l2"));
  gpu.hbm = parse_dram(root.child("hbm"));
  ConfigReader launch = root.child("launch");
  gpu.launch.kernel_overhead =
      launch.quantity("kernel_overhead", Dimension::kDuration, Range::kNonNegative);
  gpu.launch.graph_overhead =
      launch.quantity("graph_overhead", Dimension::kDuration, Range::kNonNegative);
  gpu.launch.cuda_graphs = launch.boolean("cuda_graphs");
  gpu.launch.grid_barrier =
      launch.quantity("grid_barrier", Dimension::kDuration, Range::kNonNegative);
  launch.finish();
  gpu.sockets = parse_sockets(root, gpu.link);
  gpu.stack = root.choice_or("stack", {"serving", "gpt-fast"}, "serving") == "gpt-fast"
                  ? GpuStack::kGptFast
                  : GpuStack::kServing;
  const std::string int4 =
      root.choice_or("int4_kernel", {"generic", "marlin", "machete"}, "generic");
  gpu.int4_kernel = int4 == "marlin"    ? Int4Kernel::kMarlin
                    : int4 == "machete" ? Int4Kernel::kMachete
                                        : Int4Kernel::kGeneric;
  const std::string attention =
      root.choice_or("decode_attention", {"generic", "xqa", "xqa-sm90"}, "generic");
  gpu.decode_attention = attention == "xqa"        ? DecodeAttentionKernel::kXqa
                         : attention == "xqa-sm90" ? DecodeAttentionKernel::kXqaSm90
                                                   : DecodeAttentionKernel::kGeneric;
  const std::string gemm =
      root.choice_or("gemm_kernel", {"generic", "sm80-multistage", "sm90-tma-ws"}, "generic");
  gpu.gemm_kernel = gemm == "sm80-multistage" ? GemmKernel::kSm80Multistage
                    : gemm == "sm90-tma-ws"   ? GemmKernel::kSm90TmaWarpSpecialized
                                              : GemmKernel::kGeneric;
  if (auto power = root.optional_child("power")) {
    gpu.power = parse_power(*power);
    if (gpu.power.min_clock > gpu.clock) power->fail("min_clock", "is above the clock");
  }
  return gpu;
}

DataflowSpec parse_dataflow(ConfigReader& root) {
  DataflowSpec chip;
  chip.clock = root.quantity("clock", Dimension::kFrequency);
  chip.pcu_count = static_cast<int>(root.integer("pcu_count", 1, 1'000'000));
  chip.pmu_count = static_cast<int>(root.integer("pmu_count", 1, 1'000'000));
  chip.compute_rate = parse_rates(root.child("compute"));
  chip.sram = parse_on_chip(root.child("sram"));
  chip.hbm = parse_dram(root.child("hbm"));
  chip.ddr = parse_dram(root.child("ddr"));
  chip.stage_latency = root.quantity("stage_latency", Dimension::kDuration, Range::kNonNegative);
  ConfigReader call = root.child("kernel_call");
  chip.kernel_call.launch_overhead =
      call.quantity("launch_overhead", Dimension::kDuration, Range::kNonNegative);
  chip.kernel_call.host_sync =
      call.quantity("host_sync", Dimension::kDuration, Range::kNonNegative);
  chip.kernel_call.program_load =
      call.quantity("program_load", Dimension::kDuration, Range::kNonNegative);
  chip.kernel_call.orchestration =
      call.choice_or("orchestration", {"host", "device"}, "host") == "device"
          ? Orchestration::kDevice
          : Orchestration::kHost;
  auto optional_time = [&](std::string_view key) {
    return call.has(key) ? call.quantity(key, Dimension::kDuration, Range::kNonNegative) : 0.0;
  };
  chip.kernel_call.launch_per_socket = optional_time("launch_per_socket");
  chip.kernel_call.poll_per_socket = optional_time("poll_per_socket");
  chip.kernel_call.device_launch = optional_time("device_launch");
  chip.kernel_call.barrier_round = optional_time("barrier_round");
  call.finish();
  chip.sockets = parse_sockets(root, chip.link);
  return chip;
}

AppleSpec parse_apple(ConfigReader& root) {
  AppleSpec soc;
  soc.clock = root.quantity("clock", Dimension::kFrequency);
  soc.gpu_cores = static_cast<int>(root.integer("gpu_cores", 1, 1'000'000));
  soc.dies = static_cast<int>(root.integer_or("dies", 1, 1, 16));
  soc.fp32_rate = root.quantity("fp32", Dimension::kFlopRate);
  soc.fp16_rate = root.quantity("fp16", Dimension::kFlopRate);
  soc.matmul_efficiency = root.quantity("matmul_efficiency", Dimension::kCount, Range::kFraction);
  soc.inflight_bytes_per_core = root.quantity("inflight_bytes_per_core", Dimension::kBytes);
  soc.slc = parse_on_chip(root.child("slc"));
  soc.lpddr = parse_dram(root.child("lpddr"));
  ConfigReader dispatch = root.child("dispatch");
  soc.dispatch.kernel_overhead =
      dispatch.quantity("kernel_overhead", Dimension::kDuration, Range::kNonNegative);
  soc.dispatch.command_buffer_overhead =
      dispatch.quantity("command_buffer_overhead", Dimension::kDuration, Range::kNonNegative);
  dispatch.finish();
  soc.fused_sdpa = root.boolean("fused_sdpa");
  return soc;
}

// The memory each family's DRAM section is called by.
const DramSpec& dram_of(const GpuSpec& spec) {
  return spec.hbm;
}
const DramSpec& dram_of(const DataflowSpec& spec) {
  return spec.hbm;
}
const DramSpec& dram_of(const AppleSpec& spec) {
  return spec.lpddr;
}

}  // namespace

double KernelCallSpec::host_boundary(int sockets, bool first) const {
  const double others = std::max(0, sockets - 1);
  const double launch = launch_overhead + others * launch_per_socket;
  return first ? launch : launch + host_sync + others * poll_per_socket;
}

double KernelCallSpec::device_boundary(int sockets) const {
  const double rounds = sockets > 1 ? std::ceil(std::log2(static_cast<double>(sockets))) : 0.0;
  return rounds * barrier_round + device_launch;
}

double AppleSpec::alu_rate(Dtype dtype) const {
  return dtype == Dtype::kFp16 || dtype == Dtype::kBf16 ? fp16_rate : fp32_rate;
}

HwConfig parse_hw_config(const ConfigNode& node) {
  ConfigReader root(node, "");
  HwConfig hw;
  hw.name = root.string("name");
  hw.description = root.string("description");
  hw.source_path = node.location.file;
  hw.family = root.choice("family", {"gpu", "dataflow", "apple", "cpu"});
  if (hw.family == "gpu") hw.spec = parse_gpu(root);
  if (hw.family == "dataflow") hw.spec = parse_dataflow(root);
  if (hw.family == "apple") hw.spec = parse_apple(root);
  if (hw.family == "cpu") hw.spec = parse_cpu(root);
  root.finish();
  return hw;
}

int HwConfig::sockets() const {
  return std::visit([](const auto& spec) { return spec.sockets; }, spec);
}

const LinkSpec* HwConfig::link() const {
  if (const GpuSpec* g = gpu()) return &g->link;
  if (const DataflowSpec* d = dataflow()) return &d->link;
  if (const CpuSpec* c = cpu()) return &c->upi;
  return nullptr;
}

double HwConfig::peak_dram_bandwidth() const {
  return std::visit(
      [](const auto& spec) {
        if constexpr (std::is_same_v<std::decay_t<decltype(spec)>, CpuSpec>) {
          return spec.ddr.bandwidth() * spec.sockets;
        } else {
          return dram_of(spec).bandwidth * spec.sockets;
        }
      },
      spec);
}

double HwConfig::peak_flops(Dtype dtype) const {
  if (const GpuSpec* g = gpu()) {
    auto it = g->tensor_rate.find(dtype);
    // No tensor-core path for this dtype: the matmuls run on the CUDA cores.
    return (it != g->tensor_rate.end() ? it->second : g->vector_rate) * g->sockets;
  }
  if (const AppleSpec* a = apple()) return a->alu_rate(dtype);
  if (const CpuSpec* c = cpu()) return c->peak_ops(dtype) * c->sockets;
  const DataflowSpec& d = std::get<DataflowSpec>(spec);
  auto it = d.compute_rate.find(dtype);
  if (it == d.compute_rate.end()) it = d.compute_rate.begin();
  return it->second * d.sockets;
}

double HwConfig::clock() const {
  return std::visit([](const auto& spec) { return spec.clock; }, spec);
}

}  // namespace dfsim
