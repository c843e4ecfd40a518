#include "sim/mapping/program.h"

namespace dfsim {

Work& Work::operator+=(const Work& other) {
  flops += other.flops;
  matmul_flops += other.matmul_flops;
  dram_read_bytes += other.dram_read_bytes;
  dram_write_bytes += other.dram_write_bytes;
  ddr_read_bytes += other.ddr_read_bytes;
  onchip_bytes += other.onchip_bytes;
  collective_bytes += other.collective_bytes;
  dequant_slots += other.dequant_slots;
  if (other.collective != Collective::kNone) collective = other.collective;
  return *this;
}

std::int64_t Program::calls() const {
  std::int64_t count = 0;
  for (const Kernel& kernel : kernels) count += kernel.continues_loop ? 0 : 1;
  return count;
}

}  // namespace dfsim
