#include "sim/config/cpu_spec.h"

#include <algorithm>
#include <string>

namespace dfsim {

namespace {

double per_cycle(ConfigReader& reader, std::string_view key) {
  return reader.quantity(key, Dimension::kCount);
}

}  // namespace

double CpuSpec::matmul_ops_per_cycle(Dtype dtype, long long rows) const {
  const double occupancy =
      std::min(1.0, static_cast<double>(std::max(rows, 1LL)) / static_cast<double>(amx_rows));
  switch (dtype) {
    case Dtype::kBf16:
    case Dtype::kFp16:
      return std::max(amx_bf16 * occupancy, avx512_bf16);
    case Dtype::kInt8:
    case Dtype::kInt4:
      return std::max(amx_int8 * occupancy, avx512_int8);
    default:
      return avx512_fp32;
  }
}

double CpuSpec::peak_ops(Dtype dtype) const {
  return matmul_ops_per_cycle(dtype, amx_rows) * clock * cores;
}

CpuSpec parse_cpu(ConfigReader& root) {
  CpuSpec cpu;
  cpu.clock = root.quantity("clock", Dimension::kFrequency);
  cpu.physical_cores = static_cast<int>(root.integer("physical_cores", 1, 100'000));
  if (root.has("cores")) {
    const std::int64_t cores = root.integer("cores", 1, 100'000);
    if (cores > cpu.physical_cores) {
      root.fail("cores", "is " + std::to_string(cores) + ", more than the " +
                             std::to_string(cpu.physical_cores) +
                             " physical cores of one socket (physical_cores)");
    }
    cpu.cores = static_cast<int>(cores);
  } else {
    cpu.cores = cpu.physical_cores;
  }
  cpu.sockets = static_cast<int>(root.integer_or("sockets", 1, 1, 8));

  ConfigReader amx = root.child("amx");
  cpu.amx_bf16 = per_cycle(amx, "bf16");
  cpu.amx_int8 = per_cycle(amx, "int8");
  cpu.amx_rows = static_cast<int>(amx.integer("rows", 1, 1024));
  amx.finish();
  ConfigReader avx = root.child("avx512");
  cpu.avx512_fp32 = per_cycle(avx, "fp32");
  cpu.avx512_bf16 = per_cycle(avx, "bf16");
  cpu.avx512_int8 = per_cycle(avx, "int8");
  cpu.vector_instructions = per_cycle(avx, "instructions");
  cpu.unpack_int4 = avx.quantity("unpack_int4", Dimension::kCount, Range::kNonNegative);
  avx.finish();

  cpu.inflight_bytes_per_core = root.quantity("inflight_bytes_per_core", Dimension::kBytes);
  for (auto [key, cache] : {std::pair{"l2", &cpu.l2}, std::pair{"l3", &cpu.l3}}) {
    ConfigReader reader = root.child(key);
    cache->capacity = reader.quantity("capacity", Dimension::kBytes);
    cache->bandwidth = reader.quantity("bandwidth", Dimension::kBandwidth);
    reader.finish();
  }
  ConfigReader ddr = root.child("ddr");
  cpu.ddr.channels = static_cast<int>(ddr.integer("channels", 1, 64));
  cpu.ddr.transfers_per_second = ddr.quantity("mega_transfers_per_second", Dimension::kCount) * 1e6;
  cpu.ddr.capacity = ddr.quantity("capacity", Dimension::kBytes);
  cpu.ddr.achievable_fraction =
      ddr.quantity("achievable_fraction", Dimension::kCount, Range::kFraction);
  cpu.ddr.latency = ddr.quantity("latency", Dimension::kDuration, Range::kNonNegative);
  ddr.finish();
  if (auto upi = root.optional_child("upi")) {
    cpu.upi = parse_link(*upi);
  } else if (cpu.sockets > 1) {
    root.fail("upi", "a machine with " + std::to_string(cpu.sockets) +
                         " sockets needs a upi section (bandwidth, latency)");
  }
  ConfigReader region = root.child("parallel_region");
  cpu.fork_join = region.quantity("fork_join", Dimension::kDuration, Range::kNonNegative);
  cpu.barrier = region.quantity("barrier", Dimension::kDuration, Range::kNonNegative);
  region.finish();
  return cpu;
}

}  // namespace dfsim
